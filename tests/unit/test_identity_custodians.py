"""Custodians appointed after an identity arrived: a colleague's visit with their key wraps
the identity to them (audited), so they can decide; a disabled custodian's wraps go; and
`mailslot check` looks for the identity's blob."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailslot import check_orgs
from mailslot.audit.models import AuditEvent
from mailslot.context import OrgContext
from mailslot.errors import Forbidden
from mailslot.identity import requests
from mailslot.identity.models import Identity, IdentityKeyWrap
from mailslot.recipients import management
from mailslot.recipients.models import Role
from mailslot.runtime import Runtime
from tests.unit.test_identity import IDENTITY, ctx, send, user
from tests.unit.test_services import add_user, log_in

__all__ = ["ctx"]  # the fixture, shared with test_identity.py


def holders(ctx: OrgContext) -> set[str]:
    with ctx.db() as db:
        return set(db.scalars(select(IdentityKeyWrap.user_id)))


def test_a_later_custodian_decides_after_a_colleague_visited(
    ctx: OrgContext, runtime: Runtime
) -> None:
    alice = add_user(runtime, "alice")
    cora = add_user(runtime, "cora", Role.CUSTODIAN, ())
    admin = add_user(runtime, "adam", Role.ADMIN, ())
    case_id = send(ctx, identity=IDENTITY)
    with ctx.db() as db:  # `mailslot check` looks for the identity's blob too
        blob_id = db.scalar(select(Identity.blob_id).where(Identity.case_id == case_id))
        assert blob_id in check_orgs.named_blobs(db)
    dina = add_user(runtime, "dina", Role.CUSTODIAN, ())  # appointed after the identity
    alice_seed, cora_seed, dina_seed = (log_in(runtime, p) for p in (alice, cora, dina))
    asked = requests.request_access(ctx, user(ctx, alice), case_id, "To protect her.")
    [waiting] = requests.pending(ctx, user(ctx, dina), dina_seed)
    assert not waiting.decidable
    assert waiting.reason is None
    with pytest.raises(Forbidden):
        requests.decide(ctx, user(ctx, dina), dina_seed, asked.id, approve=True)
    requests.pending(ctx, user(ctx, cora), None)  # key offline: nothing to share with
    assert holders(ctx) == {cora.id}

    requests.pending(ctx, user(ctx, cora), cora_seed)
    assert holders(ctx) == {cora.id, dina.id}
    requests.pending(ctx, user(ctx, cora), cora_seed)  # nothing more to share
    with ctx.db() as db:
        shared = list(
            db.scalars(select(AuditEvent.detail).where(AuditEvent.action == "identity.share"))
        )
    assert len(shared) == 1
    assert dina.id in shared[0]
    [waiting] = requests.pending(ctx, user(ctx, dina), dina_seed)
    assert waiting.decidable
    assert waiting.reason == "To protect her."
    requests.decide(ctx, user(ctx, dina), dina_seed, asked.id, approve=True)
    assert requests.read(ctx, user(ctx, alice), alice_seed, case_id).text == IDENTITY

    # Disabling a custodian deletes their wraps; an allowed recipient keeps theirs.
    management.set_disabled(ctx, user(ctx, admin), cora.id, True)
    assert holders(ctx) == {dina.id, alice.id}
    management.set_disabled(ctx, user(ctx, admin), cora.id, False)
    requests.pending(ctx, user(ctx, dina), dina_seed)  # enabled again: shared again
    assert holders(ctx) == {cora.id, dina.id, alice.id}
