"""The audit trail's hash chain against a real database (SQLite or PostgreSQL): appends,
every way of tampering that verification must catch, anchors, filters, the export, and
many writers at once."""

from __future__ import annotations

import hashlib  # noqa: TID251 - an independent implementation of docs/spec/audit.md's hash
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from mailslot.audit import services as audit
from mailslot.audit import trail
from mailslot.audit.models import AuditEvent, AuditHead
from mailslot.errors import Forbidden
from mailslot.recipients.models import Role, User
from mailslot.runtime import Runtime

NOW = 1_800_000_017  # not on a minute boundary: stored times are cut to the minute

# The known-answer vector of docs/spec/audit.md.
VECTOR_RECORD = (
    b'[1,1800000000,"0f0e0d0c0b0a09080706050403020100","ana","case.view",'
    b'"00112233445566778899aabbccddeeff","{\\"via\\":\\"api\\"}"]'
)
VECTOR_HASH = "d111a44cd1c625fcde4827a40f66e0f1aea67c38ef57b2921f7645234f65b1f3"


def spec_hash(previous: bytes, record: bytes) -> bytes:
    """The hash as docs/spec/audit.md writes it, without Mailslot's crypto module."""
    return hashlib.sha256(b"mailslot/v1/audit\x00" + previous + record).digest()


def add(runtime: Runtime, action: str = "case.view", **kw: Any) -> int:
    with runtime.default.db() as db:
        return audit.record(
            db,
            action,
            now=kw.pop("now", NOW),
            actor_id=kw.pop("actor_id", "u1"),
            actor=kw.pop("actor", "ana"),
            case_id=kw.pop("case_id", "c1"),
            **kw,
        )


def fill(runtime: Runtime, count: int = 5) -> None:
    for n in range(count):
        add(runtime, "case.download", case_id=f"c{n % 2}", item_id=f"i{n}")


def tamper(runtime: Runtime, change: Callable[[Session], None]) -> audit.ChainBroken:
    with runtime.default.db() as db:
        change(db)
    with runtime.default.db() as db, pytest.raises(audit.ChainBroken) as caught:
        audit.verify(db)
    return caught.value


def test_canonical_record_and_hash_match_the_spec_vector() -> None:
    record = audit.canonical(
        seq=1,
        at=1_800_000_000,
        actor_id="0f0e0d0c0b0a09080706050403020100",
        actor="ana",
        action="case.view",
        case_id="00112233445566778899aabbccddeeff",
        detail=audit.canonical_detail({"via": "api"}),
    )
    assert record == VECTOR_RECORD
    assert audit.link(audit.GENESIS, record) == spec_hash(bytes(32), record)
    assert audit.link(audit.GENESIS, record).hex() == VECTOR_HASH


def test_appends_form_a_chain_that_verifies(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        assert audit.verify(db).events == 0  # an empty log verifies
        assert audit.head(db) == (0, audit.GENESIS)
    first = add(runtime, "auth.login", case_id=None, via="password")
    second = add(runtime, "case.view", detail_order_b=2, a=1)
    assert (first, second) == (1, 2)
    with runtime.default.db() as db:
        rows = list(db.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        result = audit.verify(db)
        head = audit.head(db)
    assert [r.at for r in rows] == [NOW - NOW % 60] * 2
    assert rows[1].detail == '{"a":1,"detail_order_b":2}'  # sorted keys, no spaces
    previous = bytes(32)
    for row in rows:
        record = audit.canonical(
            seq=row.seq,
            at=row.at,
            actor_id=row.actor_id,
            actor=row.actor,
            action=row.action,
            case_id=row.case_id,
            detail=row.detail,
        )
        assert bytes(row.hash) == spec_hash(previous, record)
        previous = bytes(row.hash)
    assert result.events == 2
    assert head == (2, previous) == (result.head_seq, result.head_hash)
    assert result.anchor == f"2:{previous.hex()}"


def test_an_append_rolled_back_with_its_action_leaves_no_trace(runtime: Runtime) -> None:
    fill(runtime, 2)

    def failing(db: Session) -> None:
        audit.record(db, "case.delete", now=NOW, actor="ana", case_id="c9")
        raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        runtime.default.transact(failing)
    assert add(runtime) == 3
    with runtime.default.db() as db:
        assert audit.verify(db).events == 3


def test_a_changed_detail_is_caught(runtime: Runtime) -> None:
    fill(runtime)
    broken = tamper(
        runtime,
        lambda db: db.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(detail='{"item_id":"other"}')
        ),
    )
    assert broken.seq == 3
    assert "changed" in broken.reason


@pytest.mark.parametrize(
    "values",
    [{"at": NOW + 3600}, {"actor": "someone else"}, {"case_id": "c7"}, {"action": "case.reply"}],
    ids=["at", "actor", "case", "action"],
)
def test_any_changed_field_is_caught(runtime: Runtime, values: dict[str, Any]) -> None:
    fill(runtime)
    broken = tamper(
        runtime,
        lambda db: db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(**values)),
    )
    assert broken.seq == 2


