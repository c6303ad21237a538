"""Case work services against a real database: status and deadlines, labels, assignees, the
important flag, notes, and granting and revoking access. Times are injected."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from mailslot import crypto
from mailslot.audit.models import AuditEvent
from mailslot.cases import access, actions, deadlines, inbox, reading, sealing, work
from mailslot.cases import services as cases
from mailslot.cases.errors import CaseNotFound
from mailslot.cases.models import (
    Case,
    CaseAccess,
    CaseAssignee,
    CaseKeyWrap,
    CasePastKeyWrap,
    CaseRead,
    CustomStatus,
    Item,
    ItemKeyWrap,
    ItemKind,
    Label,
)
from mailslot.cases.panel import case_panel
from mailslot.channels import services as channels
from mailslot.errors import Conflict, Forbidden, InvalidInput, NotFound
from mailslot.recipients.models import Role, User
from mailslot.runtime import Runtime
from tests.unit.test_services import NOW, Person, add_user, count, log_in, new_case

HOUR = 3600
DAY = deadlines.DAY


def user(db: object, user_id: str) -> User:
    found = db.get(User, user_id)  # type: ignore[attr-defined]
    assert found is not None
    return found  # type: ignore[no-any-return]


def events(runtime: Runtime, case_id: str) -> list[tuple[str, dict[str, object]]]:
    with runtime.default.db() as db:
        rows = db.execute(
            select(AuditEvent.action, AuditEvent.detail)
            .where(AuditEvent.case_id == case_id)
            .order_by(AuditEvent.seq)
        ).all()
    return [(action, json.loads(detail)) for action, detail in rows]


def test_status_moves_the_deadlines_and_closing_needs_a_reason(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    seed = log_in(runtime, alice)
    case_id = new_case(runtime)
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        assert case.status == "new"
        assert case.due_at == case.acknowledge_by == NOW - NOW % HOUR + 7 * DAY
        assert case.feedback_by is None
        later = NOW + 2 * DAY
        assert work.set_status(
            db, runtime.default.blobs, case, user(db, alice.id), status="acknowledged", now=later
        )
        assert case.acknowledged_at == later - later % HOUR
        assert case.feedback_by == case.acknowledged_at + 90 * DAY
        assert case.due_at == case.feedback_by
        # The same status again changes nothing and records nothing.
        assert not work.set_status(
            db, runtime.default.blobs, case, user(db, alice.id), status="acknowledged", now=later
        )
        assert work.set_status(
            db, runtime.default.blobs, case, user(db, alice.id), status="in_progress", now=later
        )
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        for reason in ("", "   \n "):
            with pytest.raises(InvalidInput):
                work.set_status(
                    db,
                    runtime.default.blobs,
                    case,
                    user(db, alice.id),
                    status="closed",
                    reason=reason,
                    now=later,
                )
        with pytest.raises(InvalidInput):
            work.set_status(
                db, runtime.default.blobs, case, user(db, alice.id), status="bogus", now=later
            )
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        assert (case.status, case.closed_at, case.item_count) == ("in_progress", None, 2)
        closing = NOW + 5 * DAY
        work.set_status(
            db,
            runtime.default.blobs,
            case,
            user(db, alice.id),
            status="closed",
            reason="Referred to the regulator",
            now=closing,
        )
        assert case.closed_at == closing - closing % HOUR
        assert case.feedback_at == case.closed_at  # closing counts as feedback
        assert case.due_at is None
        wrap = db.get(CaseKeyWrap, (case.id, alice.id))
        assert wrap is not None
        views = cases.case_items(
            db, runtime.default.blobs, case, cases.case_keys(db, case, wrap, seed)
        )
        assert (views[-1].item.kind, views[-1].text) == (
            "note",
            "Closed: Referred to the regulator",
        )
        assert views[-1].author == "alice"
        # Reopening clears closed_at; the feedback given stays given.
        work.set_status(
            db,
            runtime.default.blobs,
            case,
            user(db, alice.id),
            status="in_progress",
            now=closing + DAY,
        )
        assert case.closed_at is None
        assert case.due_at is None
    trail = events(runtime, case_id)
    assert [detail["status"] for action, detail in trail if action == "case.status"] == [
        "acknowledged",
        "in_progress",
        "closed",
        "in_progress",
    ]
    assert "regulator" not in repr(trail)


def test_a_reply_after_acknowledgement_gives_feedback(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    case_id = new_case(runtime)
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        work.set_status(
            db, runtime.default.blobs, case, user(db, alice.id), status="acknowledged", now=NOW
        )
        channel = channels.get_channel_by_name(db, "default")
        assert deadlines.give_feedback(case, channel, NOW + DAY)
        assert case.feedback_at is not None
        assert case.due_at is None


def test_custom_statuses_set_their_phase(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    case_id = new_case(runtime)
    with runtime.default.db() as db:
        default = channels.get_channel_by_name(db, "default")
        other = channels.create_channel(db, name="other", description="", recipients=[], now=NOW)
        review = CustomStatus(
            channel_id=default.id, phase="in_progress", name="Legal review", position=1
        )
        triage = CustomStatus(
            channel_id=default.id, phase="acknowledged", name="Triage", position=0
        )
        foreign = CustomStatus(channel_id=other.id, phase="closed", name="Elsewhere", position=0)
        db.add_all([review, triage, foreign])
        db.flush()
        assert [s.name for s in work.custom_statuses(db, default.id)] == ["Triage", "Legal review"]
        case = db.get(Case, case_id)
        assert case is not None
        me = user(db, alice.id)
        work.set_status(
            db, runtime.default.blobs, case, me, status=None, custom_status_id=review.id, now=NOW
        )
        assert (case.status, case.custom_status_id) == ("in_progress", review.id)
        assert case.acknowledged_at is not None
        with pytest.raises(InvalidInput):
            work.set_status(
                db,
                runtime.default.blobs,
                case,
                me,
                status=None,
                custom_status_id=foreign.id,
                now=NOW,
            )
        with pytest.raises(InvalidInput):
            work.set_status(
                db,
                runtime.default.blobs,
                case,
                me,
                status="closed",
                custom_status_id=triage.id,
                now=NOW,
            )
        work.set_status(db, runtime.default.blobs, case, me, status="in_progress", now=NOW)
        assert (case.status, case.custom_status_id) == ("in_progress", None)
        assert case_panel(db, case, me).current_custom is None


def test_labels_are_created_on_first_use_and_cleaned(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    first, second = new_case(runtime), new_case(runtime)
    with runtime.default.db() as db:
        me = user(db, alice.id)
        one, two = db.get(Case, first), db.get(Case, second)
        assert one is not None
        assert two is not None
        label = work.add_label(db, one, me, "  Follow\x00 up\t again ", now=NOW)
        assert label.name == "Follow up again"
        assert work.add_label(db, two, me, "Follow up again", now=NOW).id == label.id
        assert work.add_label(db, one, me, "Follow up again", now=NOW).id == label.id  # no-op
        for bad in ("", " \x01 ", "x" * 65):
            with pytest.raises(InvalidInput):
                work.add_label(db, one, me, bad, now=NOW)
        assert [x.name for x in work.case_labels(db, one)] == ["Follow up again"]
        work.remove_label(db, one, me, label.id, now=NOW)
        with pytest.raises(NotFound):
            work.remove_label(db, one, me, label.id, now=NOW)
        assert work.case_labels(db, one) == []
        assert [x.name for x in work.case_labels(db, two)] == ["Follow up again"]
    assert count(runtime, Label) == 1
    actions = [action for action, _ in events(runtime, first)]
    assert actions == ["case.label.add", "case.label.remove"]


def test_only_key_holders_can_be_assigned(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    bob = add_user(runtime, "bob")
    carol = add_user(runtime, "carol", channel_names=())
    case_id = new_case(runtime)
    with runtime.default.db() as db:
        me = user(db, alice.id)
        case = db.get(Case, case_id)
        assert case is not None
        work.assign(db, case, me, bob.id, now=NOW)
        work.assign(db, case, me, alice.id, now=NOW)
        work.assign(db, case, me, bob.id, now=NOW)  # already: no second row
        with pytest.raises(InvalidInput):
            work.assign(db, case, me, carol.id, now=NOW)
        with pytest.raises(InvalidInput):
            work.assign(db, case, me, "0" * 32, now=NOW)
        assert [u.username for u in work.assignees(db, case)] == ["alice", "bob"]
        work.unassign(db, case, me, bob.id, now=NOW)
        with pytest.raises(NotFound):
            work.unassign(db, case, me, bob.id, now=NOW)
        assert [u.username for u in work.assignees(db, case)] == ["alice"]
        assert work.set_important(db, case, me, True, now=NOW)
        assert not work.set_important(db, case, me, True, now=NOW)
        assert case.important
    trail = events(runtime, case_id)
    assert [a for a, _ in trail] == [
        "case.assign",
        "case.assign",
        "case.unassign",
        "case.important",
    ]
    assert trail[0][1] == {"user_id": bob.id, "username": "bob"}


def test_a_note_is_wrapped_to_the_case_key_only(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    seed = log_in(runtime, alice)
    case_id = new_case(runtime)
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        item_id = work.write_note(
            db, runtime.default.blobs, case, user(db, alice.id), "Call the lawyer", now=NOW
        )
        with pytest.raises(InvalidInput):
            work.write_note(db, runtime.default.blobs, case, user(db, alice.id), "  ", now=NOW)
    with runtime.default.db() as db:
        holders = list(db.scalars(select(ItemKeyWrap.holder).where(ItemKeyWrap.item_id == item_id)))
        assert holders == ["case"]
        case = db.get(Case, case_id)
        wrap = db.get(CaseKeyWrap, (case_id, alice.id))
        assert case is not None
        assert wrap is not None
        views = cases.case_items(
            db, runtime.default.blobs, case, cases.case_keys(db, case, wrap, seed)
        )
        assert views[-1].text == "Call the lawyer"
        item = db.get(Item, item_id)
        assert item is not None
        assert item.kind == "note"
    assert events(runtime, case_id) == [("case.note", {"item_id": item_id})]


def test_grant_and_revoke_access(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    bob = add_user(runtime, "bob", channel_names=())
    root = add_user(runtime, "root", Role.ADMIN, ())
    alice_seed, bob_seed = log_in(runtime, alice), log_in(runtime, bob)
    case_id = new_case(runtime, text="the memo")
    with runtime.default.db() as db:
        case, wrap = cases.case_for_user(db, user(db, alice.id), case_id)
        granter = user(db, alice.id)
        with pytest.raises(Forbidden):  # a granter whose key is offline cannot open the key
            access.grant(db, case, wrap, granter, granter_seed=None, user_id=bob.id, now=NOW)
        with pytest.raises(InvalidInput):
            access.grant(db, case, wrap, granter, granter_seed=alice_seed, user_id=root.id, now=NOW)
        with pytest.raises(Conflict):
            access.grant(
                db, case, wrap, granter, granter_seed=alice_seed, user_id=alice.id, now=NOW
            )
        access.grant(
            db, case, wrap, granter, granter_seed=alice_seed, user_id=bob.id, now=NOW + HOUR
        )
    with runtime.default.db() as db:
        case, wrap = cases.case_for_user(db, user(db, bob.id), case_id)
        views = cases.case_items(
            db, runtime.default.blobs, case, cases.case_keys(db, case, wrap, bob_seed)
        )
        assert views[0].text == "the memo"
        work.assign(db, case, user(db, bob.id), bob.id, now=NOW)
        cases.mark_read(db, case, user(db, bob.id))
        history = access.access_history(db, case)
        assert [(e.username, e.granted_by, e.revoked_at) for e in history] == [
            ("alice", None, None),
            ("bob", "alice", None),
        ]
        access.revoke(db, case, user(db, alice.id), bob.id, now=NOW + 2 * HOUR)
    assert count(runtime, CaseKeyWrap, CaseKeyWrap.user_id == bob.id) == 0
    assert count(runtime, CaseAssignee, CaseAssignee.user_id == bob.id) == 0
    assert count(runtime, CaseRead, CaseRead.user_id == bob.id) == 0
    with runtime.default.db() as db:
        with pytest.raises(CaseNotFound):
            cases.case_for_user(db, user(db, bob.id), case_id)
        case = db.get(Case, case_id)
        assert case is not None
        bob_row = db.scalar(select(CaseAccess).where(CaseAccess.user_id == bob.id))
        assert bob_row is not None
        assert (bob_row.revoked_by, bob_row.revoked_at) == (alice.id, NOW + 2 * HOUR - NOW % HOUR)
        # The last holder stays: nobody could read the case again.
        with pytest.raises(Conflict):
            access.revoke(db, case, user(db, alice.id), alice.id, now=NOW)
        with pytest.raises(NotFound):
            access.revoke(db, case, user(db, alice.id), bob.id, now=NOW)
    assert [a for a, _ in events(runtime, case_id)] == [
        "case.access.grant",
        "case.assign",
        "case.access.revoke",
    ]


def _items_opened(runtime: Runtime, person: Person, seed: bytes, case_id: str) -> list[str]:
    with runtime.default.db() as db:
        case, wrap = cases.case_for_user(db, user(db, person.id), case_id)
        views = cases.case_items(
            db, runtime.default.blobs, case, cases.case_keys(db, case, wrap, seed)
        )
        return [view.text or view.filename for view in views]


def _add_message(runtime: Runtime, case_id: str, text: str) -> str:
    """What a returning source's new message does: sealed under the case's key as it is now."""
    message = sealing.seal_text(runtime.default.blobs, text)
    with runtime.default.db() as db:
        target = sealing.CaseRef(id=case_id, public_key=b"not used: the row's key is")
        sealed = sealing.SealedItem(upload=message, kind=ItemKind.MESSAGE, meta={})
        return sealing.record_items(db, target, [sealed], now=NOW)[0].id


def test_revoking_access_rotates_the_case_key(runtime: Runtime) -> None:
    """A revoked holder who kept the case key (and any wrap they saw) opens nothing sealed
    after the revocation; everyone who still holds the case opens old and new items."""
    alice, bob, carol = (add_user(runtime, name) for name in ("alice", "bob", "carol"))
    seeds = {p.username: log_in(runtime, p) for p in (alice, bob, carol)}
    case_id = new_case(runtime, text="before")
    ctx = runtime.default
    with ctx.db() as db:
        case, wrap = cases.case_for_user(db, user(db, carol.id), case_id)
        kept = cases.case_key(case, wrap, seeds["carol"])  # Carol keeps the key she had
        old_public_key = case.public_key
    with ctx.db() as db:
        alice_user = user(db, alice.id)
    actions.revoke_access(ctx, alice_user, case_id, carol.id)  # needs no private key at all
    note = actions.write_note(ctx, alice_user, case_id, "after: a note")
    message = _add_message(runtime, case_id, "after: a message")

    with ctx.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        assert case.key_version == 1
        assert case.public_key != old_public_key
        rows = db.execute(select(Item.id, Item.key_version).where(Item.case_id == case_id))
        versions = dict(rows.all())
        assert [versions[note], versions[message]] == [1, 1]
        assert sorted(versions.values()) == [0, 0, 1, 1]
        # Carol holds no wrap of any version any more.
        assert count(runtime, CaseKeyWrap, CaseKeyWrap.user_id == carol.id) == 0
        assert count(runtime, CasePastKeyWrap, CasePastKeyWrap.user_id == carol.id) == 0
        # Her saved key opens the items from before (documented), and none sealed after.
        wrap_rows = db.execute(
            select(ItemKeyWrap.item_id, ItemKeyWrap.wrapped).where(
                ItemKeyWrap.holder == "case", ItemKeyWrap.item_id.in_(list(versions))
            )
        )
        wraps = dict(wrap_rows.all())
        for item_id, version in versions.items():
            context = bytes.fromhex(item_id)
            if version == 0:
                kept.unwrap(wraps[item_id], crypto.WrapPurpose.ITEM_KEY, context)
            else:
                with pytest.raises(crypto.DecryptionError):
                    kept.unwrap(wraps[item_id], crypto.WrapPurpose.ITEM_KEY, context)
        # Nor do the new case key's wraps to Alice and Bob open with anything Carol has.
        for row in db.scalars(select(CaseKeyWrap).where(CaseKeyWrap.case_id == case_id)):
            with pytest.raises(crypto.DecryptionError):
                crypto.KeyPair.from_seed(seeds["carol"]).unwrap(
                    row.wrapped, crypto.WrapPurpose.CASE_KEY, bytes.fromhex(case_id) + b"\0\0\0\1"
                )
    expected = ["before", "doc.pdf", "after: a note", "after: a message"]
    assert _items_opened(runtime, alice, seeds["alice"], case_id) == expected
    assert _items_opened(runtime, bob, seeds["bob"], case_id) == expected
    with ctx.db() as db, pytest.raises(CaseNotFound):
        cases.case_for_user(db, user(db, carol.id), case_id)

    # A second revocation: version 2, and everything still opens for the last holder.
    actions.revoke_access(ctx, alice_user, case_id, bob.id)
    later = _add_message(runtime, case_id, "after bob left")
    assert _items_opened(runtime, alice, seeds["alice"], case_id) == [*expected, "after bob left"]
    with ctx.db() as db:
        assert db.scalar(select(Item.key_version).where(Item.id == later)) == 2
        past = db.scalars(
            select(CasePastKeyWrap.version).where(CasePastKeyWrap.user_id == alice.id)
        )
        assert sorted(past) == [0, 1]

    # Given access again, Carol gets every version (from Alice's key) and reads it all.
    actions.grant_access(ctx, alice_user, seeds["alice"], case_id, carol.id)
    assert _items_opened(runtime, carol, seeds["carol"], case_id) == [*expected, "after bob left"]


def test_a_recipient_added_later_gets_only_new_cases(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    bob = add_user(runtime, "bob", channel_names=())
    old = new_case(runtime)
    with runtime.default.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        channels.add_member(db, channel, user(db, bob.id))
    new = new_case(runtime)
    with runtime.default.db() as db:
        held = set(db.scalars(select(CaseKeyWrap.case_id).where(CaseKeyWrap.user_id == bob.id)))
        assert held == {new}
        assert old not in held
        panel = case_panel(db, db.get(Case, old), user(db, bob.id))  # type: ignore[arg-type]
        candidates = [u.username for u in panel.grantable]
        assert candidates == ["bob"]


def test_wrapping_uses_the_case_context(runtime: Runtime) -> None:
    """A granted wrap opens only under its own case's id (no wrap moves between cases)."""
    alice = add_user(runtime, "alice")
    bob = add_user(runtime, "bob", channel_names=())
    seed, bob_seed = log_in(runtime, alice), log_in(runtime, bob)
    first, second = new_case(runtime), new_case(runtime)
    with runtime.default.db() as db:
        case, wrap = cases.case_for_user(db, user(db, alice.id), first)
        access.grant(db, case, wrap, user(db, alice.id), granter_seed=seed, user_id=bob.id, now=NOW)
    with runtime.default.db() as db:
        granted = db.get(CaseKeyWrap, (first, bob.id))
        other = db.get(Case, second)
        assert granted is not None
        assert other is not None
        with pytest.raises(crypto.DecryptionError):
            cases.case_key(other, granted, bob_seed)


