"""The payload's byte layout: frames, the typed values in rows, and the rules each frame obeys.

``docs/spec/format.md``, "Backups (MSLA)"::

    payload = manifest frame || for each table: table frame, row frames || end frame
    frame   = u32(len(json)) || json      canonical JSON: sorted keys, no spaces, UTF-8
    blobs   : each ``items`` or ``identities`` row frame is followed by a blob frame and
              exactly ``size`` bytes

Encoding and decoding both live here, so the two cannot drift apart. Decoding is strict (one
spelling for each value, no duplicate keys, no JSON floats) and fails with the one opaque
:class:`~mailslot.backup.errors.ArchiveUnreadable`. Frames are read and written by
:mod:`mailslot.framing`, which the export bundle shares; each format raises its own error.
The frame order (tables in schema order, a blob after each item and each identity) is checked by
:mod:`mailslot.backup.read`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from sqlalchemy import Boolean, Column, Float, Integer, LargeBinary, String, Table

from mailslot import __version__, framing
from mailslot.backup.errors import ArchiveUnreadable, NotEncodable
from mailslot.db import migrate
from mailslot.db.models import Base

FORMAT_VERSION: Final = 1
MAX_FRAME_SIZE: Final = 1024 * 1024
MAX_INT: Final = 2**53 - 1
# Integer columns hold 64-bit values; JSON integers of any size parse exactly in Python.
_INT_RANGE: Final = (-(2**63), 2**63 - 1)
ITEMS_TABLE: Final = "items"
ITEM_WRAPS_TABLE: Final = "item_key_wraps"
IDENTITIES_TABLE: Final = "identities"
# The tables whose rows each name a blob (``blob_id``, ``stored_size``): every row frame of one
# is followed by its blob frame and its bytes.
BLOB_TABLES: Final = frozenset({ITEMS_TABLE, IDENTITIES_TABLE})
# The rows that belong to a row of a blob table (table: its column naming that row, and the
# blob table): in an archive only after that row, and left out with it.
BLOB_CHILDREN: Final = {
    ITEM_WRAPS_TABLE: ("item_id", ITEMS_TABLE),
    "identity_key_wraps": ("identity_id", IDENTITIES_TABLE),
    "identity_requests": ("identity_id", IDENTITIES_TABLE),
}
BLOB_ID: Final = re.compile(r"[0-9a-f]{64}")
_VERSION: Final = re.compile(r"[0-9A-Za-z.+_-]{1,64}")

_MANIFEST_KEYS: Final = frozenset({"type", "format", "mailslot", "schema", "created_at", "tables"})
_TABLE_ENTRY_KEYS: Final = frozenset({"name", "columns"})
TABLE_KEYS: Final = frozenset({"type", "name"})
ROW_KEYS: Final = frozenset({"type", "values"})
BLOB_KEYS: Final = frozenset({"type", "id", "size"})
END_KEYS: Final = frozenset({"type", "rows", "blobs", "bytes", "dropped"})


# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Codec:
    """How one column's values travel as JSON (the database type decides, not the value)."""

    name: str
    kind: str  # "int", "bool", "float", "bytes", "str"
    nullable: bool
    length: int | None

    def encode(self, value: Any) -> Any:
        if value is None:
            if not self.nullable:
                raise NotEncodable(f"{self.name} is NULL")
            return None
        if self.kind == "bytes":
            return base64.b64encode(bytes(value)).decode("ascii")
        if self.kind == "float":
            number = float(value)
            if not math.isfinite(number):
                raise NotEncodable(f"{self.name} is not finite")
            return repr(number)
        if self.kind == "bool":
            return bool(value)
        if self.kind == "int":
            return int(value)
        return str(value)

    def decode(self, value: Any) -> Any:
        if value is None:
            if not self.nullable:
                raise ArchiveUnreadable()
            return None
        if self.kind == "int":
            return _decode_int(value)
        if self.kind == "bool":
            return _decode_bool(value)
        if type(value) is not str:
            raise ArchiveUnreadable()
        if self.kind == "float":
            return _decode_float(value)
        if self.kind == "bytes":
            return self._fits(_decode_base64(value))
        return self._fits(_decode_text(value))

    def _fits(self, value: str | bytes) -> Any:
        if self.length is not None and len(value) > self.length:
            raise ArchiveUnreadable()
        return value


def _decode_int(value: Any) -> int:
    if type(value) is not int or not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise ArchiveUnreadable()
    return value


def _decode_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise ArchiveUnreadable()
    return value


def _decode_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ArchiveUnreadable() from None
    # One spelling per value: what repr() writes, finite.
    if not math.isfinite(number) or repr(number) != value:
        raise ArchiveUnreadable()
    return number


def _decode_base64(value: str) -> bytes:
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise ArchiveUnreadable() from None
    if base64.b64encode(data).decode("ascii") != value:
        raise ArchiveUnreadable()  # one spelling: canonical padding, no stray bits
    return data


def _decode_text(value: str) -> str:
    if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ArchiveUnreadable()  # no database stores these in text
    return value


