"""Cases and items for their readers: case keys, read marks, opening items, deleting a case.

What arrives is sealed in :mod:`mailslot.cases.sealing`; what a returning source sees is in
:mod:`mailslot.cases.source_items`.

Key hierarchy (docs/spec/format.md): each case has a key pair whose seed is wrapped to every
recipient of its channel; each item has a fresh data key wrapped to the case key, and for
replies (or, if the instance opts in, everything) also to the source's codename key.

Revoking someone's access rotates the case key (:func:`rotate_case_key`): a new version whose
seed is wrapped to the remaining holders, each of whom also keeps the earlier versions' seeds
(``CasePastKeyWrap``). Every item records the version its data key is wrapped to, so readers
open old and new items alike (:class:`CaseKeys`), and the revoked holder gets nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final, cast

from sqlalchemy import Table, and_, delete, select, update
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.cases.errors import CaseNotFound, ItemNotFound, KeyOffline
from mailslot.cases.meta import ItemMeta, open_item_meta
from mailslot.cases.models import (
    Case,
    CaseKeyWrap,
    CasePastKeyWrap,
    CaseRead,
    Item,
    ItemKeyWrap,
    ItemKind,
    KeyHolder,
)
from mailslot.db.base import insert_ignoring_conflict, shred_on_commit
from mailslot.errors import InvalidInput
from mailslot.i18n import N_plural
from mailslot.identity.models import Identity
from mailslot.questionnaires.reading import ANSWERS_TYPE
from mailslot.questionnaires.reading import readable as readable_answers
from mailslot.recipients.models import Role, User
from mailslot.storage import BlobStore

_CASE_READS: Final = cast(Table, CaseRead.__table__)


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


def item_data_key(db: Session, item: Item, holder: KeyHolder, key: crypto.KeyPair) -> bytes:
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
    data_key = item_data_key(db, item, KeyHolder.CASE, keys.for_item(item))
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
