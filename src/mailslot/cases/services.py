"""Cases and items: sealing what arrives, wrapping keys to who may read, opening for them.

Key hierarchy (docs/spec/format.md): each case has a key pair whose seed is wrapped to every
recipient of its channel; each item has a fresh data key wrapped to the case key, and for
replies (or, if the instance opts in, everything) also to the source's codename key.

Revoking someone's access rotates the case key (:func:`rotate_case_key`): a new version whose
seed is wrapped to the remaining holders, each of whom also keeps the earlier versions' seeds
(``CasePastKeyWrap``). Every item records the version its data key is wrapped to, so readers
open old and new items alike (:class:`CaseKeys`), and the revoked holder gets nothing new.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

from sqlalchemy import Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mailslot import crypto
from mailslot.cases.deadlines import start_deadlines
from mailslot.cases.errors import CaseNotFound, ChannelClosed, ItemNotFound, KeyOffline
from mailslot.cases.meta import ItemMeta, open_item_meta, seal_item_meta
from mailslot.cases.models import (
    Case,
    CaseAccess,
    CaseKeyWrap,
    CasePastKeyWrap,
    CaseRead,
    Counter,
    Item,
    ItemKeyWrap,
    ItemKind,
    KeyHolder,
)
from mailslot.channels.models import Channel, ChannelMember
from mailslot.db.base import coarse, insert_ignoring_conflict, new_id, shred_on_commit
from mailslot.drops.age import looks_like_age
from mailslot.drops.recognise import PEEK, PREFIX_LIMIT, is_sealed_drop
from mailslot.errors import InvalidInput, TooLarge
from mailslot.i18n import N_plural
from mailslot.identity.models import Identity
from mailslot.instance.models import Instance
from mailslot.questionnaires.reading import ANSWERS_TYPE
from mailslot.questionnaires.reading import readable as readable_answers
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
_CASE_READS: Final = cast(Table, CaseRead.__table__)
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


# Reading, for recipients.


def case_for_user(db: Session, user: User, case_id: str) -> tuple[Case, CaseKeyWrap]:
    # Only recipients ever read cases: a stray wrap must not let an admin or analyst in.
    if len(case_id) != 32 or user.role != Role.RECIPIENT.value:
        raise CaseNotFound()
    row = db.execute(
        select(Case, CaseKeyWrap)
        .join(CaseKeyWrap, CaseKeyWrap.case_id == Case.id)
        .where(Case.id == case_id, CaseKeyWrap.user_id == user.id)
    ).first()
    if row is None:
        raise CaseNotFound()
    return row[0], row[1]


def case_key(case: Case, wrap: CaseKeyWrap, user_seed: bytes | None) -> crypto.KeyPair:
    """The case's current key pair, opened with the reader's own key seed."""
    if user_seed is None:
        raise KeyOffline()
    recipient = crypto.KeyPair.from_seed(user_seed)
    return _open_case_seed(recipient, case.id, case.key_version, wrap.wrapped, case.public_key)


def _open_case_seed(
    recipient: crypto.KeyPair,
    case_id: str,
    version: int,
    wrapped: bytes,
    public_key: bytes | None = None,
) -> crypto.KeyPair:
    context = crypto.case_key_context(bytes.fromhex(case_id), version)
    key = crypto.KeyPair.from_seed(recipient.unwrap(wrapped, crypto.WrapPurpose.CASE_KEY, context))
    if public_key is not None:
        crypto.verify(key.public_key, public_key)  # the stored key is the one wrapped
    return key


@dataclass(frozen=True, slots=True)
class CaseKeys:
    """Every version of a case's key that one reader holds: the current one, and the earlier
    ones for the items sealed before a rotation."""

    version: int
    keys: dict[int, crypto.KeyPair] = field(repr=False)

    @property
    def current(self) -> crypto.KeyPair:
        return self.keys[self.version]

    def for_item(self, item: Item) -> crypto.KeyPair:
        key = self.keys.get(item.key_version)
        if key is None:
            raise ItemNotFound()  # a version this reader never held (not reachable today)
        return key


def case_keys(db: Session, case: Case, wrap: CaseKeyWrap, user_seed: bytes | None) -> CaseKeys:
    """Every version of the case key ``wrap``'s holder can open (raises ``KeyOffline``)."""
    if user_seed is None:
        raise KeyOffline()
    recipient = crypto.KeyPair.from_seed(user_seed)
    current = _open_case_seed(recipient, case.id, case.key_version, wrap.wrapped, case.public_key)
    keys = {case.key_version: current}
    for version, wrapped in db.execute(
        select(CasePastKeyWrap.version, CasePastKeyWrap.wrapped).where(
            CasePastKeyWrap.case_id == case.id, CasePastKeyWrap.user_id == wrap.user_id
        )
    ):
        keys[version] = _open_case_seed(recipient, case.id, version, wrapped)
    return CaseKeys(version=case.key_version, keys=keys)


