"""Opening a sealed drop for a recipient, as use cases shared by the staff pages: the item is
decrypted with the case key as usual, then the age file inside with the drop keys the reader
holds. A drop that no key of theirs opens is not an error: it is shown as "sealed to a key
this channel does not hold". Each opening is recorded as ``case.download``.

A drop made by ``mailslot seal`` holds a tar (a note and files, ``drops.read_drop``); a file
sealed with the plain ``age`` tool holds anything, and is shown as one file named after the
upload (without ``.age``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from mailslot import drops
from mailslot.audit import services as audit
from mailslot.cases import reading as case_reading
from mailslot.cases import services as cases
from mailslot.cases.errors import ItemNotFound, KeyOffline
from mailslot.context import OrgContext
from mailslot.dropkeys import services as dropkeys
from mailslot.recipients.models import User
from mailslot.storage import BlobStore

TAR_BLOCK: Final = 512
MAX_NOTE_CHARS: Final = 1024 * 1024
PIECE: Final = 1 << 20

# Why a drop cannot be shown (message ids; the page translates them).
NOT_HELD: Final = "sealed to a key this channel does not hold"
DAMAGED: Final = "damaged"


@dataclass(frozen=True, slots=True)
class DropFile:
    index: int
    name: str
    size: int


@dataclass(slots=True)
class DropContents:
    """What a sealed drop holds, for its reader; ``problem`` is set instead when it cannot be
    opened (:data:`NOT_HELD` or :data:`DAMAGED`)."""

    case_id: str
    item_id: str
    filename: str
    note: str | None = None
    files: list[DropFile] = field(default_factory=list)
    problem: str | None = None


class _Replay:
    """A reader that gives back ``head`` before the rest of ``reader``."""

    def __init__(self, head: bytes, reader: drops.DropReader) -> None:
        self._head = head
        self._reader = reader

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                out, self._head = self._head + self._reader.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._reader.read(n)


def _single_name(filename: str) -> str:
    base = filename[:-4] if filename.lower().endswith(".age") else filename
    return base or "drop"


@dataclass(frozen=True, slots=True)
class _Entry:
    is_note: bool
    name: str
    size: int  # -1 for a plain age file, whose size is known once it is read
    read: Callable[[int], bytes]


def _entries(
    blobs: BlobStore, view: cases.ItemView, identities: list[drops.PqIdentity]
) -> Iterator[_Entry]:
    """The drop's entries as a stream (the tar's, or one for a plain age file). Raises
    :class:`drops.NoMatchingKey` or another :class:`drops.DropError`."""
    chunks = cases.stream_item(blobs, view.item, view.data_key)
    reader = drops.DropReader(identities, _read_from(chunks))
    head = reader.read(TAR_BLOCK)
    replay = _Replay(head, reader)
    if len(head) == TAR_BLOCK and drops.looks_like_tar(head):
        for entry in drops.read_drop(replay):
            yield _Entry(entry.is_note, entry.name, entry.size, entry.stream.read)
    else:
        yield _Entry(False, _single_name(view.filename), -1, replay.read)


def _read_from(chunks: Iterator[bytes]) -> Callable[[int], bytes]:
    buffer = bytearray()

    def read(n: int) -> bytes:
        while len(buffer) < n:
            piece = next(chunks, None)
            if piece is None:  # the end (a piece may be empty before it)
                break
            buffer.extend(piece)
        out = bytes(buffer[:n])
        del buffer[:n]
        return out

    return read


def _open(
    ctx: OrgContext,
    user: User,
    seed: bytes | None,
    case_id: str,
    item_id: str,
    *,
    entry: int | None,
) -> tuple[cases.ItemView, list[drops.PqIdentity]]:
    if seed is None:
        raise KeyOffline()
    with ctx.db() as db:
        case, wrap = cases.case_for_user(db, user, case_id)
        keys = cases.case_keys(db, case, wrap, seed)
        view = cases.item_for_download(db, case, keys, item_id)
        if not view.sealed_drop:
            raise ItemNotFound()
        identities = dropkeys.held_identities(db, user, seed)
        detail = {"item_id": view.item.id} | ({} if entry is None else {"entry": entry})
        audit.record(
            db,
            "case.download",
            now=ctx.now(),
            actor_id=user.id,
            actor=user.username,
            case_id=case.id,
            **detail,
        )
    return view, identities


def open_drop(
    ctx: OrgContext, user: User, seed: bytes | None, case_id: str, item_id: str
) -> DropContents:
    """The contents of a sealed drop: its note and the names and sizes of its files (the
    whole drop is decrypted to list them, nothing is kept)."""
    view, identities = _open(ctx, user, seed, case_id, item_id, entry=None)
    contents = DropContents(case_id=case_id, item_id=item_id, filename=view.filename)
    try:
        for index, entry in enumerate(_entries(ctx.blobs, view, identities)):
            if entry.is_note:
                text = entry.read(MAX_NOTE_CHARS)
                contents.note = text.decode("utf-8", errors="replace")
                continue
            size = entry.size
            if size < 0:  # a plain age file: its size is known once it is read
                size = 0
                while piece := entry.read(PIECE):
                    size += len(piece)
            contents.files.append(DropFile(index=index, name=entry.name, size=size))
    except drops.NoMatchingKey:
        return DropContents(case_id, item_id, view.filename, problem=NOT_HELD)
    except drops.DropError:
        return DropContents(case_id, item_id, view.filename, problem=DAMAGED)
    return contents


def open_drop_file(
    ctx: OrgContext, user: User, seed: bytes | None, case_id: str, item_id: str, *, index: int
) -> tuple[str, Iterator[bytes]]:
    """One file of a sealed drop, by its index in :func:`open_drop`'s listing: its name and
    its bytes as they are decrypted. Raises :class:`ItemNotFound` for a drop that does not
    open or has no such file (before any byte is returned)."""
    view, identities = _open(ctx, user, seed, case_id, item_id, entry=index)
    try:
        entries = _entries(ctx.blobs, view, identities)
        for number, entry in enumerate(entries):
            if number == index and not entry.is_note:
                first = entry.read(PIECE)
                return entry.name, _rest(first, entry, entries)
            if number >= index:
                break
            while entry.read(PIECE):
                pass
    except drops.DropError:
        raise ItemNotFound() from None
    raise ItemNotFound()


def _rest(first: bytes, entry: _Entry, entries: Iterator[_Entry]) -> Iterator[bytes]:
    try:
        if first:
            yield first
        while piece := entry.read(PIECE):
            yield piece
    finally:
        close = getattr(entries, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True, slots=True)
class DropOpener:
    """Opens the drops of one case for the zip, with the drop keys its reader holds."""

    blobs: BlobStore
    identities: list[drops.PqIdentity] = field(repr=False)

    def members(self, view: cases.ItemView) -> Iterator[tuple[str, Callable[[int], bytes]]]:
        """Each member of a drop as (``note.txt`` or ``files/NAME``, a reader), in order;
        each must be read to its end before the next is asked for. A drop that does not
        open has no members here (the sealed file itself is still in the zip)."""
        if not view.sealed_drop:
            return
        try:
            for entry in _entries(self.blobs, view, self.identities):
                yield ("note.txt" if entry.is_note else f"files/{entry.name}"), entry.read
        except drops.DropError:
            return


@dataclass(frozen=True, slots=True)
class CaseDownload:
    pseudonym: str
    views: list[cases.ItemView]
    drops: DropOpener


def open_all(ctx: OrgContext, user: User, seed: bytes | None, case_id: str) -> CaseDownload:
    """Every item of a case ready to stream (``cases.reading.open_all``, which records
    ``case.download_all``), and what opens its sealed drops."""
    pseudonym, views = case_reading.open_all(ctx, user, seed, case_id)
    identities: list[drops.PqIdentity] = []
    if seed is not None and any(view.sealed_drop for view in views):
        with ctx.db() as db:
            identities = dropkeys.held_identities(db, user, seed)
    return CaseDownload(pseudonym, views, DropOpener(ctx.blobs, identities))
