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
check, and deleted if it refuses them.)

Staff writes that store ciphertext (a reply, an internal note written by a recipient) call
:func:`check_staff` the same way, in their own unit of work before their rows are recorded
(always the settings row before the case row, as submissions do, so the two never wait on
each other in opposite order); past the storage quota they raise :class:`StorageFull`, whose
message speaks to staff, and the page or the API keeps what they wrote. The notes that
closing a case or keeping it longer writes (their reasons, a few hundred bytes) are not
refused: closing and retention are duties under the Directive that a full quota must not
block; they count towards storage, as do sources' sealed identities. (A questionnaire
draft's files are not counted: their rows name a blob only, their sizes are sealed in the
draft, and they are deleted or become items when the draft ends.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailslot.cases.models import Case, Item
from mailslot.context import Quotas
from mailslot.errors import ServiceError
from mailslot.i18n import N_
from mailslot.identity.models import Identity
from mailslot.instance.models import Instance
from mailslot.orgs.errors import QuotaReached

STAFF_STORAGE_FULL: Final = N_(
    "This organisation's storage is full, so nothing was saved; what you wrote is kept "
    "below. Ask your host to raise the storage quota, or delete cases you no longer need."
)


class StorageFull(QuotaReached):
    """A staff write (a reply, a note) would pass the storage quota: said to staff, who can
    act on it, rather than in the words a source sees."""

    def __init__(self) -> None:
        ServiceError.__init__(self, STAFF_STORAGE_FULL)


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


def check_staff(db: Session, quotas: Quotas, *, adding: int) -> None:
    """Refuse a staff write (:class:`StorageFull`) that would store ``adding`` more bytes
    past the storage quota; serialised as :func:`check` is. Call it before recording the
    rows (``adding``: the sealed blob's stored size), or, when the write seals and records
    in one step, once before it with 0 (to take the lock first) and once after it with 0."""
    if quotas.storage is None:
        return
    try:
        check(db, Quotas(storage=quotas.storage), new_case=False, adding=adding)
    except QuotaReached:
        raise StorageFull() from None