def rotate_case_key(db: Session, case: Case) -> None:
    """Give the case a new key version, wrapped to everyone who holds it now.

    Called after a holder's wraps were deleted: the remaining holders' wraps of the current
    seed become past-key wraps (unchanged bytes: they were already wrapped to them), and
    each gets the new seed. Only public keys are needed, so anyone may revoke, even someone
    whose key is offline. Items sealed from now on are wrapped to the new public key.
    """
    old, new = case.key_version, case.key_version + 1
    key_pair = crypto.KeyPair.generate()
    context = crypto.case_key_context(bytes.fromhex(case.id), new)
    rows = db.execute(
        select(CaseKeyWrap, User.public_key)
        .join(User, User.id == CaseKeyWrap.user_id)
        .where(CaseKeyWrap.case_id == case.id)
    ).all()
    for wrap, public_key in rows:
        db.add(
            CasePastKeyWrap(
                case_id=case.id, user_id=wrap.user_id, version=old, wrapped=wrap.wrapped
            )
        )
        wrap.wrapped = crypto.wrap_key(
            public_key, key_pair.seed, crypto.WrapPurpose.CASE_KEY, context
        )
    case.public_key = key_pair.public_key
    case.key_version = new
    db.flush()


def past_key_wraps(case: Case, keys: CaseKeys, user: User) -> list[CasePastKeyWrap]:
    """The earlier versions' seeds wrapped to ``user`` (someone being given access)."""
    user_rows = []
    case_id = bytes.fromhex(case.id)
    for version, key in sorted(keys.keys.items()):
        if version == keys.version:
            continue
        wrapped = crypto.wrap_key(
            user.public_key,
            key.seed,
            crypto.WrapPurpose.CASE_KEY,
            crypto.case_key_context(case_id, version),
        )
        user_rows.append(
            CasePastKeyWrap(case_id=case.id, user_id=user.id, version=version, wrapped=wrapped)
        )
    return user_rows


def mark_read(db: Session, case: Case, user: User) -> None:
    """Record that ``user`` has read ``case`` up to now. Two first views at once (two tabs,
    two processes) both insert the row: the loser's insert does nothing and it updates."""
    db.flush()
    values = {"case_id": case.id, "user_id": user.id, "activity_seq": case.activity_seq}
    dialect = db.get_bind().dialect.name
    db.execute(insert_ignoring_conflict(dialect, _CASE_READS, values, ["case_id", "user_id"]))
    db.execute(
        update(CaseRead)
        .where(CaseRead.case_id == case.id, CaseRead.user_id == user.id)
        .values(activity_seq=case.activity_seq)
    )


@dataclass
class ItemView:
    """An item as a recipient sees it. ``sealed`` views (key offline) carry no metadata."""

    item: Item
    meta: ItemMeta
    data_key: bytes = field(repr=False)
    text: str | None = None
    author: str | None = None
    sealed: bool = False

    @property
    def automatic(self) -> bool:
        """An automatic acknowledgement. Its sealed metadata says so; with the key offline,
        it is the reply without an author (staff accounts are disabled, never deleted, so
        every recipient's reply keeps its author)."""
        if self.item.kind != ItemKind.REPLY:
            return False
        return self.meta.get("auto", False) or (self.sealed and self.item.author_id is None)

    @property
    def filename(self) -> str:
        return self.meta.get("filename", "")

    @property
    def content_type(self) -> str:
        return self.meta.get("content_type") or "application/octet-stream"

    @property
    def size(self) -> int:
        return self.meta.get("size", 0)

    @property
    def sealed_drop(self) -> bool:
        """A file recognised as a sealed drop when it arrived (``dropkeys.reading`` opens it)."""
        return self.meta.get("drop", False)

    @property
    def time(self) -> int:
        return self.meta.get("time") or self.item.created_at


