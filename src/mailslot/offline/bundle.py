"""Export bundles (``MSLB``): cases as ciphertext only, in one file, for an offline recipient.

Layout (``docs/spec/format.md``, "Export bundles")::

    bundle = "MSLB" 0x03 || frame || frame || ... || end frame
    frame  = u32(len(json)) || json              (drop key, case and end frames)
           | u32(len(json)) || json || stream    (item frames; ``size`` bytes of MSLI follow)

Frames come in order: a case frame, then exactly as many item frames as it announces, then the
next case, and finally one end frame that repeats the totals. Nothing may follow the end frame.
Reading and writing keep at most one frame (1 MiB) and one piece of an item stream in memory.

Version 2 carries case key versions (a revocation rotates the case key): each case frame has
its current ``key_version`` and the recipients' wraps of earlier versions (``past_wraps``), and
each item frame the version its data key is wrapped to. Version 3 adds drop key frames before
the first case: a channel's drop key, its seed wrapped to each recipient who held it, so that
``mailslot decrypt`` opens sealed drops. Versions 1 (no key versions: all 0) and 2 are still
read. A bundle with no drop key to carry is written as version 2, byte for byte what version 3
would be without its drop key frames, so that an offline machine not yet updated still reads it.

Nothing in a bundle is secret and nothing outside the item streams, sealed metadata and wraps is
authenticated: the exporter holds no key that could sign it. Every failure to parse is the one
opaque :class:`~mailslot.crypto.DecryptionError`; the reader never tells which rule failed.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Final

from mailslot import framing
from mailslot.crypto import DecryptionError, EncodingError, check_public_key

BUNDLE_MAGIC_V3: Final = b"MSLB\x03"
BUNDLE_MAGIC: Final = b"MSLB\x02"
BUNDLE_MAGIC_V1: Final = b"MSLB\x01"
MAX_KEY_VERSION: Final = 0xFFFFFFFF
MAX_FRAME_SIZE: Final = 1024 * 1024
MAX_INT: Final = 2**53 - 1
MAX_PSEUDONYM_CHARS: Final = 100
KINDS: Final = frozenset({"message", "file", "reply", "note"})
ID_SIZE: Final = 16
FINGERPRINT_SIZE: Final = 32
PUBLIC_KEY_SIZE: Final = 1221
WRAP_SIZE: Final = 1173
MAX_SEALED_META_SIZE: Final = 65569
READ_SIZE: Final = 64 * 1024

_HEX: Final = re.compile(r"(?:[0-9a-f]{2})*")
_CASE_KEYS_V1: Final = frozenset(
    {"type", "id", "pseudonym", "created_at", "public_key", "wraps", "items"}
)
_CASE_KEYS: Final = _CASE_KEYS_V1 | {"key_version", "past_wraps"}
_WRAP_KEYS: Final = frozenset({"recipient", "wrapped"})
_PAST_WRAP_KEYS: Final = frozenset({"recipient", "version", "wrapped"})
_ITEM_KEYS_V1: Final = frozenset(
    {"type", "case", "id", "position", "kind", "created_at", "sealed_meta", "wrap", "size"}
)
_ITEM_KEYS: Final = _ITEM_KEYS_V1 | {"key_version"}
_END_KEYS: Final = frozenset({"type", "cases", "items"})
_END_KEYS_V3: Final = _END_KEYS | {"drop_keys"}
_DROP_KEY_KEYS: Final = frozenset({"type", "id", "wraps"})
_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class CaseWrap:
    """The case key seed wrapped (MSLW, purpose ``case-key``) to the key with this fingerprint."""

    recipient: bytes
    wrapped: bytes


@dataclass(frozen=True, slots=True)
class PastWrap:
    """The seed of an earlier version of the case key, wrapped to the key with this
    fingerprint (context id: the case id and ``version``)."""

    recipient: bytes
    version: int
    wrapped: bytes


@dataclass(frozen=True, slots=True)
class CaseRecord:
    id: bytes
    pseudonym: str
    created_at: int
    public_key: bytes
    wraps: tuple[CaseWrap, ...]
    items: int
    key_version: int = 0  # the version of ``public_key`` and of ``wraps``
    past_wraps: tuple[PastWrap, ...] = ()

    def wrap_for(self, fingerprint: bytes) -> CaseWrap | None:
        return next((w for w in self.wraps if w.recipient == fingerprint), None)

    def past_wraps_for(self, fingerprint: bytes) -> list[PastWrap]:
        return [w for w in self.past_wraps if w.recipient == fingerprint]


@dataclass(frozen=True, slots=True)
class DropKeyRecord:
    """A drop key (version 3): its id and its 32-byte seed wrapped (purpose ``drop-key``,
    context id: the drop key id) to each recipient who held it, by fingerprint."""

    id: bytes
    wraps: tuple[CaseWrap, ...]

    def wrap_for(self, fingerprint: bytes) -> CaseWrap | None:
        return next((w for w in self.wraps if w.recipient == fingerprint), None)


@dataclass(frozen=True, slots=True)
class ItemRecord:
    case: bytes
    id: bytes
    position: int
    kind: str
    created_at: int
    sealed_meta: bytes
    wrap: bytes
    size: int
    key_version: int = 0  # the case key version ``wrap`` is to


# -- field checks, shared by reader and writer ----------------------------------------------------


def _int(value: Any) -> int:
    # bool is a subclass of int in Python; JSON true is not a number.
    if type(value) is not int or not 0 <= value <= MAX_INT:
        raise DecryptionError()
    return value


def _hex(value: Any, *, size: int | None = None, max_size: int | None = None) -> bytes:
    if type(value) is not str or not _HEX.fullmatch(value):
        raise DecryptionError()
    data = bytes.fromhex(value)
    if (size is not None and len(data) != size) or (max_size is not None and len(data) > max_size):
        raise DecryptionError()
    return data


def _keys(obj: Any, expected: frozenset[str]) -> dict[str, Any]:
    if type(obj) is not dict or obj.keys() != expected:
        raise DecryptionError()
    return obj


def _pseudonym(value: Any) -> str:
    if type(value) is not str or not 1 <= len(value) <= MAX_PSEUDONYM_CHARS:
        raise DecryptionError()
    if any(unicodedata.category(ch) in _UNSAFE_CATEGORIES for ch in value):
        raise DecryptionError()
    return value


def _version(value: Any, below: int | None = None) -> int:
    version = _int(value)
    if version > MAX_KEY_VERSION or (below is not None and version >= below):
        raise DecryptionError()
    return version


def _past_wraps(value: Any, key_version: int) -> tuple[PastWrap, ...]:
    if type(value) is not list:
        raise DecryptionError()
    wraps = []
    for entry in value:
        fields = _keys(entry, _PAST_WRAP_KEYS)
        wraps.append(
            PastWrap(
                recipient=_hex(fields["recipient"], size=FINGERPRINT_SIZE),
                version=_version(fields["version"], below=key_version),
                wrapped=_hex(fields["wrapped"], size=WRAP_SIZE),
            )
        )
    if len({(w.recipient, w.version) for w in wraps}) != len(wraps):
        raise DecryptionError()
    return tuple(wraps)


def _wraps(value: Any) -> tuple[CaseWrap, ...]:
    if type(value) is not list:
        raise DecryptionError()
    wraps = []
    for entry in value:
        fields = _keys(entry, _WRAP_KEYS)
        wraps.append(
            CaseWrap(
                recipient=_hex(fields["recipient"], size=FINGERPRINT_SIZE),
                wrapped=_hex(fields["wrapped"], size=WRAP_SIZE),
            )
        )
    if len({w.recipient for w in wraps}) != len(wraps):
        raise DecryptionError()
    return tuple(wraps)


def _drop_key(obj: dict[str, Any]) -> DropKeyRecord:
    _keys(obj, _DROP_KEY_KEYS)
    return DropKeyRecord(id=_hex(obj["id"], size=ID_SIZE), wraps=_wraps(obj["wraps"]))


def _case(obj: dict[str, Any], version: int = 2) -> CaseRecord:
    _keys(obj, _CASE_KEYS_V1 if version == 1 else _CASE_KEYS)
    key_version = _version(obj["key_version"]) if version >= 2 else 0
    past = _past_wraps(obj["past_wraps"], key_version) if version >= 2 else ()
    public_key = _hex(obj["public_key"], size=PUBLIC_KEY_SIZE)
    check_public_key(public_key)
    wraps = _wraps(obj["wraps"])
    return CaseRecord(
        id=_hex(obj["id"], size=ID_SIZE),
        pseudonym=_pseudonym(obj["pseudonym"]),
        created_at=_int(obj["created_at"]),
        public_key=public_key,
        wraps=wraps,
        items=_int(obj["items"]),
        key_version=key_version,
        past_wraps=past,
    )


def _item(obj: dict[str, Any], version: int = 2) -> ItemRecord:
    _keys(obj, _ITEM_KEYS_V1 if version == 1 else _ITEM_KEYS)
    if type(obj["kind"]) is not str or obj["kind"] not in KINDS:
        raise DecryptionError()
    return ItemRecord(
        case=_hex(obj["case"], size=ID_SIZE),
        id=_hex(obj["id"], size=ID_SIZE),
        position=_int(obj["position"]),
        kind=str(obj["kind"]),
        created_at=_int(obj["created_at"]),
        sealed_meta=_hex(obj["sealed_meta"], max_size=MAX_SEALED_META_SIZE),
        wrap=_hex(obj["wrap"], size=WRAP_SIZE),
        size=_int(obj["size"]),
        key_version=_version(obj["key_version"]) if version >= 2 else 0,
    )


def drop_key_frame(key: DropKeyRecord) -> dict[str, Any]:
    return {
        "type": "drop_key",
        "id": key.id.hex(),
        "wraps": [{"recipient": w.recipient.hex(), "wrapped": w.wrapped.hex()} for w in key.wraps],
    }


def case_frame(case: CaseRecord) -> dict[str, Any]:
    return {
        "type": "case",
        "id": case.id.hex(),
        "pseudonym": case.pseudonym,
        "created_at": case.created_at,
        "public_key": case.public_key.hex(),
        "wraps": [{"recipient": w.recipient.hex(), "wrapped": w.wrapped.hex()} for w in case.wraps],
        "items": case.items,
        "key_version": case.key_version,
        "past_wraps": [
            {"recipient": w.recipient.hex(), "version": w.version, "wrapped": w.wrapped.hex()}
            for w in case.past_wraps
        ],
    }


def item_frame(item: ItemRecord) -> dict[str, Any]:
    return {
        "type": "item",
        "case": item.case.hex(),
        "id": item.id.hex(),
        "position": item.position,
        "kind": item.kind,
        "created_at": item.created_at,
        "sealed_meta": item.sealed_meta.hex(),
        "wrap": item.wrap.hex(),
        "size": item.size,
        "key_version": item.key_version,
    }


def encode_frame(obj: dict[str, Any]) -> bytes:
    """A frame's bytes: its length, then canonical JSON (sorted keys, no spaces, UTF-8)."""
    return framing.encode(
        obj, limit=MAX_FRAME_SIZE, too_large=lambda: EncodingError("bundle frame too large")
    )


