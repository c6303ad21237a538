"""Custodians appointed after an identity arrived: listing the requests (a GET) writes
nothing; a colleague who holds the identity wraps it to them when that colleague logs in
(or decides a request) with their key, audited, so they can decide; a wrap that does not
open does not refuse the login; a disabled custodian's wraps go; and `mailslot check` looks
for the identity's blob."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select, update

from mailslot import check_orgs
from mailslot.audit.models import AuditEvent
from mailslot.context import OrgContext
from mailslot.db import models
from mailslot.errors import Forbidden
from mailslot.identity import requests
from mailslot.identity.models import Identity, IdentityKeyWrap
from mailslot.recipients import login, management
from mailslot.recipients.models import Role
from mailslot.runtime import Runtime
from tests.unit.test_identity import IDENTITY, ctx, send, user
from tests.unit.test_services import NOW, PASSWORD, Person, add_user, code, log_in

__all__ = ["ctx"]  # the fixture, shared with test_identity.py


def holders(ctx: OrgContext) -> set[str]:
    with ctx.db() as db:
        return set(db.scalars(select(IdentityKeyWrap.user_id)))


def shared(ctx: OrgContext) -> list[str]:
    """The details of every ``identity.share`` event, oldest first."""
    with ctx.db() as db:
        return list(
            db.scalars(
                select(AuditEvent.detail)
                .where(AuditEvent.action == "identity.share")
                .order_by(AuditEvent.seq)
            )
        )


def snapshot(ctx: OrgContext) -> dict[str, list[str]]:
    """Every row of every table, to compare before and after a read."""
    with ctx.db() as db:
        return {
            table.name: sorted(repr(tuple(row)) for row in db.execute(select(table)))
            for table in models.Base.metadata.sorted_tables
        }


def staff_login(ctx: OrgContext, person: Person, step: int) -> bytes:
    """A full staff login through the login use case, at its own TOTP step (a code is good
    once); the key seed it opened."""
    at = NOW + 30 * step
    moment = dataclasses.replace(ctx, clock=lambda: float(at))
    done = login.log_in(moment, person.username, PASSWORD, code(person.totp_secret, at))
    assert done.auth.private_seed is not None
    return done.auth.private_seed


def test_listing_requests_writes_nothing_though_a_colleague_lacks_the_identity(
    ctx: OrgContext, runtime: Runtime
) -> None:
    alice = add_user(runtime, "alice")
    cora = add_user(runtime, "cora", Role.CUSTODIAN, ())
    case_id = send(ctx, identity=IDENTITY)
    dina = add_user(runtime, "dina", Role.CUSTODIAN, ())  # appointed after the identity
    cora_seed, dina_seed = log_in(runtime, cora), log_in(runtime, dina)
    requests.request_access(ctx, user(ctx, alice), case_id, "To protect her.")
    before = snapshot(ctx)

    [waiting] = requests.pending(ctx, user(ctx, cora), cora_seed)  # her key is in her session
    assert waiting.decidable
    assert waiting.reason == "To protect her."
    [waiting] = requests.pending(ctx, user(ctx, dina), dina_seed)
    assert not waiting.decidable
    assert requests.pending(ctx, user(ctx, cora), None) == [
        dataclasses.replace(waiting, decidable=True)
    ]
    assert snapshot(ctx) == before  # no wrap, no audit event, nothing
    assert holders(ctx) == {cora.id}


def test_a_later_custodian_decides_after_a_colleague_logs_in(
    ctx: OrgContext, runtime: Runtime
) -> None:
    alice, bob = add_user(runtime, "alice"), add_user(runtime, "bob")
    cora = add_user(runtime, "cora", Role.CUSTODIAN, ())
    admin = add_user(runtime, "adam", Role.ADMIN, ())
    case_id = send(ctx, identity=IDENTITY)
    with ctx.db() as db:  # `mailslot check` looks for the identity's blob too
        blob_id = db.scalar(select(Identity.blob_id).where(Identity.case_id == case_id))
        assert blob_id in check_orgs.named_blobs(db)
    dina = add_user(runtime, "dina", Role.CUSTODIAN, ())  # appointed after the identity
    alice_seed = log_in(runtime, alice)
    asked = requests.request_access(ctx, user(ctx, alice), case_id, "To protect her.")
    dina_seed = staff_login(ctx, dina, 1)  # holds nothing: nothing to share
    with pytest.raises(Forbidden):
        requests.decide(ctx, user(ctx, dina), dina_seed, asked.id, approve=True)
    assert holders(ctx) == {cora.id}
    staff_login(ctx, alice, 2)  # a recipient's login shares nothing
    assert holders(ctx) == {cora.id}
    assert shared(ctx) == []

    staff_login(ctx, cora, 3)  # her key opens: she shares what she holds
    assert holders(ctx) == {cora.id, dina.id}
    staff_login(ctx, cora, 4)  # nothing more to share
    [detail] = shared(ctx)
    assert dina.id in detail
    assert IDENTITY not in detail  # ids only
    with ctx.db() as db:
        shared_case = db.scalar(
            select(AuditEvent.case_id).where(AuditEvent.action == "identity.share")
        )
    assert shared_case == case_id
    [waiting] = requests.pending(ctx, user(ctx, dina), dina_seed)
    assert waiting.decidable
    assert waiting.reason == "To protect her."
    requests.decide(ctx, user(ctx, dina), dina_seed, asked.id, approve=True)
    assert requests.read(ctx, user(ctx, alice), alice_seed, case_id).text == IDENTITY

    # Disabling a custodian deletes their wraps; an allowed recipient keeps theirs.
    management.set_disabled(ctx, user(ctx, admin), cora.id, True)
    assert holders(ctx) == {dina.id, alice.id}
    management.set_disabled(ctx, user(ctx, admin), cora.id, False)
    assert holders(ctx) == {dina.id, alice.id}  # enabling makes it due, without a key
    # A decision with her key in her session shares too.
    denied = requests.request_access(ctx, user(ctx, bob), case_id, "Curious.")
    requests.decide(ctx, user(ctx, dina), dina_seed, denied.id, approve=False)
    assert holders(ctx) == {cora.id, dina.id, alice.id}
    assert len(shared(ctx)) == 2
    assert cora.id in shared(ctx)[1]


def test_a_wrap_that_does_not_open_does_not_refuse_a_login(
    ctx: OrgContext, runtime: Runtime
) -> None:
    add_user(runtime, "alice")
    cora = add_user(runtime, "cora", Role.CUSTODIAN, ())
    send(ctx, identity=IDENTITY)
    dina = add_user(runtime, "dina", Role.CUSTODIAN, ())
    with ctx.db() as db:
        wrapped = db.scalar(select(IdentityKeyWrap.wrapped))
        assert wrapped is not None
        db.execute(
            update(IdentityKeyWrap)
            .where(IdentityKeyWrap.user_id == cora.id)
            .values(wrapped=wrapped[:-1] + bytes([wrapped[-1] ^ 1]))
        )
    assert staff_login(ctx, cora, 1)  # logged in, key open
    assert holders(ctx) == {cora.id}  # nothing shared from a wrap that does not open
    assert shared(ctx) == []
    assert dina.id not in holders(ctx)
