"""Sealing what arrives: items encrypted into the blob store as their bytes stream in, new
cases with their key pairs wrapped to the channel's recipients, and the rows that record
sealed items in a case (a submission's hot path, in SQLAlchemy Core).

The key hierarchy is in :mod:`mailslot.cases.services`'s docstring and docs/spec/format.md.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mailslot import crypto
from mailslot.cases.deadlines import start_deadlines
from mailslot.cases.errors import ChannelClosed
from mailslot.cases.meta import ItemMeta, seal_item_meta
from mailslot.cases.models import (
    Case,
    CaseAccess,
    CaseKeyWrap,
    Counter,
    Item,
    ItemKeyWrap,
    ItemKind,
    KeyHolder,
)
from mailslot.channels.models import Channel, ChannelMember
from mailslot.db.base import coarse, new_id
from mailslot.drops.age import looks_like_age
from mailslot.drops.recognise import PEEK, PREFIX_LIMIT, is_sealed_drop
from mailslot.errors import TooLarge
from mailslot.instance.models import Instance
from mailslot.recipients.models import Role, User
from mailslot.sources.codenames import generate_pseudonym
from mailslot.storage import BlobStore, BlobWriter

MAX_TEXT_BYTES = 4 * 1024 * 1024
ACTIVITY = "activity"
# Tables for the statements on a submission's hot path (SQLAlchemy Core, no unit of work).
_CASES: Final = cast(Table, Case.__table__)
_ITEMS: Final = cast(Table, Item.__table__)
_ITEM_KEY_WRAPS: Final = cast(Table, ItemKeyWrap.__table__)
_COUNTERS: Final = cast(Table, Counter.__table__)
_INSTANCE: Final = cast(Table, Instance.__table__)
_ITEM_COLUMNS: Final = tuple(column.key for column in _ITEMS.columns)


class ItemUpload:
    """One item being encrypted into the blob store as its bytes arrive.

    Nothing is visible until :meth:`close`; :meth:`abort` leaves no trace but a deleted file.
    An upload that starts like an age file keeps its first bytes in memory (at most
    ``PREFIX_LIMIT``), so that :meth:`close` can tell whether it is a sealed drop
    (``sealed_drop``) from its header alone.
    """

    def __init__(self, blobs: BlobStore, *, limit: int) -> None:
        self.item_id = new_id()
        self.data_key = crypto.new_secret()
        self.limit = limit
        self.stored_size = 0
        self.sealed_drop = False
        self._prefix: bytearray | None = bytearray()
        self._sealer = crypto.ItemSealer(bytes.fromhex(self.item_id), self.data_key)
        self._writer: BlobWriter = blobs.create()
        self._writer.write(self._sealer.header())

    @property
    def blob_id(self) -> str:
        return self._writer.blob_id

    @property
    def length(self) -> int:
        return self._sealer.length

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._sealer.length + len(data) > self.limit:
            raise TooLarge("A file is larger than the limit of %(limit)s.", limit=self.limit)
        if self._prefix is not None:
            self._keep_prefix(data)
        # Each sealed chunk goes to the writer as it is (no joins; the writer gathers them).
        for ciphertext in self._sealer.update_chunks(data):
            self._writer.write(ciphertext)

    def flush(self) -> None:
        """Hand what has been sealed so far to the store now, not in its next write block."""
        self._writer.flush()

    def _keep_prefix(self, data: bytes | bytearray | memoryview) -> None:
        prefix = self._prefix
        assert prefix is not None  # noqa: S101 - only called while keeping it
        if len(prefix) < PREFIX_LIMIT:
            prefix += data[: PREFIX_LIMIT - len(prefix)]
        if len(prefix) >= PEEK and not looks_like_age(bytes(prefix[:PEEK])):
            self._prefix = None  # not an age file: nothing more is kept

    def close(self) -> None:
        for chunk in self._sealer.finish():
            self._writer.write(chunk)
        self.stored_size = self._writer.commit()
        if self._prefix is not None:
            self.sealed_drop = is_sealed_drop(bytes(self._prefix))
            self._prefix = None

    def abort(self) -> None:
        self._writer.abort()


def seal_text(blobs: BlobStore, text: str) -> ItemUpload:
    upload = ItemUpload(blobs, limit=MAX_TEXT_BYTES)
    try:
        upload.write(text.encode())
        upload.close()
    except BaseException:
        upload.abort()
        raise
    return upload


@dataclass(frozen=True, slots=True)
class SealedItem:
    """A closed upload plus the metadata to seal next to it."""

    upload: ItemUpload
    kind: ItemKind
    meta: ItemMeta


def file_item(upload: ItemUpload, filename: str, content_type: str) -> SealedItem:
    """A file from a source, flagged in its sealed metadata if it is a sealed drop."""
    meta: ItemMeta = {"filename": filename, "content_type": content_type}
    if upload.sealed_drop:
        meta["drop"] = True
    return SealedItem(upload=upload, kind=ItemKind.FILE, meta=meta)


# The hot path's statements, built once (each call then skips building and hashing them).
_BUMP_COUNTER: Final = (
    update(_COUNTERS)
    .where(_COUNTERS.c.name == bindparam("counter"))
    .values(value=_COUNTERS.c.value + 1)
    .returning(_COUNTERS.c.value)
)
_ADD_ITEMS_TO_CASE: Final = (
    update(_CASES)
    .where(_CASES.c.id == bindparam("case_id"))
    .values(
        item_count=_CASES.c.item_count + bindparam("added"),
        last_activity_at=bindparam("last_activity_at"),
        activity_seq=bindparam("activity_seq"),
    )
    # The case key as of this row lock: a revocation that commits first has rotated it, and
    # one that comes later waits for this transaction (PostgreSQL), so no new item is ever
    # wrapped to a key version taken from someone.
    .returning(_CASES.c.item_count, _CASES.c.public_key, _CASES.c.key_version)
)
_INSERT_ITEMS: Final = insert(_ITEMS)
_INSERT_ITEM_KEY_WRAPS: Final = insert(_ITEM_KEY_WRAPS)
_SUBMISSION_TARGET: Final = (
    select(_CASES.c.id, _CASES.c.public_key, _INSTANCE.c.show_source_submissions)
    .select_from(_CASES.join(_INSTANCE, _INSTANCE.c.id == bindparam("instance_id")))
    .where(_CASES.c.source_id == bindparam("source_id"))
    .order_by(_CASES.c.created_at)
    .limit(1)
)


def _next(db: Session, name: str) -> int:
    value = db.connection().execute(_BUMP_COUNTER, {"counter": name}).scalar()
    if value is None:
        db.connection().execute(insert(_COUNTERS).values(name=name, value=1))
        return 1
    return int(value)


def open_case(
    db: Session,
    channel: Channel,
    source_id: str | None,
    now: int,
    *,
    only: Collection[str] | None = None,
) -> Case:
    """A new case with its own key pair, wrapped to every active recipient of the channel,
    or only to those of them in ``only`` (chosen by the source: the case is marked so)."""
    recipients = list(
        db.scalars(
            select(User)
            .join(ChannelMember, ChannelMember.user_id == User.id)
            .where(
                ChannelMember.channel_id == channel.id,
                User.disabled.is_(False),
                User.role == Role.RECIPIENT.value,
            )
        )
    )
    if only is not None:
        recipients = [user for user in recipients if user.id in only]
    if not recipients:
        raise ChannelClosed()
    key_pair = crypto.KeyPair.generate()
    pseudonym = generate_pseudonym()
    while db.scalar(select(Case.id).where(Case.pseudonym == pseudonym)) is not None:
        pseudonym = generate_pseudonym()  # pragma: no cover - 60 million names, rare
    case = Case(
        channel_id=channel.id,
        source_id=source_id,
        pseudonym=pseudonym,
        public_key=key_pair.public_key,
        created_at=coarse(now),
        last_activity_at=coarse(now),
        activity_seq=0,
        item_count=0,
        recipients_chosen=only is not None,
    )
    start_deadlines(case, channel, now)
    db.add(case)
    db.flush()
    context = crypto.case_key_context(bytes.fromhex(case.id), 0)
    for user in recipients:
        wrapped = crypto.wrap_key(
            user.public_key, key_pair.seed, crypto.WrapPurpose.CASE_KEY, context
        )
        db.add(CaseKeyWrap(case_id=case.id, user_id=user.id, wrapped=wrapped))
        # The channel's recipients hold the key from the start; the history says since when.
        db.add(CaseAccess(case_id=case.id, user_id=user.id, granted_at=coarse(now)))
    db.flush()
    return case


@dataclass(frozen=True, slots=True)
class CaseRef:
    """What storing new items needs of a case: its id and public key (no ORM object)."""

    id: str
    public_key: bytes


def record_items(
    db: Session,
    case: Case | CaseRef,
    items: Sequence[SealedItem],
    *,
    now: int,
    author_id: str | None = None,
    source_public_key: bytes | None = None,
) -> list[Item]:
    """Store the rows for items whose blobs are already committed.

    Written with SQLAlchemy Core (a submission's hot path): one UPDATE of the case, one of
    the activity counter, and one multi-row INSERT each for items and key wraps. The items
    returned are plain copies, not added to the ORM session; an ORM ``Case`` passed in gets
    its new counters as if loaded from the database.
    """
    if not items:
        return []
    db.flush()  # rows the caller added (a new case) must exist before these refer to them
    connection = db.connection()
    activity_seq = _next(db, ACTIVITY)
    last_activity_at = coarse(now)
    item_count, case_public_key, key_version = connection.execute(
        _ADD_ITEMS_TO_CASE,
        {
            "case_id": case.id,
            "added": len(items),
            "last_activity_at": last_activity_at,
            "activity_seq": activity_seq,
        },
    ).one()
    rows = []
    wraps: list[dict[str, Any]] = []
    for number, sealed in enumerate(items):
        upload = sealed.upload
        item_id = bytes.fromhex(upload.item_id)
        meta: ItemMeta = {**sealed.meta, "time": int(now), "size": upload.length}
        rows.append(
            Item(
                id=upload.item_id,
                case_id=case.id,
                position=item_count - len(items) + 1 + number,
                kind=sealed.kind.value,
                author_id=author_id,
                blob_id=upload.blob_id,
                stored_size=upload.stored_size,
                sealed_meta=seal_item_meta(item_id, upload.data_key, meta),
                created_at=coarse(now),
                seen_by_source=False,
                key_version=key_version,
            )
        )
        holders = [(KeyHolder.CASE, case_public_key)]
        if source_public_key is not None:
            holders.append((KeyHolder.SOURCE, source_public_key))
        wraps.extend(
            {
                "item_id": upload.item_id,
                "holder": holder.value,
                "wrapped": crypto.wrap_key(
                    public_key, upload.data_key, crypto.WrapPurpose.ITEM_KEY, item_id
                ),
            }
            for holder, public_key in holders
        )
    connection.execute(
        _INSERT_ITEMS,
        [{column: getattr(row, column) for column in _ITEM_COLUMNS} for row in rows],
    )
    connection.execute(_INSERT_ITEM_KEY_WRAPS, wraps)
    if isinstance(case, Case):
        # The new values without marking them changed (no second UPDATE at the next flush).
        set_committed_value(case, "item_count", item_count)
        set_committed_value(case, "last_activity_at", last_activity_at)
        set_committed_value(case, "activity_seq", activity_seq)
    return rows


@dataclass(frozen=True, slots=True)
class SubmissionTarget:
    """Where a returning source's new items go, and whether the instance wraps them to the
    source's key too (``show_source_submissions``)."""

    case: CaseRef
    share_with_source: bool


def submission_target(db: Session, source_id: str, instance_id: int) -> SubmissionTarget | None:
    """The source's case and the instance's sharing setting, in one query."""
    row = (
        db.connection()
        .execute(_SUBMISSION_TARGET, {"source_id": source_id, "instance_id": instance_id})
        .first()
    )
    if row is None:
        return None
    return SubmissionTarget(case=CaseRef(id=row[0], public_key=row[1]), share_with_source=row[2])
