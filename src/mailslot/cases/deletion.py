"""Deleting a case on a reader's request, as a use case shared by the staff page and the API
(the retention purge deletes expired cases in ``cases.retention``)."""

from __future__ import annotations

from mailslot.audit import services as audit
from mailslot.cases import services as cases
from mailslot.context import OrgContext
from mailslot.recipients.models import User


def delete_case(ctx: OrgContext, user: User, case_id: str) -> None:
    """Delete a case its reader holds a key to: key wraps, rows and blobs, recorded as
    ``case.delete``. The blobs go after the commit (the rows no longer point at them)."""
    with ctx.db() as db:
        case, _ = cases.case_for_user(db, user, case_id)
        blob_ids = cases.delete_case(db, case)
        audit.record(
            db,
            "case.delete",
            now=ctx.now(),
            actor_id=user.id,
            actor=user.username,
            case_id=case_id,
        )
    cases.delete_blobs(ctx.blobs, blob_ids)
