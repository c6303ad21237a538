"""Retention rules, the purge, keeping a case longer, channel settings and deadline reminders,
against a real database (SQLite or PostgreSQL). Times are injected."""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest
from sqlalchemy import select, update

from mailslot.audit.models import AuditEvent
from mailslot.audit.services import verify
from mailslot.cases import retention
from mailslot.cases.errors import KeyOffline
from mailslot.cases.models import (
    Case,
    CaseAssignee,
    CaseKeyWrap,
    CustomStatus,
    Item,
    ItemKeyWrap,
)
from mailslot.channels import services as channels
from mailslot.channels import settings
from mailslot.channels.models import AutoReply, Channel
from mailslot.db.base import coarse
from mailslot.errors import Conflict, InvalidInput
from mailslot.notifications import reminders
from mailslot.notifications.models import PendingNotice
from mailslot.recipients.models import User
from mailslot.runtime import Runtime
from mailslot.sources.models import Source
from tests.unit.test_services import NOW, add_user, count, log_in, new_case

DAY = retention.DAY
HOUR = 3600


def make_case(runtime: Runtime, **values: object) -> str:
    case_id = new_case(runtime)
    if values:
        runtime.default.transact(
            lambda db: db.execute(update(Case).where(Case.id == case_id).values(**values))
        )
    return case_id


def load(runtime: Runtime, case_id: str) -> tuple[Case, Channel]:
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        channel = db.get(Channel, case.channel_id)
        assert channel is not None
        db.expunge_all()
        return case, channel


def audit_actions(runtime: Runtime, case_id: str) -> list[tuple[str, dict[str, object]]]:
    with runtime.default.db() as db:
        rows = db.execute(
            select(AuditEvent.action, AuditEvent.detail, AuditEvent.actor)
            .where(AuditEvent.case_id == case_id)
            .order_by(AuditEvent.seq)
        ).all()
    return [(action, json.loads(detail)) for action, detail, _ in rows]


# The rules.