def test_leaving_a_channel_keeps_the_cases_already_held(runtime: Runtime) -> None:
    """Channel membership decides who gets new cases; a held case stays held until someone
    revokes it, and the history says the access came with the channel."""
    add_user(runtime, "alice")
    bob = add_user(runtime, "bob")
    old = new_case(runtime)
    with runtime.default.db() as db:
        channels.set_members(db, channels.get_channel_by_name(db, "default"), ["alice"])
    new = new_case(runtime)
    with runtime.default.db() as db:
        held = set(db.scalars(select(CaseKeyWrap.case_id).where(CaseKeyWrap.user_id == bob.id)))
        assert held == {old}
        case = db.get(Case, old)
        assert case is not None
        entries = {e.username: e for e in access.access_history(db, case)}
        assert entries["bob"].granted_by is None
        assert not entries["bob"].via_grant
        assert entries["bob"].revoked_at is None
        access.revoke(db, case, user(db, bob.id), bob.id, now=NOW)
    assert count(runtime, CaseKeyWrap, CaseKeyWrap.user_id == bob.id) == 0
    assert new not in held


# The use cases the staff pages and the API share (mailslot.cases.actions).


def blob_files(runtime: Runtime) -> set[str]:
    root = runtime.config.data_dir / "blobs"
    return {p.name for p in root.rglob("*") if p.is_file()}