def _data_key(db: Session, item: Item, holder: KeyHolder, key: crypto.KeyPair) -> bytes:
    """The item's data key from its wrap to ``holder`` (for the case key: the key of the
    item's version, see :meth:`CaseKeys.for_item`)."""
    wrap = db.get(ItemKeyWrap, (item.id, holder.value))
    if wrap is None:
        raise ItemNotFound()
    return key.unwrap(wrap.wrapped, crypto.WrapPurpose.ITEM_KEY, bytes.fromhex(item.id))


def read_text(blobs: BlobStore, item: Item, data_key: bytes) -> str:
    data = b"".join(stream_item(blobs, item, data_key))
    return data.decode("utf-8", errors="replace")


# Downloads read 1 MiB at a time: few hops between threads, and still a small, fixed buffer.
STREAM_READ_SIZE = 1 << 20


def stream_item(blobs: BlobStore, item: Item, data_key: bytes) -> Iterator[bytes]:
    return crypto.open_item_stream(
        bytes.fromhex(item.id), data_key, blobs.open(item.blob_id, STREAM_READ_SIZE)
    )


def case_items(
    db: Session, blobs: BlobStore, case: Case, keys: CaseKeys, *, texts: bool = True
) -> list[ItemView]:
    """Every item of the case, in order, with metadata opened and (unless ``texts`` is False)
    texts decrypted."""
    authors = dict(db.execute(select(User.id, User.username)).all())
    views = []
    # Each item with its case-key wrap, in one query (not one more per item).
    rows = db.execute(
        select(Item, ItemKeyWrap.wrapped)
        .outerjoin(
            ItemKeyWrap,
            and_(ItemKeyWrap.item_id == Item.id, ItemKeyWrap.holder == KeyHolder.CASE.value),
        )
        .where(Item.case_id == case.id)
        .order_by(Item.position)
    )
    for item, wrapped in rows:
        if wrapped is None:
            raise ItemNotFound()
        data_key = keys.for_item(item).unwrap(
            wrapped, crypto.WrapPurpose.ITEM_KEY, bytes.fromhex(item.id)
        )
        meta = open_item_meta(bytes.fromhex(item.id), data_key, item.sealed_meta)
        view = ItemView(
            item=item,
            meta=meta,
            data_key=data_key,
            author=authors.get(item.author_id) if item.author_id else None,
        )
        if texts and item.kind in (ItemKind.MESSAGE, ItemKind.REPLY, ItemKind.NOTE):
            view.text = read_text(blobs, item, data_key)
        elif texts and item.kind == ItemKind.FILE and view.content_type == ANSWERS_TYPE:
            # A questionnaire's answers: shown as questions and answers, file kept.
            view.text = readable_answers(db, read_text(blobs, item, data_key).encode())
        views.append(view)
    return views


def sealed_items(db: Session, case: Case) -> list[ItemView]:
    """What a recipient whose key is offline sees: kinds, order, coarse times, authors."""
    authors = dict(db.execute(select(User.id, User.username)).all())
    return [
        ItemView(
            item=item,
            meta={},
            data_key=b"",
            author=authors.get(item.author_id) if item.author_id else None,
            sealed=True,
        )
        for item in db.scalars(select(Item).where(Item.case_id == case.id).order_by(Item.position))
    ]


def item_for_download(db: Session, case: Case, keys: CaseKeys, item_id: str) -> ItemView:
    item = db.get(Item, item_id) if len(item_id) == 32 else None
    if item is None or item.case_id != case.id:
        raise ItemNotFound()
    data_key = _data_key(db, item, KeyHolder.CASE, keys.for_item(item))
    meta = open_item_meta(bytes.fromhex(item.id), data_key, item.sealed_meta)
    return ItemView(item=item, meta=meta, data_key=data_key)


