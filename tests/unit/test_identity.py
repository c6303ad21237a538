"""Identity on request and recipients chosen by sources, against a real database: the
identity sealed apart (custodians only), a recipient's request, a custodian's decision, the
reading; a case wrapped only to the recipients its source chose, and grants on it."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from mailslot.audit.models import AuditEvent
from mailslot.cases import actions, deletion
from mailslot.cases import services as cases
from mailslot.cases.errors import CaseNotFound
from mailslot.cases.models import Case, CaseKeyWrap
from mailslot.channels import choice
from mailslot.channels import services as channels
from mailslot.context import OrgContext
from mailslot.errors import Conflict, Forbidden, InvalidInput, NotFound, StorageError
from mailslot.identity import requests
from mailslot.identity.models import Identity, IdentityKeyWrap, IdentityRequest
from mailslot.recipients.models import Role, User
from mailslot.runtime import Runtime
from mailslot.sessions import services as sessions
from mailslot.sources import submissions
from mailslot.sources.models import Source
from tests.unit.test_services import NOW, Person, add_user, log_in

IDENTITY = "Jane Roe, accounts payable, +32 470 00 00 00"


@pytest.fixture
def ctx(runtime: Runtime) -> OrgContext:
    return dataclasses.replace(runtime.default, clock=lambda: float(NOW))


def send(ctx: OrgContext, message: str = "hello", **kwargs: object) -> str:
    """A new source's first submission; the case's id."""
    new = submissions.start(ctx)
    with ctx.db() as db:
        state = sessions.create(db, kind=sessions.SOURCE, data=new.session, now=NOW, absolute=3600)
    source_id = submissions.submit(ctx, state, None, message, [], locale="en", **kwargs)  # type: ignore[arg-type]
    with ctx.db() as db:
        case_id = db.scalar(select(Case.id).where(Case.source_id == source_id))
    assert case_id is not None
    return case_id


def user(ctx: OrgContext, person: Person) -> User:
    with ctx.db() as db:
        found = db.get(User, person.id)
        assert found is not None
        db.expunge(found)
        return found


def actions_of(ctx: OrgContext, case_id: str) -> list[str]:
    with ctx.db() as db:
        return list(
            db.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.case_id == case_id, AuditEvent.action.like("identity.%"))
                .order_by(AuditEvent.seq)
            )
        )


def test_an_identity_opens_only_for_recipients_a_custodian_allowed(
    ctx: OrgContext, runtime: Runtime
) -> None:
    alice, bob = add_user(runtime, "alice"), add_user(runtime, "bob")
    cora = add_user(runtime, "cora", Role.CUSTODIAN, ())
    alice_seed, bob_seed, cora_seed = (log_in(runtime, p) for p in (alice, bob, cora))
    case_id = send(ctx, identity=IDENTITY)
    with ctx.db() as db:
        identity = db.scalar(select(Identity).where(Identity.case_id == case_id))
        assert identity is not None
        # Wrapped to the custodian only; the case's items do not hold it.
        holders = db.scalars(
            select(IdentityKeyWrap.user_id).where(IdentityKeyWrap.identity_id == identity.id)
        )
        assert list(holders) == [cora.id]
        held, wrap = cases.case_for_user(db, user(ctx, alice), case_id)
        keys = cases.case_keys(db, held, wrap, alice_seed)
        texts = [view.text for view in cases.case_items(db, ctx.blobs, held, keys)]
        assert texts == ["hello"]
        stored = b"".join(ctx.blobs.open(identity.blob_id))
        assert b"Jane Roe" not in stored
    panel = requests.panel
    with ctx.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        assert panel(db, case, user(ctx, alice)) == requests.IdentityPanel(False, False, False)

    with pytest.raises(Forbidden):  # not allowed yet, even holding the case
        requests.read(ctx, user(ctx, alice), alice_seed, case_id)
    with pytest.raises(InvalidInput):
        requests.request_access(ctx, user(ctx, alice), case_id, "  \n ")
    with pytest.raises(CaseNotFound):  # a custodian holds no case
        requests.request_access(ctx, user(ctx, cora), case_id, "to call her")
    asked = requests.request_access(ctx, user(ctx, alice), case_id, "To protect her at work.")
    with pytest.raises(Conflict):
        requests.request_access(ctx, user(ctx, alice), case_id, "Again.")
    with ctx.db() as db:
        row = db.get(IdentityRequest, asked.id)
        assert row is not None
        assert b"protect" not in row.reason  # the reason is sealed

    with pytest.raises(Forbidden):  # only custodians see and decide requests
        requests.pending(ctx, user(ctx, bob), bob_seed)
    with pytest.raises(Forbidden):
        requests.decide(ctx, user(ctx, bob), bob_seed, asked.id, approve=True)
    [waiting] = requests.pending(ctx, user(ctx, cora), cora_seed)
    assert (waiting.requester, waiting.case_id, waiting.reason) == (
        "alice",
        case_id,
        "To protect her at work.",
    )
    assert waiting.decidable
    # With the key offline the reason stays sealed and approving is refused.
    [offline] = requests.pending(ctx, user(ctx, cora), None)
    assert offline.reason is None
    with pytest.raises(Forbidden):
        requests.decide(ctx, user(ctx, cora), None, asked.id, approve=True)

    requests.decide(ctx, user(ctx, cora), cora_seed, asked.id, approve=True)
    assert requests.read(ctx, user(ctx, alice), alice_seed, case_id).text == IDENTITY
    assert requests.pending(ctx, user(ctx, cora), cora_seed) == []
    with pytest.raises(NotFound):  # decided already: not found
        requests.decide(ctx, user(ctx, cora), cora_seed, asked.id, approve=False)

    denied = requests.request_access(ctx, user(ctx, bob), case_id, "Curious.")
    requests.decide(ctx, user(ctx, cora), cora_seed, denied.id, approve=False)
    with pytest.raises(Forbidden):
        requests.read(ctx, user(ctx, bob), bob_seed, case_id)
    with ctx.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        assert panel(db, case, user(ctx, bob)) == requests.IdentityPanel(False, False, True)
        assert panel(db, case, user(ctx, alice)) == requests.IdentityPanel(True, False, False)
    assert actions_of(ctx, case_id) == [
        "identity.request",
        "identity.approve",
        "identity.read",
        "identity.request",
        "identity.deny",
    ]
    with ctx.db() as db:
        detail = db.scalars(select(AuditEvent.detail).where(AuditEvent.case_id == case_id))
        assert not any("protect" in d or "Curious" in d for d in detail)
    # Deleting the case destroys the identity too: its rows, its wraps and its blob.
    with ctx.db() as db:
        blob_id = db.scalar(select(Identity.blob_id).where(Identity.case_id == case_id))
    assert blob_id is not None
    deletion.delete_case(ctx, user(ctx, alice), case_id)
    with ctx.db() as db:
        assert db.scalar(select(Identity.id)) is None
        assert db.scalar(select(IdentityKeyWrap.user_id)) is None
        assert db.scalar(select(IdentityRequest.id)) is None
    with pytest.raises(StorageError):
        b"".join(ctx.blobs.open(blob_id))


def test_without_a_custodian_no_identity_is_taken(ctx: OrgContext, runtime: Runtime) -> None:
    add_user(runtime, "alice")
    with pytest.raises(Forbidden):
        send(ctx, identity=IDENTITY)
    with ctx.db() as db:
        assert db.scalar(select(Source.id)) is None
        assert db.scalar(select(Identity.id)) is None
    send(ctx, identity="   ")  # an empty box gives nothing


def test_a_source_chooses_who_receives_the_case_and_only_they_grant(
    ctx: OrgContext, runtime: Runtime
) -> None:
    alice, bob, dan = add_user(runtime, "alice"), add_user(runtime, "bob"), add_user(runtime, "dan")
    alice_seed, bob_seed = log_in(runtime, alice), log_in(runtime, bob)
    with ctx.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        # The channel does not let sources choose: a choice sent anyway changes nothing.
        assert choice.choosable(db, channel) == []
    everyone = send(ctx, chosen={alice.id})
    with ctx.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        channel.sources_choose = True
        db.get(User, bob.id).display_name = "Bob (legal)"  # type: ignore[union-attr]
    with ctx.db() as db:
        listed = choice.choosable(db, channels.get_channel_by_name(db, "default"))
        assert [c.name for c in listed] == ["alice", "Bob (legal)", "dan"]
    with pytest.raises(InvalidInput):
        send(ctx, chosen=set())
    chosen = send(ctx, chosen={alice.id, "f" * 32})
    with ctx.db() as db:
        held = set(db.scalars(select(CaseKeyWrap.user_id).where(CaseKeyWrap.case_id == chosen)))
        assert held == {alice.id}
        assert db.get(Case, chosen).recipients_chosen  # type: ignore[union-attr]
        assert not db.get(Case, everyone).recipients_chosen  # type: ignore[union-attr]
        held = set(db.scalars(select(CaseKeyWrap.user_id).where(CaseKeyWrap.case_id == everyone)))
        assert held == {alice.id, bob.id, dan.id}
        with pytest.raises(CaseNotFound):
            cases.case_for_user(db, user(ctx, bob), chosen)
    # A chosen recipient may give access; someone given access may not pass it on.
    actions.grant_access(ctx, user(ctx, alice), alice_seed, chosen, bob.id)
    with pytest.raises(Forbidden):
        actions.grant_access(ctx, user(ctx, bob), bob_seed, chosen, dan.id)
    with ctx.db() as db:
        # A questionnaire's route names recipients by display name or username.
        channel = channels.get_channel_by_name(db, "default")
        routed = submissions.Choice(routed=("bob (LEGAL)", "nobody"))
        assert routed.recipient_ids(db, channel) == [bob.id]
        assert submissions.Choice(routed=("nobody",)).recipient_ids(db, channel) is None