def test_a_deleted_middle_event_is_caught(runtime: Runtime) -> None:
    fill(runtime)
    broken = tamper(runtime, lambda db: db.execute(delete(AuditEvent).where(AuditEvent.seq == 3)))
    assert (broken.seq, broken.reason) == (3, "the event is missing")


def test_deleted_newest_events_are_caught_by_the_head(runtime: Runtime) -> None:
    fill(runtime)
    broken = tamper(runtime, lambda db: db.execute(delete(AuditEvent).where(AuditEvent.seq >= 4)))
    assert broken.seq == 4
    assert "newest events were removed" in broken.reason


def test_a_rewound_head_is_caught(runtime: Runtime) -> None:
    """Deleting the newest events and moving the head back needs the old hash: with an
    anchor from before, the truncation shows."""
    fill(runtime)
    with runtime.default.db() as db:
        anchor = audit.head(db)
        third = bytes(db.get_one(AuditEvent, 3).hash)

    def truncate(db: Session) -> None:
        db.execute(delete(AuditEvent).where(AuditEvent.seq > 3))
        db.execute(update(AuditHead).values(seq=3, hash=third))

    with runtime.default.db() as db:
        truncate(db)
    with runtime.default.db() as db:
        assert audit.verify(db).events == 3  # consistent without an anchor...
        with pytest.raises(audit.ChainBroken) as caught:
            audit.verify(db, anchor=anchor)  # ...but the anchored event is gone
    assert (caught.value.seq, caught.value.reason) == (5, "the anchored event is missing")


def test_swapped_events_are_caught(runtime: Runtime) -> None:
    fill(runtime)

    def swap(db: Session) -> None:
        two, four = db.get_one(AuditEvent, 2), db.get_one(AuditEvent, 4)
        fields = ("at", "actor_id", "actor", "action", "case_id", "detail", "hash")
        a = {f: getattr(two, f) for f in fields}
        b = {f: getattr(four, f) for f in fields}
        db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(**b))
        db.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(**a))

    assert tamper(runtime, swap).seq == 2


def test_a_forged_event_inserted_in_the_middle_is_caught(runtime: Runtime) -> None:
    """The forger renumbers the later events and links the forged one correctly to its
    predecessor, but does not rewrite the later hashes: the next event fails."""
    fill(runtime)

    def forge(db: Session) -> None:
        for seq in (5, 4, 3):
            db.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(seq=seq + 1))
        previous = bytes(db.get_one(AuditEvent, 2).hash)
        fields = {
            "seq": 3,
            "at": NOW - NOW % 60,
            "actor_id": "u2",
            "actor": "bob",
            "action": "case.view",
            "case_id": "c1",
            "detail": "{}",
        }
        forged = audit.link(previous, audit.canonical(**fields))  # type: ignore[arg-type]
        db.execute(insert(AuditEvent).values({**fields, "hash": forged}))
        db.execute(update(AuditHead).values(seq=6))

    broken = tamper(runtime, forge)
    assert broken.seq == 4


def test_a_forged_event_after_the_head_is_caught(runtime: Runtime) -> None:
    fill(runtime, 3)
    with runtime.default.db() as db:
        previous = audit.head(db)[1]
    fields = {
        "seq": 4,
        "at": NOW,
        "actor_id": None,
        "actor": "",
        "action": "x.y",
        "case_id": None,
        "detail": "{}",
    }
    forged = audit.link(previous, audit.canonical(**fields))  # type: ignore[arg-type]
    broken = tamper(
        runtime, lambda db: db.execute(insert(AuditEvent).values({**fields, "hash": forged}))
    )
    assert (broken.seq, broken.reason) == (4, "events were added after the head")


def test_a_chain_rebuilt_from_scratch_fails_only_against_an_anchor(runtime: Runtime) -> None:
    fill(runtime, 4)
    with runtime.default.db() as db:
        anchor = audit.head(db)
        first_anchor = (2, bytes(db.get_one(AuditEvent, 2).hash))

    def rebuild(db: Session) -> None:
        db.execute(delete(AuditEvent))
        db.execute(delete(AuditHead))
        for n in range(4):
            audit.record(db, "case.view", now=NOW, actor="nobody", case_id=f"c{n}")

    with runtime.default.db() as db:
        rebuild(db)
    with runtime.default.db() as db:
        assert audit.verify(db).events == 4
        for kept in (anchor, first_anchor):
            with pytest.raises(audit.ChainBroken) as caught:
                audit.verify(db, anchor=kept)
            assert (caught.value.seq, caught.value.reason) == (
                kept[0],
                "the chain differs from the anchor",
            )
        assert audit.verify(db, anchor=audit.head(db)).events == 4


def test_anchors_parse_strictly() -> None:
    digest = bytes(range(32))
    assert audit.parse_anchor(f"12:{digest.hex()}") == (12, digest)
    assert audit.parse_anchor(f" 12:{digest.hex().upper()}\n") == (12, digest)
    for bad in ("", "12", f"0:{digest.hex()}", f"x:{digest.hex()}", "12:abcd", "12:zz" * 16):
        with pytest.raises(ValueError, match="anchor"):
            audit.parse_anchor(bad)