def decode_frame_json(data: bytes) -> dict[str, Any]:
    """Parse one frame's JSON strictly: UTF-8, an object, no duplicate keys, integers only."""
    return framing.decode(data, malformed=DecryptionError)


# -- sequence -------------------------------------------------------------------------------------


class _Sequence:
    """The frame order rules, applied identically when writing and reading."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.drop_keys = 0
        self.case: CaseRecord | None = None
        self.pending = 0
        self.last_position = -1
        self.cases = 0
        self.items = 0
        self.ids: set[bytes] = set()
        self.ended = False

    def _new_id(self, value: bytes) -> None:
        if value in self.ids:
            raise DecryptionError()
        self.ids.add(value)

    def on_drop_key(self, key: DropKeyRecord) -> None:
        # Drop keys come first: a reader holds them all before the first drop it opens.
        if self.version < 3 or self.ended or self.cases:
            raise DecryptionError()
        self._new_id(key.id)
        self.drop_keys += 1

    def on_case(self, case: CaseRecord) -> None:
        if self.ended or self.pending:
            raise DecryptionError()
        self._new_id(case.id)
        self.case, self.pending, self.last_position = case, case.items, -1
        self.cases += 1

    def on_item(self, item: ItemRecord) -> None:
        if self.ended or self.case is None or not self.pending or item.case != self.case.id:
            raise DecryptionError()
        if item.key_version > self.case.key_version:
            raise DecryptionError()
        if item.position <= self.last_position:
            raise DecryptionError()
        self._new_id(item.id)
        self.pending -= 1
        self.last_position = item.position
        self.items += 1

    def on_end(self, obj: dict[str, Any]) -> None:
        _keys(obj, _END_KEYS_V3 if self.version >= 3 else _END_KEYS)
        cases, items = _int(obj["cases"]), _int(obj["items"])
        drop_keys = _int(obj["drop_keys"]) if self.version >= 3 else 0
        if self.ended or self.pending or (cases, items) != (self.cases, self.items):
            raise DecryptionError()
        if drop_keys != self.drop_keys:
            raise DecryptionError()
        self.ended = True


# -- writing --------------------------------------------------------------------------------------


class BundleWriter:
    """Write a bundle to a binary file: :meth:`case`, then its :meth:`item` calls, …,
    then :meth:`finish`. Raises :class:`EncodingError` on anything the reader would refuse.
    With ``drop_keys``, the bundle is version 3 and they are written first; without, it is
    version 2."""

    def __init__(self, out: IO[bytes], drop_keys: Iterable[DropKeyRecord] = ()) -> None:
        self._out = out
        keys = list(drop_keys)
        self._sequence = _Sequence(3 if keys else 2)
        self._out.write(BUNDLE_MAGIC_V3 if keys else BUNDLE_MAGIC)
        for key in keys:
            frame = drop_key_frame(key)
            self._check(frame, lambda f: self._sequence.on_drop_key(_drop_key(f)))
            self._out.write(encode_frame(frame))

    def _check(self, frame: dict[str, Any], apply: Callable[[dict[str, Any]], None]) -> None:
        try:
            apply(frame)
        except DecryptionError:
            raise EncodingError("this would not be a valid bundle") from None

    def case(self, case: CaseRecord) -> None:
        frame = case_frame(case)
        self._check(frame, lambda f: self._sequence.on_case(_case(f)))
        self._out.write(encode_frame(frame))

    def item(self, item: ItemRecord, stream: Iterable[bytes]) -> None:
        """Write an item frame and then its stream, which must be exactly ``item.size`` bytes."""
        frame = item_frame(item)
        self._check(frame, lambda f: self._sequence.on_item(_item(f)))
        self._out.write(encode_frame(frame))
        written = 0
        for piece in stream:
            written += len(piece)
            if written > item.size:
                raise EncodingError("item stream longer than announced")
            self._out.write(piece)
        if written != item.size:
            raise EncodingError("item stream shorter than announced")

    def finish(self) -> None:
        frame = {"type": "end", "cases": self._sequence.cases, "items": self._sequence.items}
        if self._sequence.version >= 3:
            frame["drop_keys"] = self._sequence.drop_keys
        self._check(frame, self._sequence.on_end)
        self._out.write(encode_frame(frame))


# -- reading --------------------------------------------------------------------------------------


class ItemEntry:
    """An item frame and its stream, which can be read once, while it is the current entry."""

    def __init__(self, reader: BundleReader, record: ItemRecord) -> None:
        self._reader = reader
        self.record = record

    def stream(self) -> Iterator[bytes]:
        """Yield the item's MSLI stream in pieces; raises if the bundle ends inside it."""
        if self._reader.current is not self:
            raise DecryptionError()
        while self._reader.remaining:
            yield self._reader.read_stream(READ_SIZE)