def test_open_cases_expire_after_their_last_activity(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    case_id = make_case(runtime, last_activity_at=coarse(NOW))
    case, channel = load(runtime, case_id)
    assert (channel.retention_days, channel.closed_retention_days) == (90, 30)
    assert retention.expiry(case, channel) == retention.Expiry(
        coarse(NOW) + 90 * DAY, retention.Rule.ACTIVITY, 90
    )


def test_closed_cases_expire_after_closing_and_a_later_keep_wins(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    closed_at = coarse(NOW) + 10 * DAY
    case_id = make_case(runtime, status="closed", closed_at=closed_at)
    case, channel = load(runtime, case_id)
    assert retention.expires_at(case, channel) == closed_at + 30 * DAY
    assert retention.expiry(case, channel).rule == retention.Rule.CLOSED
    # An earlier keep_until changes nothing; a later one wins.
    case.keep_until = closed_at + 5 * DAY
    assert retention.expires_at(case, channel) == closed_at + 30 * DAY
    case.keep_until = closed_at + 400 * DAY
    assert retention.expiry(case, channel) == retention.Expiry(
        closed_at + 400 * DAY, retention.Rule.KEPT, 30
    )


def test_due_for_purge_agrees_with_expires_at(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    base = coarse(NOW)
    open_old = make_case(runtime, last_activity_at=base - 91 * DAY)
    open_young = make_case(runtime, last_activity_at=base - 89 * DAY)
    closed_old = make_case(
        runtime, status="closed", closed_at=base - 31 * DAY, last_activity_at=base
    )
    closed_young = make_case(
        runtime, status="closed", closed_at=base - 29 * DAY, last_activity_at=base - 200 * DAY
    )
    kept = make_case(runtime, last_activity_at=base - 200 * DAY, keep_until=base + DAY)
    keep_over = make_case(runtime, last_activity_at=base - 200 * DAY, keep_until=base - DAY)
    due = set(runtime.default.transact(lambda db: retention.due_for_purge(db, base)))
    assert due == {open_old, closed_old, keep_over}
    for case_id in (open_old, open_young, closed_old, closed_young, kept, keep_over):
        case, channel = load(runtime, case_id)
        assert (retention.expires_at(case, channel) <= base) == (case_id in due)


# The purge.


def test_purge_shreds_the_case_and_its_codename_and_records_it(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    seed = log_in(runtime, alice)
    with runtime.default.db() as db:
        source = Source(lookup=b"L" * 32, public_key=b"P" * 32, created_at=0)
        db.add(source)
        db.flush()
        source_id = source.id
    case_id = new_case(runtime, source_id=source_id)
    keep = make_case(runtime)
    runtime.default.transact(
        lambda db: db.execute(
            update(Case).where(Case.id == case_id).values(last_activity_at=NOW - 100 * DAY)
        )
    )
    with runtime.default.db() as db:
        blob_ids = list(db.scalars(select(Item.blob_id).where(Item.case_id == case_id)))
        item_ids = list(db.scalars(select(Item.id).where(Item.case_id == case_id)))
    assert blob_ids
    assert all(runtime.default.blobs.exists(b) for b in blob_ids)

    assert retention.purge(runtime.default, NOW) == [case_id]
    assert count(runtime, Case, Case.id == case_id) == 0
    assert count(runtime, CaseKeyWrap, CaseKeyWrap.case_id == case_id) == 0
    assert count(runtime, Item, Item.case_id == case_id) == 0
    assert count(runtime, ItemKeyWrap, ItemKeyWrap.item_id.in_(item_ids)) == 0
    assert count(runtime, Source, Source.id == source_id) == 0
    assert not any(runtime.default.blobs.exists(b) for b in blob_ids)
    assert count(runtime, Case, Case.id == keep) == 1
    assert seed  # the recipient's key is still here, and has nothing left to open
    assert audit_actions(runtime, case_id) == [("case.purged", {})]
    assert runtime.default.transact(verify).events >= 1
    # Again: nothing more to do.
    assert retention.purge(runtime.default, NOW) == []
    assert len(audit_actions(runtime, case_id)) == 1


def test_a_case_purged_elsewhere_or_kept_meanwhile_is_left_alone(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    case_id = make_case(runtime, last_activity_at=NOW - 100 * DAY)
    # Another process purged it first: purge_one finds nothing and records nothing.
    runtime.default.transact(lambda db: retention.purge_one(db, case_id, NOW))
    assert runtime.default.transact(lambda db: retention.purge_one(db, case_id, NOW)) is None
    assert len(audit_actions(runtime, case_id)) == 1
    # A case kept between the listing and the deletion survives.
    kept = make_case(runtime, last_activity_at=NOW - 100 * DAY)
    runtime.default.transact(
        lambda db: db.execute(update(Case).where(Case.id == kept).values(keep_until=NOW + DAY))
    )
    assert runtime.default.transact(lambda db: retention.purge_one(db, kept, NOW)) is None
    assert count(runtime, Case, Case.id == kept) == 1


# Keeping a case longer.


def iso(moment: int) -> str:
    return datetime.datetime.fromtimestamp(moment, tz=datetime.UTC).date().isoformat()


def keep(runtime: Runtime, case_id: str, user_id: str, until: str, reason: str) -> int:
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        channel = db.get(Channel, case.channel_id)
        assert channel is not None
        return retention.keep_until(
            db,
            runtime.default.blobs,
            case,
            channel,
            until=until,
            reason=reason,
            user_id=user_id,
            username="alice",
            now=NOW,
        )


def test_keep_until_moves_the_expiry_with_a_sealed_reason(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    case_id = make_case(runtime)
    until = iso(NOW + 400 * DAY)
    expires = keep(runtime, case_id, alice.id, until, "Litigation hold")
    case, channel = load(runtime, case_id)
    assert case.keep_until == expires
    assert iso(expires - 1) == until  # the end of that day
    assert retention.expiry(case, channel).rule == retention.Rule.KEPT
    with runtime.default.db() as db:
        (note,) = db.scalars(select(Item).where(Item.case_id == case_id, Item.kind == "note"))
        holders = set(db.scalars(select(ItemKeyWrap.holder).where(ItemKeyWrap.item_id == note.id)))
    assert holders == {"case"}  # never the source
    assert audit_actions(runtime, case_id)[-1] == ("case.retention.extend", {"until": until})
    blob = b"".join(runtime.default.blobs.open(note.blob_id, 1 << 16))
    assert b"Litigation" not in blob  # sealed


@pytest.mark.parametrize(
    ("days", "reason", "message"),
    [
        (0, "why", "Choose a date after tomorrow."),
        (5 * 366 + 2, "why", "Choose a date at most %(num)s day ahead."),
        (30, "why", "Choose a date after the case's current deletion date."),
        (400, "  ", "Give a reason for keeping the case longer."),
    ],
)
def test_keep_until_refuses_bad_dates_and_empty_reasons(
    runtime: Runtime, days: int, reason: str, message: str
) -> None:
    alice = add_user(runtime, "alice")
    case_id = make_case(runtime, last_activity_at=coarse(NOW))
    with pytest.raises(InvalidInput) as caught:
        keep(runtime, case_id, alice.id, iso(NOW + days * DAY), reason)
    assert caught.value.message == message
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        retention.parse_until("next week", NOW)
    assert count(runtime, Item, Item.case_id == case_id, Item.kind == "note") == 0


@pytest.mark.parametrize("until", ["9999-12-31", "9999-12-30", "3000-01-01"])
def test_keep_until_refuses_far_dates_without_overflowing(until: str) -> None:
    """The day after 9999-12-31 does not exist: it is refused like any date too far ahead,
    not an OverflowError (a 500)."""
    with pytest.raises(InvalidInput) as caught:
        retention.parse_until(until, NOW)
    assert (caught.value.message, caught.value.plural) == retention.TOO_FAR_AHEAD
    assert caught.value.params == {"num": retention.MAX_KEEP_DAYS}
    # The limit itself has not moved.
    furthest = iso(NOW + retention.MAX_KEEP_DAYS * DAY)
    assert retention.parse_until(furthest, NOW) > NOW + (retention.MAX_KEEP_DAYS - 1) * DAY
    with pytest.raises(InvalidInput, match=r"at most %\(num\)s day ahead"):
        retention.parse_until(iso(NOW + (retention.MAX_KEEP_DAYS + 2) * DAY), NOW)


# Channel settings.


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("acknowledge_days", (1, 365), (0, 366)),
        ("feedback_days", (1, 730), (0, 731)),
        ("retention_days", (1, 3650), (0, 3651)),
        ("closed_retention_days", (0, 3650), (-1, 3651)),
    ],
)
def test_day_settings_have_ranges(field: str, good: tuple[int, int], bad: tuple[int, int]) -> None:
    for value in good:
        assert settings.parse_days({field: str(value)}) == {field: value}
    for value in (*bad, "seven", "1.5"):
        with pytest.raises(InvalidInput) as caught:
            settings.parse_days({field: str(value)})
        assert caught.value.params == {"low": good[0], "high": good[1]}
    assert settings.parse_days({field: ""}) == {}


def test_new_day_settings_leave_existing_deadlines(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    before = make_case(runtime)
    with runtime.default.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        changed = settings.set_days(channel, {"acknowledge_days": 3, "feedback_days": 90})
    assert changed == {"acknowledge_days": 3}
    after = make_case(runtime)
    old, _ = load(runtime, before)
    new, _ = load(runtime, after)
    assert old.acknowledge_by == coarse(NOW) + 7 * DAY
    assert new.acknowledge_by == coarse(NOW) + 3 * DAY


def test_auto_replies_per_language_with_fallback(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        assert settings.auto_reply_for(db, channel.id, "ko") is None
        changed = settings.set_auto_replies(
            db, channel, {"en": "  Thank you.\x00\r\n ", "ko": "감사합니다."}
        )
        assert changed == ["en", "ko"]
        assert settings.auto_reply_for(db, channel.id, "ko") == "감사합니다."
        assert settings.set_auto_replies(db, channel, {"en": "Thank you.", "ko": ""}) == ["ko"]
        assert settings.auto_reply_for(db, channel.id, "ko") == "Thank you."  # the default's
        assert settings.auto_replies(db, channel.id) == {"en": "Thank you."}
        with pytest.raises(InvalidInput):
            settings.set_auto_replies(db, channel, {"en": "x" * 5001})
        with pytest.raises(InvalidInput):
            settings.set_auto_replies(db, channel, {"xx": "hello"})
        settings.set_auto_replies(db, channel, {"en": ""})
        assert settings.auto_reply_for(db, channel.id, "en") is None
        assert db.scalar(select(AutoReply.text)) is None


def test_custom_statuses_add_rename_move_remove(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    case_id = make_case(runtime)
    with runtime.default.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        legal = settings.add_status(db, channel, phase="in_progress", name=" Legal  review ")
        assert legal.name == "Legal review"
        hr = settings.add_status(db, channel, phase="in_progress", name="HR")
        triage = settings.add_status(db, channel, phase="new", name="Triage")
        with pytest.raises(Conflict):
            settings.add_status(db, channel, phase="closed", name="HR")
        with pytest.raises(InvalidInput):
            settings.add_status(db, channel, phase="archived", name="Old")
        with pytest.raises(InvalidInput):
            settings.add_status(db, channel, phase="new", name="   ")
        assert [s.name for s in settings.statuses(db, channel.id)] == [
            "Triage",
            "Legal review",
            "HR",
        ]
        assert settings.move_status(db, hr, -1)
        assert not settings.move_status(db, hr, -1)  # already first in its phase
        assert [s.name for s in settings.statuses(db, channel.id)] == [
            "Triage",
            "HR",
            "Legal review",
        ]
        assert settings.rename_status(db, legal, "Legal") == "Legal review"
        with pytest.raises(Conflict):
            settings.rename_status(db, legal, "HR")
        db.execute(update(Case).where(Case.id == case_id).values(custom_status_id=legal.id))
        assert settings.remove_status(db, legal) == 1
        assert triage.id in {s.id for s in settings.statuses(db, channel.id)}
    case, _ = load(runtime, case_id)
    assert case.custom_status_id is None
    assert count(runtime, CustomStatus) == 2


# Reminders.


def test_each_deadline_is_reminded_once_to_assignees_or_everyone(runtime: Runtime) -> None:
    add_user(runtime, "ana")
    bo = add_user(runtime, "bo")
    runtime.default.transact(lambda db: db.execute(update(User).values(email="r@x.example")))
    case_id = make_case(runtime)  # due to acknowledge in 7 days
    lead = 2 * DAY
    due = runtime.default.transact(lambda db: reminders.due_reminders(db, now=NOW, lead=lead))
    assert due == []
    later = NOW + 6 * DAY  # within two days of the deadline
    assert reminders.queue_due(runtime.default.transact, now=later, lead=lead, interval=0) == 1
    assert count(runtime, PendingNotice) == 2  # nobody assigned: everyone with the key
    assert reminders.queue_due(runtime.default.transact, now=later + 60, lead=lead, interval=0) == 0
    case, _ = load(runtime, case_id)
    assert case.reminded_for == case.due_at
    # A new deadline (acknowledged: feedback due) is reminded again, to the assignee only.
    runtime.default.transact(lambda db: db.execute(PendingNotice.__table__.delete()))
    runtime.default.transact(lambda db: db.add(CaseAssignee(case_id=case_id, user_id=bo.id)))
    runtime.default.transact(
        lambda db: db.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(due_at=later + 30 * HOUR, acknowledged_at=later)
        )
    )
    assert reminders.queue_due(runtime.default.transact, now=later, lead=lead, interval=0) == 1
    with runtime.default.db() as db:
        assert list(db.scalars(select(PendingNotice.user_id))) == [bo.id]
    # The claim is exactly once: a second claimer for the same deadline gets nothing.
    assert not runtime.default.transact(lambda db: reminders.claim(db, case_id, later + 30 * HOUR))


def test_a_refused_extension_leaves_no_blob(runtime: Runtime) -> None:
    """A reason that is too long is refused before anything is sealed."""
    alice = add_user(runtime, "alice")
    case_id = make_case(runtime)
    root = runtime.config.data_dir / "blobs"
    before = {p for p in root.rglob("*") if p.is_file()}
    with pytest.raises(InvalidInput):
        keep(runtime, case_id, alice.id, iso(NOW + 400 * DAY), "x" * 2001)
    assert {p for p in root.rglob("*") if p.is_file()} == before


def test_keep_case_needs_the_key_and_leaves_no_blob_when_it_fails(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The use case shared by the staff page and the API: the recipient's key must be online
    (the reason is sealed), and a unit of work that fails after sealing deletes the blob."""
    alice = add_user(runtime, "alice")
    seed = log_in(runtime, alice)
    case_id = make_case(runtime)
    ctx = dataclasses.replace(runtime.default, clock=lambda: NOW)
    with ctx.db() as db:
        me = db.get(User, alice.id)
    assert me is not None
    root = runtime.config.data_dir / "blobs"
    before = {p for p in root.rglob("*") if p.is_file()}
    until = iso(NOW + 400 * DAY)
    with pytest.raises(KeyOffline):
        retention.keep_case(ctx, me, None, case_id, until=until, reason="Litigation hold")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the audit trail is unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(retention.audit, "record", broken)
        with pytest.raises(RuntimeError):
            retention.keep_case(ctx, me, seed, case_id, until=until, reason="Litigation hold")
    assert {p for p in root.rglob("*") if p.is_file()} == before
    assert count(runtime, Item, Item.case_id == case_id, Item.kind == "note") == 0
    # The positive control: working, it keeps the case and its sealed reason.
    expires = retention.keep_case(ctx, me, seed, case_id, until=until, reason="Litigation hold")
    assert iso(expires - 1) == until
    assert len({p for p in root.rglob("*") if p.is_file()} - before) == 1
    assert audit_actions(runtime, case_id)[-1] == ("case.retention.extend", {"until": until})