def test_the_use_cases_act_and_answer_with_the_case_state(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    bob = add_user(runtime, "bob")
    seed = log_in(runtime, alice)
    case_id = new_case(runtime)
    ctx = runtime.default
    with ctx.db() as db:
        me = user(db, alice.id)
    state = actions.set_status(ctx, me, case_id, status="in_progress")
    assert (state.case.status, state.custom_status) == ("in_progress", None)
    assert actions.set_important(ctx, me, case_id, True).case.important
    assert [label.name for label in actions.add_label(ctx, me, case_id, "Urgent").labels] == [
        "Urgent"
    ]
    assert [u.username for u in actions.assign(ctx, me, case_id, bob.id).assignees] == ["bob"]
    actions.unassign(ctx, me, case_id, bob.id)
    item_id = actions.write_note(ctx, me, case_id, "Call the lawyer")
    access = actions.get_access(ctx, me, case_id)
    assert [u.username for u in access.holders] == ["alice", "bob"]
    assert [label.name for label in actions.all_labels(ctx, me)] == ["Urgent"]
    assert [u.username for u in actions.active_recipients(ctx, me)] == ["alice", "bob"]
    assert [action for action, _ in events(runtime, case_id)] == [
        "case.status",
        "case.important",
        "case.label.add",
        "case.assign",
        "case.unassign",
        "case.note",
    ]
    with ctx.db() as db:
        case, wrap = cases.case_for_user(db, user(db, alice.id), case_id)
        views = cases.case_items(db, ctx.blobs, case, cases.case_keys(db, case, wrap, seed))
        assert (views[-1].item.id, views[-1].text) == (item_id, "Call the lawyer")


def test_labels_are_offered_only_from_cases_the_reader_can_open(runtime: Runtime) -> None:
    """A label a colleague put on a case someone cannot open is never shown to them: not as
    a suggestion on the case page, not in the inbox filter, not in the API's list."""
    alice, bob = add_user(runtime, "alice"), add_user(runtime, "bob")
    shared, hidden = new_case(runtime), new_case(runtime)
    ctx = runtime.default
    with ctx.db() as db:
        me, colleague = user(db, alice.id), user(db, bob.id)
    actions.revoke_access(ctx, colleague, hidden, alice.id)
    actions.add_label(ctx, colleague, hidden, "Merger at Acme")
    actions.add_label(ctx, me, shared, "Urgent")
    assert [label.name for label in actions.all_labels(ctx, colleague)] == [
        "Merger at Acme",
        "Urgent",
    ]
    assert [label.name for label in actions.all_labels(ctx, me)] == ["Urgent"]
    with ctx.db() as db:
        assert [name for _, name in inbox.inbox_choices(db, me).labels] == ["Urgent"]
        case = db.get(Case, shared)
        assert case is not None
        assert [label.name for label in case_panel(db, case, me).all_labels] == ["Urgent"]
    # Once a label is on a case Alice can open, she sees it (and only then).
    actions.add_label(ctx, colleague, shared, "Merger at Acme")
    assert [label.name for label in actions.all_labels(ctx, me)] == ["Merger at Acme", "Urgent"]


def test_only_a_recipient_holding_the_key_acts_on_a_case(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    carol = add_user(runtime, "carol", channel_names=())
    root = add_user(runtime, "root", Role.ADMIN, ())
    case_id = new_case(runtime)
    ctx = runtime.default
    with ctx.db() as db:
        admin, outsider = user(db, root.id), user(db, carol.id)
    with pytest.raises(Forbidden):
        actions.set_important(ctx, admin, case_id, True)
    with pytest.raises(Forbidden):
        actions.all_labels(ctx, admin)
    with pytest.raises(CaseNotFound):
        actions.set_important(ctx, outsider, case_id, True)
    assert events(runtime, case_id) == []


def test_a_failed_unit_of_work_leaves_no_sealed_blob(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A note (or a closing reason) is sealed into its blob before its rows; when the unit of
    work fails after that, the blob is deleted with it."""
    alice = add_user(runtime, "alice")
    case_id = new_case(runtime)
    ctx = runtime.default
    with ctx.db() as db:
        me = user(db, alice.id)
    before = blob_files(runtime)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the audit trail is unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(work, "audit_case_event", broken)
        with pytest.raises(RuntimeError):
            actions.write_note(ctx, me, case_id, "Call the lawyer")
        with pytest.raises(RuntimeError):
            actions.set_status(ctx, me, case_id, status="closed", reason="Referred")
    assert blob_files(runtime) == before
    assert count(runtime, Item, Item.case_id == case_id) == 2
    # The positive control: the same actions, working, keep their blobs.
    actions.write_note(ctx, me, case_id, "Call the lawyer")
    actions.set_status(ctx, me, case_id, status="closed", reason="Referred")
    assert len(blob_files(runtime) - before) == 2
    assert count(runtime, Item, Item.case_id == case_id) == 4


def test_first_views_at_once_all_succeed_and_leave_one_read_mark(runtime: Runtime) -> None:
    """Two tabs or two processes opening a case for the first time at the same moment: each
    view inserts the read mark; none may fail because another inserted it first."""
    alice = add_user(runtime, "alice")
    seed = log_in(runtime, alice)
    case_id = new_case(runtime)
    ctx = runtime.default
    with ctx.db() as db:
        me = user(db, alice.id)
    start = threading.Barrier(8)

    def view(_: int) -> str:
        start.wait()
        return reading.read_case(ctx, me, seed, case_id).case.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(view, range(8))) == [case_id] * 8
    with ctx.db() as db:
        marks = db.scalars(select(CaseRead).where(CaseRead.case_id == case_id)).all()
        assert [(m.user_id, m.activity_seq) for m in marks] == [
            (alice.id, db.get(Case, case_id).activity_seq)  # type: ignore[union-attr]
        ]