def delete_case(db: Session, case: Case) -> list[str]:
    """Destroy the key wraps first (crypto-shredding), then the rows. Returns the blob ids,
    which the caller deletes once the transaction has committed."""
    shred_on_commit(db)
    blob_ids = list(db.scalars(select(Item.blob_id).where(Item.case_id == case.id)))
    blob_ids += db.scalars(select(Identity.blob_id).where(Identity.case_id == case.id))
    db.execute(delete(Identity).where(Identity.case_id == case.id))  # its wraps cascade
    item_ids = select(Item.id).where(Item.case_id == case.id)
    db.execute(delete(ItemKeyWrap).where(ItemKeyWrap.item_id.in_(item_ids)))
    db.execute(delete(CaseKeyWrap).where(CaseKeyWrap.case_id == case.id))
    db.execute(delete(CasePastKeyWrap).where(CasePastKeyWrap.case_id == case.id))
    db.execute(delete(CaseRead).where(CaseRead.case_id == case.id))
    db.execute(delete(Item).where(Item.case_id == case.id))
    db.execute(delete(Case).where(Case.id == case.id))
    db.flush()
    return blob_ids


def delete_blobs(blobs: BlobStore, blob_ids: Sequence[str]) -> None:
    for blob_id in blob_ids:
        blobs.delete(blob_id)


MESSAGE_TOO_LONG: Final = N_plural(
    "The message is too long (at most %(num)s character).",
    "The message is too long (at most %(num)s characters).",
)


def check_reply(text: str, max_chars: int) -> str:
    if not text.strip():
        raise InvalidInput("Write a reply before sending.")
    if len(text) > max_chars:
        raise InvalidInput(MESSAGE_TOO_LONG, num=max_chars)
    return text


# Reading, for the source.


@dataclass
class SourceItemView:
    item: Item
    text: str | None = None
    filename: str | None = None
    size: int | None = None
    readable: bool = False


def source_view(
    db: Session, blobs: BlobStore, source_key: crypto.KeyPair, case: Case, *, mark_seen: bool
) -> list[SourceItemView]:
    """What a returning source sees: replies in full; their own items only as a time and kind,
    unless the instance opted in and wrapped them to the source's key."""
    views = []
    held = set(
        db.scalars(
            select(ItemKeyWrap.item_id)
            .join(Item, Item.id == ItemKeyWrap.item_id)
            .where(Item.case_id == case.id, ItemKeyWrap.holder == KeyHolder.SOURCE.value)
        )
    )
    for item in db.scalars(
        select(Item)
        .where(Item.case_id == case.id, Item.kind != ItemKind.NOTE.value)
        .order_by(Item.position)
    ):
        view = SourceItemView(item=item)
        if item.id in held:
            data_key = _data_key(db, item, KeyHolder.SOURCE, source_key)
            meta = open_item_meta(bytes.fromhex(item.id), data_key, item.sealed_meta)
            view.readable = True
            if item.kind == ItemKind.FILE:
                view.filename = meta.get("filename", "")
                view.size = meta.get("size", 0)
            else:
                view.text = read_text(blobs, item, data_key)
            if mark_seen and item.kind == ItemKind.REPLY:
                item.seen_by_source = True
        elif item.kind == ItemKind.REPLY:
            continue  # deleted by the source
        views.append(view)
    db.flush()
    return views


def forget_reply(db: Session, case: Case, item_id: str) -> None:
    """The source deletes a reply: its key wrap goes, so the codename no longer opens it."""
    shred_on_commit(db)
    item = db.get(Item, item_id) if len(item_id) == 32 else None
    if item is None or item.case_id != case.id or item.kind != ItemKind.REPLY:
        raise ItemNotFound()
    db.execute(
        delete(ItemKeyWrap).where(
            ItemKeyWrap.item_id == item.id, ItemKeyWrap.holder == KeyHolder.SOURCE.value
        )
    )
    db.flush()


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


def source_case(db: Session, source_id: str) -> Case | None:
    return db.scalar(
        select(Case).where(Case.source_id == source_id).order_by(Case.created_at).limit(1)
    )
