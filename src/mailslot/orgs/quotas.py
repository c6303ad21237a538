"""Per-organisation quotas: how much ciphertext it may store and how many cases it may hold.

The host operator sets them in the registry (``mailslot orgs quota``); each organisation's
context carries its own (``OrgContext.quotas``), and the submission use case checks them in
the transaction that records a submission (:func:`check`), so a refused submission leaves
nothing behind and the source sees their message again.

Every path that stores new bytes or opens a case for a source (a submission, a questionnaire's
answers and files through it, a sealed drop from ``/drop``) calls :func:`check` in its own
unit of work, after its blobs are sealed and before it records them. When the organisation has
a quota, :func:`check` first locks the organisation's settings row (an UPDATE that changes
nothing: SQLite's write lock, PostgreSQL's row lock), so submissions at the same moment are
checked one after the other, each seeing what the ones before it recorded: together they do
not pass a quota. (The encrypted bytes of uploads still arriving are on disk before their
check, and deleted if it refuses them.) Staff replies and notes are not refused, and count
towards storage, as do sources' sealed identities. (A questionnaire draft's files are not
counted: their rows name a blob only, their sizes are sealed in the draft, and they are
deleted or become items when the draft ends.)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailslot.cases.models import Case, Item
from mailslot.context import Quotas
from mailslot.identity.models import Identity
from mailslot.instance.models import Instance
from mailslot.orgs.errors import QuotaReached


@dataclass(frozen=True, slots=True)
class Usage:
    """What an organisation holds, as the host operator may see it: counts and bytes."""

    cases: int
    items: int
    stored_bytes: int


def _stored(db: Session) -> int:
    """The bytes of ciphertext the organisation's rows name: its items' and identities'."""
    items = select(func.coalesce(func.sum(Item.stored_size), 0)).scalar_subquery()
    identities = select(func.coalesce(func.sum(Identity.stored_size), 0)).scalar_subquery()
    return int(db.scalar(select(items + identities)) or 0)


def usage(db: Session) -> Usage:
    cases = db.scalar(select(func.count()).select_from(Case)) or 0
    items = db.scalar(select(func.count()).select_from(Item)) or 0
    return Usage(cases=int(cases), items=int(items), stored_bytes=_stored(db))


def check(db: Session, quotas: Quotas, *, new_case: bool, adding: int) -> None:
    """Refuse a submission (:class:`QuotaReached`) that would open a case past the case
    quota, or store ``adding`` more bytes past the storage quota. With a quota, checks are
    serialised on the settings row until the transaction ends (see the module's docstring)."""
    if quotas.cases is None and quotas.storage is None:
        return
    db.execute(update(Instance).values(name=Instance.name))
    if quotas.cases is not None and new_case:
        cases = db.scalar(select(func.count()).select_from(Case)) or 0
        if cases >= quotas.cases:
            raise QuotaReached()
    if quotas.storage is not None and _stored(db) + adding > quotas.storage:
        raise QuotaReached()
