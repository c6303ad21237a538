"""Deleting a case, whoever does it: a reader on request (the staff page and the API share
:func:`delete_case`) or the retention purge (``cases.retention``). Both go through
:func:`forget_case`, so a deleted case leaves the same nothing behind either way."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailslot.audit import services as audit
from mailslot.cases import services as cases
from mailslot.cases.models import Case
from mailslot.context import OrgContext
from mailslot.recipients.models import User
from mailslot.sources.models import Source


def forget_case(db: Session, case: Case) -> list[str]:
    """Delete the case in the caller's unit of work: key wraps first (crypto-shredding), then
    rows; and its source, if the codename opened no other case (its lookup tag and public
    key go, so it logs in like a codename never issued). Returns the blob ids to delete
    after the commit."""
    source_id = case.source_id
    blob_ids = cases.delete_case(db, case)
    if (
        source_id is not None
        and db.scalar(select(Case.id).where(Case.source_id == source_id).limit(1)) is None
    ):
        db.execute(delete(Source).where(Source.id == source_id))
        db.flush()
    return blob_ids


def delete_case(ctx: OrgContext, user: User, case_id: str) -> None:
    """Delete a case its reader holds a key to (see :func:`forget_case`), recorded as
    ``case.delete``. The blobs go after the commit (the rows no longer point at them)."""
    with ctx.db() as db:
        case, _ = cases.case_for_user(db, user, case_id)
        blob_ids = forget_case(db, case)
        audit.record(
            db,
            "case.delete",
            now=ctx.now(),
            actor_id=user.id,
            actor=user.username,
            case_id=case_id,
        )
    cases.delete_blobs(ctx.blobs, blob_ids)
