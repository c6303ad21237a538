"""Write export bundles from the database and the blob store, without decrypting anything.

The server needs no key for this: a bundle holds exactly the ciphertext and wraps it stores.
Every drop key goes in with its wraps (version 3), so that the sealed drops in the cases open
offline for those who held the key; with no drop key, the bundle is version 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.cases.errors import CaseNotFound
from mailslot.cases.models import (
    Case,
    CaseKeyWrap,
    CasePastKeyWrap,
    Item,
    ItemKeyWrap,
    KeyHolder,
)
from mailslot.dropkeys.models import DropKey, DropKeyWrap
from mailslot.offline.bundle import (
    BundleWriter,
    CaseRecord,
    CaseWrap,
    DropKeyRecord,
    ItemRecord,
    PastWrap,
)
from mailslot.recipients.models import User
from mailslot.storage import BlobStore


@dataclass
class ExportSummary:
    cases: int = 0
    items: int = 0
    bytes: int = 0
    # Items with no wrap to the case key (nobody but the source could open them): left out.
    left_out: int = 0


def find_case(db: Session, ref: str) -> Case:
    """A case by its id or its pseudonym."""
    ref = ref.strip()
    case = db.get(Case, ref.lower()) if len(ref) == 32 else None
    if case is None:
        case = db.scalar(select(Case).where(Case.pseudonym == ref))
    if case is None:
        raise CaseNotFound()
    return case


def all_cases(db: Session) -> list[Case]:
    return list(db.scalars(select(Case).order_by(Case.created_at, Case.id)))


def drop_key_records(db: Session) -> list[DropKeyRecord]:
    """Every drop key that is wrapped to someone, with its wraps by recipient fingerprint."""
    rows = db.execute(
        select(DropKey.id, DropKeyWrap.wrapped, User.public_key)
        .join(DropKeyWrap, DropKeyWrap.drop_key_id == DropKey.id)
        .join(User, User.id == DropKeyWrap.user_id)
        .order_by(DropKey.created_at, DropKey.id, User.id)
    ).all()
    wraps: dict[str, list[CaseWrap]] = {}
    for key_id, wrapped, public_key in rows:
        wraps.setdefault(key_id, []).append(
            CaseWrap(recipient=crypto.key_fingerprint(public_key), wrapped=wrapped)
        )
    return [DropKeyRecord(id=bytes.fromhex(k), wraps=tuple(w)) for k, w in wraps.items()]


def _case_record(db: Session, case: Case, items: int) -> CaseRecord:
    rows = db.execute(
        select(CaseKeyWrap.wrapped, User.public_key)
        .join(User, User.id == CaseKeyWrap.user_id)
        .where(CaseKeyWrap.case_id == case.id)
        .order_by(User.id)
    ).all()
    # The earlier key versions, for the items sealed before a revocation rotated the key.
    past = db.execute(
        select(CasePastKeyWrap.version, CasePastKeyWrap.wrapped, User.public_key)
        .join(User, User.id == CasePastKeyWrap.user_id)
        .where(CasePastKeyWrap.case_id == case.id)
        .order_by(User.id, CasePastKeyWrap.version)
    ).all()
    return CaseRecord(
        id=bytes.fromhex(case.id),
        pseudonym=case.pseudonym,
        created_at=case.created_at,
        public_key=case.public_key,
        wraps=tuple(
            CaseWrap(recipient=crypto.key_fingerprint(public_key), wrapped=wrapped)
            for wrapped, public_key in rows
        ),
        items=items,
        key_version=case.key_version,
        past_wraps=tuple(
            PastWrap(recipient=crypto.key_fingerprint(public_key), version=version, wrapped=wrapped)
            for version, wrapped, public_key in past
        ),
    )


def export_cases(
    db: Session, blobs: BlobStore, cases: Sequence[Case], out: IO[bytes]
) -> ExportSummary:
    """Write one bundle holding ``cases``; memory stays bounded by one frame and one chunk."""
    summary = ExportSummary()
    writer = BundleWriter(out, drop_key_records(db))
    for case in cases:
        rows = db.execute(
            select(Item, ItemKeyWrap.wrapped)
            .outerjoin(
                ItemKeyWrap,
                (ItemKeyWrap.item_id == Item.id) & (ItemKeyWrap.holder == KeyHolder.CASE.value),
            )
            .where(Item.case_id == case.id)
            .order_by(Item.position)
        ).all()
        items = [(item, wrap) for item, wrap in rows if wrap is not None]
        summary.left_out += len(rows) - len(items)
        writer.case(_case_record(db, case, len(items)))
        summary.cases += 1
        for item, wrap in items:
            size = blobs.size(item.blob_id)
            record = ItemRecord(
                case=bytes.fromhex(case.id),
                id=bytes.fromhex(item.id),
                position=item.position,
                kind=item.kind,
                created_at=item.created_at,
                sealed_meta=item.sealed_meta,
                wrap=wrap,
                size=size,
                key_version=item.key_version,
            )
            writer.item(record, blobs.open(item.blob_id))
            summary.items += 1
            summary.bytes += size
    writer.finish()
    return summary
