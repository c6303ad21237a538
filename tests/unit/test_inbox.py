"""The inbox query (cases.inbox) against a real database filled by ``mailslot demo-data``:
filters and sorts agree with a plain Python reading of every case, access is limited to the
cases the user holds a key for, and a page costs the same number of statements whatever its
size (no N+1)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, event, select

from mailslot import crypto
from mailslot.cases import inbox
from mailslot.cases import services as cases
from mailslot.cases.models import (
    Case,
    CaseAssignee,
    CaseKeyWrap,
    CaseLabel,
    CaseRead,
    CaseStatus,
    Label,
)
from mailslot.cases.work import add_note
from mailslot.channels import services as channels
from mailslot.cli.main import main
from mailslot.errors import InvalidInput
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role, User
from mailslot.runtime import Runtime

PASSWORD = "correct horse battery staple"
DAY = 86400


def add_user(runtime: Runtime, username: str, channel_names: tuple[str, ...]) -> str:
    with runtime.default.db() as db:
        account = recipients.create_user(
            db,
            username=username,
            role=Role.RECIPIENT,
            password=PASSWORD,
            kdf=crypto.TEST_KDF,
            now=runtime.default.now(),
            channel_names=channel_names,
        )
        return account.user.id


def demo_data(runtime: Runtime, count: int, channel: str) -> None:
    config = runtime.config
    args = ["--data-dir", str(config.data_dir)]
    if config.database_url:
        args += ["--database-url", config.database_url]
    args += ["demo-data", "--cases", str(count), "--channel", channel, "--seed", "7"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.fixture
def world(runtime: Runtime) -> dict[str, Any]:
    """Channel "default" (ann, bob) with 40 demo cases; channel "other" (bob only) with 12."""
    with runtime.default.db() as db:
        channels.create_channel(
            db, name="other", description="", recipients=[], now=runtime.default.now()
        )
    ann = add_user(runtime, "ann", ("default",))
    bob = add_user(runtime, "bob", ("default", "other"))
    demo_data(runtime, 40, "default")
    demo_data(runtime, 12, "other")
    return {"ann": ann, "bob": bob}


@contextmanager
def counting(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(*args: Any) -> None:
        statements.append(args[2])

    event.listen(runtime.default.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(runtime.default.engine, "before_cursor_execute", before)


def everything(runtime: Runtime, user_id: str) -> list[dict[str, Any]]:
    """Every case the user holds a key for, read plainly (the oracle for the query)."""
    with runtime.default.db() as db:
        held = set(db.scalars(select(CaseKeyWrap.case_id).where(CaseKeyWrap.user_id == user_id)))
        labels: dict[str, set[str]] = {}
        for case_id, label_id in db.execute(select(CaseLabel.case_id, CaseLabel.label_id)):
            labels.setdefault(case_id, set()).add(label_id)
        assignees: dict[str, set[str]] = {}
        for case_id, assignee in db.execute(select(CaseAssignee.case_id, CaseAssignee.user_id)):
            assignees.setdefault(case_id, set()).add(assignee)
        reads = dict(
            db.execute(
                select(CaseRead.case_id, CaseRead.activity_seq).where(CaseRead.user_id == user_id)
            ).all()
        )
        return [
            {
                "case": case,
                "labels": labels.get(case.id, set()),
                "assignees": assignees.get(case.id, set()),
                "unread": reads.get(case.id, -1) < case.activity_seq,
            }
            for case in db.scalars(select(Case))
            if case.id in held
        ]


def run(runtime: Runtime, user_id: str, query: inbox.InboxQuery, now: int) -> inbox.InboxPage:
    with runtime.default.db() as db:
        return inbox.inbox(db, db.get_one(User, user_id), query, now)


def test_filters_and_sorts_agree_with_a_plain_reading(
    runtime: Runtime, world: dict[str, Any]
) -> None:
    now = runtime.default.now()
    ann = world["ann"]
    rows = everything(runtime, ann)
    assert len(rows) == 40
    with runtime.default.db() as db:
        label = db.scalars(select(Label).order_by(Label.name)).first()
        assert label is not None
        label_id = label.id
        default_channel = channels.get_channel_by_name(db, "default").id
    filters: list[tuple[dict[str, Any], Any]] = [
        ({}, lambda r: True),
        ({"status": CaseStatus.CLOSED}, lambda r: r["case"].status == "closed"),
        ({"status": CaseStatus.NEW}, lambda r: r["case"].status == "new"),
        ({"label_id": label_id}, lambda r: label_id in r["labels"]),
        ({"assignee": ann}, lambda r: ann in r["assignees"]),
        ({"assignee": inbox.UNASSIGNED}, lambda r: not r["assignees"]),
        ({"channel_id": default_channel}, lambda r: r["case"].channel_id == default_channel),
        ({"overdue": True}, lambda r: r["case"].due_at is not None and r["case"].due_at < now),
        (
            {"due_soon": True},
            lambda r: r["case"].due_at is not None and now <= r["case"].due_at < now + 3 * DAY,
        ),
        ({"important": True}, lambda r: r["case"].important),
        ({"unread": True}, lambda r: r["unread"]),
        (
            {"created_from": now - 200 * DAY, "created_to": now - 20 * DAY},
            lambda r: now - 200 * DAY <= r["case"].created_at < now - 20 * DAY,
        ),
        (
            {"activity_from": now - 300 * DAY},
            lambda r: r["case"].last_activity_at >= now - 300 * DAY,
        ),
    ]
    for changes, keep in filters:
        expected = [r["case"] for r in rows if keep(r)]
        query = inbox.InboxQuery(limit=200, **changes)
        page = run(runtime, ann, query, now)
        by_activity = sorted(expected, key=lambda c: -c.activity_seq)
        assert [r.case.id for r in page.rows] == [c.id for c in by_activity], changes
        assert page.total == len(expected)
        assert not page.total_capped
    # Sorts, over everything.
    expected_cases = [r["case"] for r in rows]
    sorts = {
        (inbox.Sort.CREATED, False): sorted(
            expected_cases, key=lambda c: (c.created_at, c.id), reverse=True
        ),
        (inbox.Sort.CREATED, True): sorted(expected_cases, key=lambda c: (c.created_at, c.id)),
        (inbox.Sort.ACTIVITY, True): sorted(expected_cases, key=lambda c: c.activity_seq),
        (inbox.Sort.DEADLINE, False): sorted(
            (c for c in expected_cases if c.due_at is not None), key=lambda c: (c.due_at, c.id)
        )
        + sorted((c for c in expected_cases if c.due_at is None), key=lambda c: -c.activity_seq),
    }
    for (sort, ascending), ordered in sorts.items():
        query = inbox.InboxQuery(sort=sort, ascending=ascending, limit=200)
        assert [r.case.id for r in run(runtime, ann, query, now).rows] == [c.id for c in ordered]
        # Pages of 7 put together give the same order, without gaps or repeats.
        paged = []
        for offset in range(0, 42, 7):
            query = inbox.InboxQuery(sort=sort, ascending=ascending, limit=7, offset=offset)
            paged += [r.case.id for r in run(runtime, ann, query, now).rows]
        assert paged == [c.id for c in ordered], sort
    # The dashboard counts.
    page = run(runtime, ann, inbox.InboxQuery(), now)
    due = [r["case"].due_at for r in rows if r["case"].due_at is not None]
    assert page.overdue_count == sum(1 for d in due if d < now)
    assert page.due_soon_count == sum(1 for d in due if now <= d < now + 3 * DAY)


def test_no_filter_ever_shows_a_case_without_a_key(runtime: Runtime, world: dict[str, Any]) -> None:
    now = runtime.default.now()
    mine = {r["case"].id for r in everything(runtime, world["ann"])}
    with runtime.default.db() as db:
        other = channels.get_channel_by_name(db, "other").id
        labels = list(db.scalars(select(Label.id)))
    queries = [
        inbox.InboxQuery(limit=200),
        inbox.InboxQuery(limit=200, channel_id=other),
        inbox.InboxQuery(limit=200, assignee=world["bob"]),
        inbox.InboxQuery(limit=200, assignee=inbox.UNASSIGNED),
        inbox.InboxQuery(limit=200, overdue=True),
        inbox.InboxQuery(limit=200, unread=True),
        inbox.InboxQuery(limit=200, sort=inbox.Sort.DEADLINE),
        inbox.InboxQuery(limit=200, q="a"),
        *(inbox.InboxQuery(limit=200, label_id=label) for label in labels),
        *(inbox.InboxQuery(limit=200, status=status) for status in CaseStatus),
    ]
    for query in queries:
        page = run(runtime, world["ann"], query, now)
        assert {r.case.id for r in page.rows} <= mine, query
    assert run(runtime, world["ann"], inbox.InboxQuery(channel_id=other), now).total == 0
    # Bob holds both channels; his counts include "other".
    assert run(runtime, world["bob"], inbox.InboxQuery(), now).total == 52


def test_search_by_pseudonym_part_and_id_prefix(runtime: Runtime, world: dict[str, Any]) -> None:
    now = runtime.default.now()
    case = everything(runtime, world["ann"])[0]["case"]
    word = case.pseudonym.split()[-1]
    found = run(runtime, world["ann"], inbox.InboxQuery(q=word.upper()[1:], limit=200), now)
    assert case.id in {r.case.id for r in found.rows}
    assert all(word.upper()[1:].lower() in r.case.pseudonym.lower() for r in found.rows)
    by_id = run(runtime, world["ann"], inbox.InboxQuery(q=case.id[:10]), now)
    assert [r.case.id for r in by_id.rows] == [case.id]
    # LIKE wildcards are searched for literally.
    assert run(runtime, world["ann"], inbox.InboxQuery(q="%"), now).total == 0


def test_a_page_costs_the_same_statements_whatever_its_size(
    runtime: Runtime, world: dict[str, Any]
) -> None:
    now = runtime.default.now()
    ann = world["ann"]
    with runtime.default.db() as db:
        labels = list(db.scalars(select(Label.id)))[:2]
        # Every case gets two labels (or more) and two assignees: every row has some to load.
        for case_id in db.scalars(select(Case.id)):
            for label_id in labels:
                if db.get(CaseLabel, (case_id, label_id)) is None:
                    db.add(CaseLabel(case_id=case_id, label_id=label_id))
            for user_id in (ann, world["bob"]):
                if db.get(CaseAssignee, (case_id, user_id)) is None:
                    db.add(CaseAssignee(case_id=case_id, user_id=user_id))
    for sort in inbox.Sort:
        counts = []
        for limit in (3, 40):
            query = inbox.InboxQuery(limit=limit, sort=sort)
            with counting(runtime) as statements:
                page = run(runtime, ann, query, now)
            assert len(page.rows) == limit or sort is inbox.Sort.DEADLINE
            assert all(len(r.labels) >= 2 and len(r.assignees) == 2 for r in page.rows)
            counts.append(len(statements))
        if sort is inbox.Sort.DEADLINE:
            # Cases without a deadline come from a second ordered scan once those with one
            # run out: at most one more statement, never one per row.
            assert counts[1] - counts[0] in (0, 1), counts
        else:
            assert counts[0] == counts[1], (sort, counts)


def test_a_case_page_costs_the_same_statements_whatever_its_items(
    runtime: Runtime, world: dict[str, Any]
) -> None:
    """What the case page and GET /cases/{id} run: the case and key, its items opened, its
    inbox row (labels, assignees, status), and the read mark."""
    now = runtime.default.now()
    with runtime.default.db() as db:
        user = recipients.find_user(db, "ann")
        assert user is not None
        keys = recipients.derive_for(user, PASSWORD, crypto.TEST_KDF)
        seed = recipients.unlock(user, keys.kek).private_seed
    assert seed is not None
    ids = [r["case"].id for r in everything(runtime, world["ann"])][:2]
    with runtime.default.db() as db:
        many = db.get_one(Case, ids[1])
        for number in range(20):
            add_note(
                db, runtime.default.blobs, many, f"note {number}", author_id=world["ann"], now=now
            )
        # Both unread, so marking them read writes the same way.
        db.execute(delete(CaseRead).where(CaseRead.case_id.in_(ids)))
    counts = {}
    texts = {}
    for case_id in ids:
        with counting(runtime) as statements, runtime.default.db() as db:
            user = db.get_one(User, world["ann"])
            case, wrap = cases.case_for_user(db, user, case_id)
            items = cases.case_items(
                db, runtime.default.blobs, case, cases.case_keys(db, case, wrap, seed)
            )
            inbox.case_row(db, user, case, now)
            cases.mark_read(db, case, user)
        counts[case_id] = len(statements)
        texts[case_id] = [i.text for i in items if i.item.kind != "file"]
    assert len(texts[ids[0]]) < 10
    assert len(texts[ids[1]]) > 20
    assert all(texts[ids[1]]), "every message, reply and note opens"
    assert counts[ids[0]] == counts[ids[1]], counts


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"status": "bogus"}, "status"),
        ({"label": "nothex"}, "label_id"),
        ({"channel": "A" * 32}, "channel_id"),
        ({"assignee": "someone"}, "assignee"),
        ({"overdue": "maybe"}, "overdue"),
        ({"created_from": "2026-13-01"}, "created_from"),
        ({"activity_to": "yesterday"}, "activity_to"),
        ({"sort": "size"}, "sort"),
        ({"order": "sideways"}, "order"),
    ],
)
def test_bad_filters_are_refused_by_name(params: dict[str, str], name: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        inbox.parse_query(params, me="0" * 32, limit=25, offset=0)
    assert raised.value.params["name"] == name


def test_query_limits() -> None:
    with pytest.raises(InvalidInput):
        inbox.InboxQuery(limit=0)
    with pytest.raises(InvalidInput):
        inbox.InboxQuery(q="x" * 101)
    query = inbox.parse_query(
        {"assignee": "me", "created_to": "2026-01-31", "status": "custom:" + "a" * 32},
        me="b" * 32,
        limit=25,
        offset=0,
    )
    assert query.assignee == "b" * 32
    assert query.custom_status_id == "a" * 32
    # "to" includes the whole day.
    assert query.created_to == 1_769_817_600 + DAY
    assert dataclasses.replace(query, q="x").q == "x"