class BundleReader:
    """Iterate over a bundle's frames: :class:`DropKeyRecord`, :class:`CaseRecord` and
    :class:`ItemEntry`, in order.

    Any deviation from the format raises :class:`DecryptionError` when it is reached; an item
    stream that was not read is skipped. The checks after the end frame (no trailing byte) run
    when iteration finishes, so iterate to the end before trusting the last item.
    """

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.current: ItemEntry | None = None
        self.remaining = 0

    def _read_exact(self, n: int) -> bytes:
        data = self._source.read(n)
        if len(data) != n:
            raise DecryptionError()
        return data

    def read_stream(self, n: int) -> bytes:
        data = self._read_exact(min(n, self.remaining))
        self.remaining -= len(data)
        return data

    def _skip(self) -> None:
        while self.remaining:
            self.read_stream(READ_SIZE)
        self.current = None

    def __iter__(self) -> Iterator[DropKeyRecord | CaseRecord | ItemEntry]:
        magic = self._read_exact(len(BUNDLE_MAGIC))
        if magic not in (BUNDLE_MAGIC_V3, BUNDLE_MAGIC, BUNDLE_MAGIC_V1):
            raise DecryptionError()
        version = magic[-1]
        sequence = _Sequence(version)
        while not sequence.ended:
            self._skip()
            (size,) = struct.unpack(">I", self._read_exact(4))
            if size > MAX_FRAME_SIZE:
                raise DecryptionError()
            frame = decode_frame_json(self._read_exact(size))
            kind = frame.get("type")
            if kind == "drop_key":
                key = _drop_key(frame)
                sequence.on_drop_key(key)
                yield key
            elif kind == "case":
                case = _case(frame, version)
                sequence.on_case(case)
                yield case
            elif kind == "item":
                item = _item(frame, version)
                sequence.on_item(item)
                self.current = ItemEntry(self, item)
                self.remaining = item.size
                yield self.current
            elif kind == "end":
                sequence.on_end(frame)
            else:
                raise DecryptionError()
        if self._source.read(1):
            raise DecryptionError()


def read_all(source: IO[bytes]) -> list[DropKeyRecord | CaseRecord | ItemRecord]:
    """Check a whole bundle's structure (streams are skipped, not decrypted)."""
    out: list[DropKeyRecord | CaseRecord | ItemRecord] = []
    for entry in BundleReader(source):
        out.append(entry.record if isinstance(entry, ItemEntry) else entry)
    return out