def _codec(column: Column[Any]) -> Codec:
    kind_of = column.type
    length = getattr(kind_of, "length", None)
    if isinstance(kind_of, Boolean):
        kind = "bool"
    elif isinstance(kind_of, Integer):
        kind = "int"
    elif isinstance(kind_of, Float):
        kind = "float"
    elif isinstance(kind_of, LargeBinary):
        kind = "bytes"
    elif isinstance(kind_of, String):
        kind = "str"
    else:  # pragma: no cover - a new column type needs a line above, and a test catches it
        raise TypeError(f"{column.table.name}.{column.name}: no backup codec for {kind_of!r}")
    return Codec(column.name, kind, bool(column.nullable), length)


@dataclass(frozen=True)
class TableSpec:
    """One table as the archive carries it: its columns in schema order, each with a codec."""

    table: Table
    codecs: tuple[Codec, ...]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def columns(self) -> list[str]:
        return [codec.name for codec in self.codecs]

    def encode_row(self, values: Mapping[Any, Any]) -> bytes:
        return encode_frame(
            {"type": "row", "values": [c.encode(values[c.name]) for c in self.codecs]}
        )

    def decode_row(self, values: Any) -> dict[str, Any]:
        """A row frame's ``values``: a list with one valid value per column."""
        if type(values) is not list or len(values) != len(self.codecs):
            raise ArchiveUnreadable()
        return {c.name: c.decode(v) for c, v in zip(self.codecs, values, strict=True)}


def table_specs() -> list[TableSpec]:
    """Every table of this version's schema, parents before children."""
    return [
        TableSpec(table, tuple(_codec(column) for column in table.columns))
        for table in Base.metadata.sorted_tables
    ]


# -- frames ---------------------------------------------------------------------------------------


class ByteReader(Protocol):
    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or raise."""


def encode_frame(obj: dict[str, Any]) -> bytes:
    """u32 length, then canonical JSON (sorted keys, no spaces, UTF-8)."""
    return framing.encode(
        obj, limit=MAX_FRAME_SIZE, too_large=lambda: NotEncodable("backup frame too large")
    )


def read_frame(source: ByteReader) -> dict[str, Any]:
    """The next frame's JSON object (its length is checked before its bytes are read)."""
    (size,) = framing.LENGTH.unpack(source.read(4))
    if size > MAX_FRAME_SIZE:
        raise ArchiveUnreadable()
    return decode_frame_json(source.read(size))


def decode_frame_json(data: bytes) -> dict[str, Any]:
    """Parse one frame's JSON strictly: UTF-8, an object, no duplicate keys, integers only."""
    return framing.decode(data, malformed=ArchiveUnreadable)


def check_keys(obj: dict[str, Any], expected: frozenset[str]) -> dict[str, Any]:
    if obj.keys() != expected:
        raise ArchiveUnreadable()
    return obj


def check_count(value: Any) -> int:
    """A non-negative integer that every JSON reader holds exactly."""
    if type(value) is not int or not 0 <= value <= MAX_INT:
        raise ArchiveUnreadable()
    return value


def check_text(value: Any, pattern: re.Pattern[str]) -> str:
    if type(value) is not str or not pattern.fullmatch(value):
        raise ArchiveUnreadable()
    return value


# -- the manifest and the end frame ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    mailslot: str
    schema: str
    created_at: int


@dataclass
class BackupSummary:
    """What an archive holds, as the end frame counts it."""

    rows: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    bytes: int = 0
    # Items and identities whose blob vanished while the backup ran (their case was deleted):
    # left out.
    dropped: int = 0
    schema: str = ""
    created_at: int = 0


def manifest_frame(specs: list[TableSpec], created_at: int) -> bytes:
    return encode_frame(
        {
            "type": "manifest",
            "format": FORMAT_VERSION,
            "mailslot": __version__,
            "schema": migrate.HEAD,
            "created_at": created_at,
            "tables": [{"name": s.name, "columns": s.columns} for s in specs],
        }
    )


def decode_manifest(obj: dict[str, Any], specs: list[TableSpec]) -> Manifest:
    """The first frame: this format, this schema revision, and exactly its tables and columns."""
    check_keys(obj, _MANIFEST_KEYS)
    if obj["type"] != "manifest" or check_count(obj["format"]) != FORMAT_VERSION:
        raise ArchiveUnreadable()
    _check_tables(obj["tables"], specs)
    schema = obj["schema"]
    if type(schema) is not str or schema != migrate.HEAD:
        raise ArchiveUnreadable()
    return Manifest(
        format=FORMAT_VERSION,
        mailslot=check_text(obj["mailslot"], _VERSION),
        schema=schema,
        created_at=check_count(obj["created_at"]),
    )


def _check_tables(tables: Any, specs: list[TableSpec]) -> None:
    if type(tables) is not list or len(tables) != len(specs):
        raise ArchiveUnreadable()
    for entry, expected in zip(tables, specs, strict=True):
        if type(entry) is not dict or check_keys(entry, _TABLE_ENTRY_KEYS)["name"] != expected.name:
            raise ArchiveUnreadable()
        if entry["columns"] != expected.columns:
            raise ArchiveUnreadable()


def table_frame(name: str) -> bytes:
    return encode_frame({"type": "table", "name": name})


def blob_frame(blob_id: str, size: int) -> bytes:
    return encode_frame({"type": "blob", "id": blob_id, "size": size})


def end_frame(summary: BackupSummary) -> bytes:
    return encode_frame(
        {
            "type": "end",
            "rows": summary.rows,
            "blobs": summary.blobs,
            "bytes": summary.bytes,
            "dropped": summary.dropped,
        }
    )