def test_search_filters_and_pages(runtime: Runtime) -> None:
    add(runtime, "auth.login", actor="ana", case_id=None, now=NOW)
    add(runtime, "case.view", actor="ana", case_id="c1", now=NOW + 86400)
    add(runtime, "case.reply", actor="bob", case_id="c1", now=NOW + 2 * 86400, item_id="i")
    add(runtime, "case.view", actor="bob", case_id="c2", now=NOW + 3 * 86400)
    add(runtime, "casework.note", actor="bob", case_id="c2", now=NOW + 3 * 86400)

    def seqs(filters: audit.Filters, limit: int = 50, offset: int = 0) -> tuple[list[int], int]:
        with runtime.default.db() as db:
            rows, total = audit.search(db, filters, limit=limit, offset=offset)
            return [r.seq for r in rows], total

    assert seqs(audit.Filters()) == ([5, 4, 3, 2, 1], 5)  # newest first
    assert seqs(audit.Filters(), limit=2, offset=2) == ([3, 2], 5)
    assert seqs(audit.Filters(actor="bob")) == ([5, 4, 3], 3)
    assert seqs(audit.Filters(action="case.view")) == ([4, 2], 2)
    assert seqs(audit.Filters(action="case")) == ([4, 3, 2], 3)  # an area, not a prefix
    assert seqs(audit.Filters(case_id="c1")) == ([3, 2], 2)
    assert seqs(audit.Filters(since_seq=3)) == ([5, 4], 2)
    day = NOW - NOW % 86400
    assert seqs(audit.Filters(start=day + 86400, end=day + 3 * 86400)) == ([3, 2], 2)
    assert seqs(audit.Filters(actor="bob", action="case.view", case_id="c2")) == ([4], 1)
    with runtime.default.db() as db:
        assert audit.action_names(db) == ["auth.login", "case.reply", "case.view", "casework.note"]


def test_the_export_carries_links_that_reverify(runtime: Runtime) -> None:
    fill(runtime, 7)
    with runtime.default.db() as db:
        lines = [json.dumps(e) for e in audit.exported(db, batch=3)]
        filtered = list(audit.exported(db, audit.Filters(case_id="c1"), batch=2))
        head = audit.head(db)
    previous = bytes(32)
    for n, line in enumerate(lines, start=1):
        event = json.loads(line)
        assert event["seq"] == n
        assert event["time"].endswith(":00Z")
        assert bytes.fromhex(event["prev"]) == previous
        record = audit.canonical(
            seq=event["seq"],
            at=event["at"],
            actor_id=event["actor_id"],
            actor=event["actor"],
            action=event["action"],
            case_id=event["case_id"],
            detail=audit.canonical_detail(event["detail"]),
        )
        assert spec_hash(previous, record).hex() == event["hash"]
        previous = bytes.fromhex(event["hash"])
    assert (len(lines), previous) == (head[0], head[1])
    # A filtered export still names each event's predecessor, so each line checks alone.
    assert [e["seq"] for e in filtered] == [2, 4, 6]
    by_seq = {json.loads(line)["seq"]: json.loads(line) for line in lines}
    for event in filtered:
        assert event["prev"] == by_seq[event["seq"] - 1]["hash"]


def test_concurrent_appends_from_many_threads_keep_one_chain(runtime: Runtime) -> None:
    threads, each = 8, 25
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(n: int) -> None:
        try:
            start.wait()
            for k in range(each):
                with runtime.default.db() as db:
                    audit.record(db, "case.view", now=NOW, actor=f"w{n}", case_id=f"c{k}")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with runtime.default.db() as db:
        result = audit.verify(db)
        seqs = list(db.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        counted = select(AuditEvent.actor, func.count()).group_by(AuditEvent.actor)
        per_writer = dict(db.execute(counted).all())
    assert result.events == threads * each
    assert seqs == list(range(1, threads * each + 1))
    assert per_writer == {f"w{n}": each for n in range(threads)}


def test_browsing_is_for_admins_and_carries_the_links(runtime: Runtime) -> None:
    """The use case the admin page and the API share: a page of events with the hash before
    each (to check the chain), and the action names when asked."""
    fill(runtime, 5)
    admin = User(id="a" * 32, username="root", role=Role.ADMIN.value)
    ctx = runtime.default
    page = trail.browse(ctx, admin, audit.Filters(case_id="c1"), limit=1, offset=0)
    assert ([e.seq for e in page.events], page.total, page.actions) == ([4], 2, [])
    with ctx.db() as db:
        before = db.get(AuditEvent, 3)
        assert before is not None
        assert page.previous == {4: before.hash}
    first = trail.browse(ctx, admin, audit.Filters(), limit=5, offset=4, with_actions=True)
    assert first.previous == {1: bytes(32)}
    assert first.actions == ["case.download"]
    for role in (Role.RECIPIENT, Role.ANALYST):
        someone = User(id="b" * 32, username="someone", role=role.value)
        with pytest.raises(Forbidden):
            trail.browse(ctx, someone, audit.Filters(), limit=5, offset=0)
