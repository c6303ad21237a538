"""Per-organisation quotas: how much ciphertext it may store and how many cases it may hold.

The host operator sets them in the registry (``mailslot orgs quota``); each organisation's
context carries its own (``OrgContext.quotas``), and the submission use case checks them in
the transaction that records a submission (:func:`check`), so a refused submission leaves
nothing behind and the source sees their message again. Two submissions recorded at the
same moment can pass a quota by at most their own size: a quota is a bound on growth, not
an exact ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailslot.cases.models import Case, Item
from mailslot.context import Quotas
from mailslot.orgs.errors import QuotaReached


@dataclass(frozen=True, slots=True)
class Usage:
    """What an organisation holds, as the host operator may see it: counts and bytes."""

    cases: int
    items: int
    stored_bytes: int


def usage(db: Session) -> Usage:
    cases = db.scalar(select(func.count()).select_from(Case)) or 0
    items, stored = db.execute(
        select(func.count(), func.coalesce(func.sum(Item.stored_size), 0)).select_from(Item)
    ).one()
    return Usage(cases=int(cases), items=int(items), stored_bytes=int(stored))


def check(db: Session, quotas: Quotas, *, new_case: bool, adding: int) -> None:
    """Refuse a submission (:class:`QuotaReached`) that would open a case past the case
    quota, or store ``adding`` more bytes past the storage quota."""
    if quotas.cases is not None and new_case:
        cases = db.scalar(select(func.count()).select_from(Case)) or 0
        if cases >= quotas.cases:
            raise QuotaReached()
    if quotas.storage is not None:
        stored = db.scalar(select(func.coalesce(func.sum(Item.stored_size), 0))) or 0
        if stored + adding > quotas.storage:
            raise QuotaReached()
