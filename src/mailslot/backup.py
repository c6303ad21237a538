"""Backups: the whole instance (every table and every blob) in one encrypted archive.

Layout (``docs/spec/format.md``, "Backups (MSLA)")::

    archive = MSLA header || MSLI item stream of the payload (see mailslot.crypto.backup)
    payload = manifest frame || for each table: table frame, row frames || end frame
    frame   = u32(len(json)) || json
    items   : each ``items`` row frame is followed by a blob frame and exactly ``size`` bytes

Writing is online: the rows are read in one transaction (REPEATABLE READ on PostgreSQL, one
read transaction on SQLite), and every blob a row names is copied while that snapshot is held.
Blobs are written and fsynced before the rows that name them commit, and never change, so the
snapshot's blobs exist unless their case was deleted after the snapshot began; such an item is
left out with its key wraps and counted. Memory stays bounded by one frame and one chunk:
rows are streamed from the database and blobs from the store.

Restoring reads the archive twice. The first pass decrypts and checks everything and writes
nothing; the second creates the schema and inserts the rows table by table, with the blobs
written through the blob store. The dump is logical (typed JSON values), so an archive made on
SQLite restores onto PostgreSQL and the other way round.

Errors::

    MailslotError
    └── BackupError              a backup or restore that cannot go ahead (message for people)
        └── RestoreTargetNotEmpty   the data directory or database already holds something

Anything wrong with the archive itself is the crypto core's opaque ``DecryptionError``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import os
import re
import shutil
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url

from mailslot import __version__, crypto
from mailslot.config import Config
from mailslot.db import migrate
from mailslot.db.base import coarse, make_engine
from mailslot.db.models import Base
from mailslot.errors import MailslotError, StorageError
from mailslot.offline.bundle import decode_frame_json
from mailslot.storage import BlobStore, FilesystemBlobStore

FORMAT_VERSION: Final = 1
MAX_FRAME_SIZE: Final = 1024 * 1024
MAX_INT: Final = 2**53 - 1
# Integer columns hold 64-bit values; JSON integers of any size parse exactly in Python.
_INT_RANGE: Final = (-(2**63), 2**63 - 1)
READ_SIZE: Final = 64 * 1024
INSERT_BATCH: Final = 200
ITEMS_TABLE: Final = "items"
ITEM_WRAPS_TABLE: Final = "item_key_wraps"
_BLOB_ID: Final = re.compile(r"[0-9a-f]{64}")
_VERSION: Final = re.compile(r"[0-9A-Za-z.+_-]{1,64}")

_MANIFEST_KEYS: Final = frozenset({"type", "format", "mailslot", "schema", "created_at", "tables"})
_TABLE_ENTRY_KEYS: Final = frozenset({"name", "columns"})
_TABLE_KEYS: Final = frozenset({"type", "name"})
_ROW_KEYS: Final = frozenset({"type", "values"})
_BLOB_KEYS: Final = frozenset({"type", "id", "size"})
_END_KEYS: Final = frozenset({"type", "rows", "blobs", "bytes", "dropped"})


class BackupError(MailslotError):
    """A backup or restore cannot go ahead; the message says why, for people."""


class RestoreTargetNotEmpty(BackupError):
    """Restoring would mix the archive with data that is there already."""


# -- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Codec:
    """How one column's values travel as JSON (the database type decides, not the value)."""

    name: str
    kind: str  # "int", "bool", "float", "bytes", "str"
    nullable: bool
    length: int | None

    def encode(self, value: Any) -> Any:
        if value is None:
            if not self.nullable:
                raise crypto.EncodingError(f"{self.name} is NULL")
            return None
        if self.kind == "bytes":
            return base64.b64encode(bytes(value)).decode("ascii")
        if self.kind == "float":
            number = float(value)
            if not math.isfinite(number):
                raise crypto.EncodingError(f"{self.name} is not finite")
            return repr(number)
        if self.kind == "bool":
            return bool(value)
        if self.kind == "int":
            return int(value)
        return str(value)

    def decode(self, value: Any) -> Any:
        if value is None:
            if not self.nullable:
                raise crypto.DecryptionError()
            return None
        if self.kind == "int":
            if type(value) is not int or not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
                raise crypto.DecryptionError()
            return value
        if self.kind == "bool":
            if type(value) is not bool:
                raise crypto.DecryptionError()
            return value
        if type(value) is not str:
            raise crypto.DecryptionError()
        if self.kind == "float":
            return _decode_float(value)
        if self.kind == "bytes":
            data = _decode_base64(value)
            if self.length is not None and len(data) > self.length:
                raise crypto.DecryptionError()
            return data
        if self.length is not None and len(value) > self.length:
            raise crypto.DecryptionError()
        if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            raise crypto.DecryptionError()  # no database stores these in text
        return value


def _decode_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise crypto.DecryptionError() from None
    # One spelling per value: what repr() writes, finite.
    if not math.isfinite(number) or repr(number) != value:
        raise crypto.DecryptionError()
    return number


def _decode_base64(value: str) -> bytes:
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise crypto.DecryptionError() from None
    if base64.b64encode(data).decode("ascii") != value:
        raise crypto.DecryptionError()  # one spelling: canonical padding, no stray bits
    return data


def _codec(column: Column[Any]) -> _Codec:
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
    return _Codec(column.name, kind, bool(column.nullable), length)


@dataclass(frozen=True)
class _TableSpec:
    table: Table
    codecs: tuple[_Codec, ...]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def columns(self) -> list[str]:
        return [codec.name for codec in self.codecs]


def table_specs() -> list[_TableSpec]:
    """Every table of this version's schema, parents before children."""
    return [
        _TableSpec(table, tuple(_codec(column) for column in table.columns))
        for table in Base.metadata.sorted_tables
    ]


# -- frames ---------------------------------------------------------------------------------------


def encode_frame(obj: dict[str, Any]) -> bytes:
    """u32 length, then canonical JSON (sorted keys, no spaces, UTF-8)."""
    data = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    if len(data) > MAX_FRAME_SIZE:
        raise crypto.EncodingError("backup frame too large")
    return struct.pack(">I", len(data)) + data


def _keys(obj: dict[str, Any], expected: frozenset[str]) -> dict[str, Any]:
    if obj.keys() != expected:
        raise crypto.DecryptionError()
    return obj


def _int(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_INT:
        raise crypto.DecryptionError()
    return value


def _text(value: Any, pattern: re.Pattern[str]) -> str:
    if type(value) is not str or not pattern.fullmatch(value):
        raise crypto.DecryptionError()
    return value


# -- writing --------------------------------------------------------------------------------------


@dataclass
class BackupSummary:
    rows: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    bytes: int = 0
    # Items whose blob vanished while the backup ran (their case was deleted): left out.
    dropped: int = 0
    schema: str = ""
    created_at: int = 0


class _SealedOut:
    """Seals plaintext into the archive as it is produced."""

    def __init__(self, out: IO[bytes], header: crypto.BackupHeader, key: bytes) -> None:
        self._out = out
        self._sealer = crypto.backup_sealer(header, key)
        out.write(header.encode() + self._sealer.header())

    def write(self, data: bytes) -> None:
        sealed = self._sealer.update(data)
        if sealed:
            self._out.write(sealed)

    def finish(self) -> None:
        for chunk in self._sealer.finish():
            self._out.write(chunk)


@contextlib.contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction that sees a single committed state of every table."""
    with engine.connect() as plain:
        connection = plain
        if engine.dialect.name == "postgresql":
            connection = plain.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            if engine.dialect.name == "sqlite":
                # pysqlite opens transactions only before writes; without this, each SELECT
                # would see its own state. The snapshot starts at the first read below.
                connection.exec_driver_sql("BEGIN")
            yield connection


def write_backup(
    engine: Engine,
    blobs: BlobStore,
    out: IO[bytes],
    passphrase: str,
    *,
    now: int,
    params: crypto.KdfParams = crypto.BACKUP_KDF,
    rng: crypto.RandomSource = crypto.system_random,
) -> BackupSummary:
    """Write one archive of everything in ``engine`` and ``blobs`` to ``out``."""
    header = crypto.new_backup_header(params, rng)
    sink = _SealedOut(out, header, crypto.backup_key(passphrase, header))
    specs = table_specs()
    summary = BackupSummary(schema=migrate.HEAD, created_at=coarse(now))
    sink.write(
        encode_frame(
            {
                "type": "manifest",
                "format": FORMAT_VERSION,
                "mailslot": __version__,
                "schema": migrate.HEAD,
                "created_at": summary.created_at,
                "tables": [{"name": s.name, "columns": s.columns} for s in specs],
            }
        )
    )
    dropped_items: set[str] = set()
    with _snapshot(engine) as connection:
        for spec in specs:
            sink.write(encode_frame({"type": "table", "name": spec.name}))
            count = 0
            order = list(spec.table.primary_key.columns)
            result = connection.execution_options(yield_per=500).execute(
                select(spec.table).order_by(*order)
            )
            for row in result:
                values = row._mapping
                if spec.name == ITEM_WRAPS_TABLE and values["item_id"] in dropped_items:
                    continue
                frame = encode_frame(
                    {
                        "type": "row",
                        "values": [c.encode(values[c.name]) for c in spec.codecs],
                    }
                )
                if spec.name == ITEMS_TABLE:
                    if not _copy_blob(blobs, sink, frame, values, summary):
                        dropped_items.add(values["id"])
                        continue
                else:
                    sink.write(frame)
                count += 1
            summary.rows[spec.name] = count
    summary.dropped = len(dropped_items)
    sink.write(
        encode_frame(
            {
                "type": "end",
                "rows": summary.rows,
                "blobs": summary.blobs,
                "bytes": summary.bytes,
                "dropped": summary.dropped,
            }
        )
    )
    sink.finish()
    return summary


def _copy_blob(
    blobs: BlobStore,
    sink: _SealedOut,
    row_frame: bytes,
    values: Any,
    summary: BackupSummary,
) -> bool:
    """Write an item's row, its blob frame and its blob; False if the blob has gone."""
    blob_id = values["blob_id"]
    try:
        # Opened before its size is asked: an open file outlives a delete that follows.
        pieces = blobs.open(blob_id)
    except StorageError:
        return False
    try:
        size = blobs.size(blob_id)
    except StorageError:
        _close(pieces)
        return False
    if size != values["stored_size"]:
        _close(pieces)
        raise BackupError(
            f"The blob of item {values['id']} has {size} bytes, not the {values['stored_size']} "
            "its row records. Nothing was backed up; run `mailslot check`."
        )
    sink.write(row_frame)
    sink.write(encode_frame({"type": "blob", "id": blob_id, "size": size}))
    copied = 0
    try:
        for piece in pieces:
            copied += len(piece)
            if copied > size:
                break
            sink.write(piece)
    finally:
        _close(pieces)
    if copied != size:
        raise BackupError(f"The blob of item {values['id']} changed while it was copied.")
    summary.blobs += 1
    summary.bytes += size
    return True


def _close(pieces: Iterator[bytes]) -> None:
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


# -- reading --------------------------------------------------------------------------------------


class _Plaintext:
    """The decrypted payload, read on demand; holds at most a frame and a chunk."""

    def __init__(self, source: IO[bytes], opener: crypto.ItemOpener) -> None:
        self._source = source
        self._opener = opener
        self._buffer = bytearray()
        self._finished = False

    def _fill(self) -> None:
        if self._finished:
            raise crypto.DecryptionError()
        data = self._source.read(READ_SIZE)
        if data:
            self._buffer += self._opener.update(data)
        else:
            self._finished = True
            self._buffer += self._opener.finish()

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def read_some(self, limit: int) -> bytes:
        """At least one byte and at most ``limit`` (limit > 0)."""
        while not self._buffer:
            self._fill()
        data = bytes(self._buffer[:limit])
        del self._buffer[: len(data)]
        return data

    def at_end(self) -> bool:
        while not self._buffer and not self._finished:
            self._fill()
        return not self._buffer


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    mailslot: str
    schema: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Row:
    table: Table
    values: dict[str, Any]


class Blob:
    """A blob in the archive; its bytes can be read once, while it is the current entry."""

    def __init__(self, payload: _Plaintext, blob_id: str, size: int) -> None:
        self._payload = payload
        self.blob_id = blob_id
        self.size = size
        self.remaining = size

    def pieces(self) -> Iterator[bytes]:
        while self.remaining:
            data = self._payload.read_some(min(READ_SIZE, self.remaining))
            self.remaining -= len(data)
            yield data


Entry = Manifest | Row | Blob | BackupSummary


def read_payload(payload: _Plaintext) -> Iterator[Entry]:
    """Parse the payload strictly, yielding the manifest, each row, each blob (right after its
    item row) and finally the summary from the end frame. Anything wrong raises the opaque
    :class:`~mailslot.crypto.DecryptionError`; a blob not read by the caller is skipped."""

    def frame() -> dict[str, Any]:
        (size,) = struct.unpack(">I", payload.read(4))
        if size > MAX_FRAME_SIZE:
            raise crypto.DecryptionError()
        return decode_frame_json(payload.read(size))

    specs = table_specs()
    manifest = _keys(frame(), _MANIFEST_KEYS)
    if manifest["type"] != "manifest" or _int(manifest["format"]) != FORMAT_VERSION:
        raise crypto.DecryptionError()
    tables = manifest["tables"]
    if type(tables) is not list or len(tables) != len(specs):
        raise crypto.DecryptionError()
    for entry, expected in zip(tables, specs, strict=True):
        if type(entry) is not dict or _keys(entry, _TABLE_ENTRY_KEYS)["name"] != expected.name:
            raise crypto.DecryptionError()
        if entry["columns"] != expected.columns:
            raise crypto.DecryptionError()
    schema = manifest["schema"]
    if type(schema) is not str or schema != migrate.HEAD:
        raise crypto.DecryptionError()
    yield Manifest(
        format=FORMAT_VERSION,
        mailslot=_text(manifest["mailslot"], _VERSION),
        schema=schema,
        created_at=_int(manifest["created_at"]),
    )

    summary = BackupSummary(schema=schema, created_at=int(manifest["created_at"]))
    item_ids: set[str] = set()
    current: dict[str, Any] | None = None
    spec_index = -1
    spec: _TableSpec | None = None
    pending_item: dict[str, Any] | None = None
    while True:
        obj = frame()
        kind = obj.get("type")
        if pending_item is not None and kind != "blob":
            raise crypto.DecryptionError()
        if kind == "table":
            _keys(obj, _TABLE_KEYS)
            spec_index += 1
            if spec_index >= len(specs) or obj["name"] != specs[spec_index].name:
                raise crypto.DecryptionError()
            spec = specs[spec_index]
            summary.rows[spec.name] = 0
        elif kind == "row":
            _keys(obj, _ROW_KEYS)
            values = obj["values"]
            if spec is None or type(values) is not list or len(values) != len(spec.codecs):
                raise crypto.DecryptionError()
            current = {c.name: c.decode(v) for c, v in zip(spec.codecs, values, strict=True)}
            summary.rows[spec.name] += 1
            if spec.name == ITEMS_TABLE:
                if current["id"] in item_ids:
                    raise crypto.DecryptionError()
                item_ids.add(current["id"])
                pending_item = current
            else:
                if spec.name == ITEM_WRAPS_TABLE and current["item_id"] not in item_ids:
                    raise crypto.DecryptionError()
                yield Row(spec.table, current)
        elif kind == "blob":
            _keys(obj, _BLOB_KEYS)
            if pending_item is None or spec is None:
                raise crypto.DecryptionError()
            blob_id = _text(obj["id"], _BLOB_ID)
            size = _int(obj["size"])
            if blob_id != pending_item["blob_id"] or size != pending_item["stored_size"]:
                raise crypto.DecryptionError()
            yield Row(spec.table, pending_item)
            pending_item = None
            blob = Blob(payload, blob_id, size)
            yield blob
            for _ in blob.pieces():
                pass
            summary.blobs += 1
            summary.bytes += size
        elif kind == "end":
            _keys(obj, _END_KEYS)
            rows = obj["rows"]
            if spec_index != len(specs) - 1 or type(rows) is not dict:
                raise crypto.DecryptionError()
            if rows != summary.rows or any(type(v) is not int for v in rows.values()):
                raise crypto.DecryptionError()
            if (_int(obj["blobs"]), _int(obj["bytes"])) != (summary.blobs, summary.bytes):
                raise crypto.DecryptionError()
            summary.dropped = _int(obj["dropped"])
            if not payload.at_end():
                raise crypto.DecryptionError()
            yield summary
            return
        else:
            raise crypto.DecryptionError()


def open_archive(source: IO[bytes], passphrase: str) -> Iterator[Entry]:
    """Read the header, derive the key and parse the payload (see :func:`read_payload`)."""
    header = crypto.read_backup_header(source)
    try:
        key = crypto.backup_key(passphrase, header)
    except crypto.EncodingError:
        raise crypto.DecryptionError() from None
    return read_payload(_Plaintext(source, crypto.backup_opener(header, key)))


def verify_archive(path: Path, passphrase: str) -> BackupSummary:
    """Decrypt and check a whole archive, writing nothing; its summary, or DecryptionError."""
    with path.open("rb") as source:
        for entry in open_archive(source, passphrase):
            if isinstance(entry, BackupSummary):
                return entry
    raise crypto.DecryptionError()  # pragma: no cover - read_payload ends with a summary


# -- restoring ------------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    return None if database in ("", ":memory:") else Path(database)


def check_target(config: Config) -> None:
    """Refuse unless the data directory and the database are empty (or do not exist yet)."""
    data_dir = config.data_dir
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise RestoreTargetNotEmpty(
            f"The data directory {data_dir} is not empty. Restore into a new, empty directory; "
            "nothing was changed."
        )
    url = config.resolved_database_url
    sqlite_file = _sqlite_path(url)
    if sqlite_file is not None and not sqlite_file.exists():
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise RestoreTargetNotEmpty(
            "The database is not empty (it has tables). Restore into a new, empty database; "
            "nothing was changed."
        )


@dataclass
class RestoreSummary:
    rows: dict[str, int]
    blobs: int
    bytes: int
    dropped: int
    created_at: int
    mailslot: str


def restore(
    config: Config,
    path: Path,
    passphrase: str,
    *,
    echo: Callable[[str], None] = lambda _: None,
) -> RestoreSummary:
    """Verify the archive completely, then rebuild the instance into an empty target.

    Raises :class:`RestoreTargetNotEmpty` before reading anything if the target holds data,
    and :class:`~mailslot.crypto.DecryptionError` if the archive is damaged, altered, of
    another schema, or the passphrase is wrong; nothing is written in either case. If the
    restore itself fails, what it wrote is removed again.
    """
    check_target(config)
    with path.open("rb") as source:
        header = crypto.read_backup_header(source)
        try:
            key = crypto.backup_key(passphrase, header)
        except crypto.EncodingError:
            raise crypto.DecryptionError() from None
    manifest: Manifest | None = None

    def entries() -> Iterator[Entry]:
        with path.open("rb") as source:
            if crypto.read_backup_header(source) != header:
                raise crypto.DecryptionError()
            yield from read_payload(_Plaintext(source, crypto.backup_opener(header, key)))

    echo("Checking the archive (nothing is written yet)…")
    checked: BackupSummary | None = None
    for entry in entries():
        if isinstance(entry, Manifest):
            manifest = entry
        elif isinstance(entry, BackupSummary):
            checked = entry
    if manifest is None or checked is None:  # pragma: no cover - read_payload guarantees both
        raise crypto.DecryptionError()
    echo("The archive is complete and intact. Restoring…")
    check_target(config)  # again: time has passed

    created_dir = not config.data_dir.exists()
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)
    engine = make_engine(config.resolved_database_url)
    try:
        migrate.upgrade(engine, migrate.HEAD)  # the archive's revision, checked above
        _insert_all(engine, FilesystemBlobStore(config.blob_dir), entries())
    except BaseException:
        _undo(config, engine, created_dir)
        raise
    finally:
        engine.dispose()
    return RestoreSummary(
        rows=checked.rows,
        blobs=checked.blobs,
        bytes=checked.bytes,
        dropped=checked.dropped,
        created_at=checked.created_at,
        mailslot=manifest.mailslot,
    )


def _insert_all(engine: Engine, blobs: BlobStore, entries: Iterator[Entry]) -> None:
    with engine.begin() as connection:
        batch: list[dict[str, Any]] = []
        table: Table | None = None
        item: dict[str, Any] | None = None

        def flush() -> None:
            if batch and table is not None:
                connection.execute(table.insert(), batch)
                batch.clear()

        for entry in entries:
            if isinstance(entry, Row):
                if entry.table is not table:
                    flush()
                    table = entry.table
                if table.name == ITEMS_TABLE:
                    item = entry.values  # inserted once its blob is stored, under the new id
                    continue
                batch.append(entry.values)
            elif isinstance(entry, Blob):
                if item is None:  # pragma: no cover - read_payload pairs them
                    raise crypto.DecryptionError()
                writer = blobs.create()
                try:
                    for piece in entry.pieces():
                        writer.write(piece)
                    writer.commit()
                except BaseException:
                    writer.abort()
                    raise
                batch.append({**item, "blob_id": writer.blob_id})
                item = None
            if len(batch) >= INSERT_BATCH:
                flush()
        flush()
        if engine.dialect.name == "postgresql":
            _reset_sequences(connection)


def _reset_sequences(connection: Connection) -> None:
    """Move any serial column's sequence past the restored ids (ids are mostly random
    strings; the one-row ``instance`` table has the only integer key)."""
    for table in Base.metadata.sorted_tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            ).scalar()
            if sequence is None:
                continue
            connection.execute(
                text(
                    f'SELECT setval(:sequence, COALESCE(MAX("{column.name}"), 1), '  # noqa: S608 - names from our own metadata
                    f'MAX("{column.name}") IS NOT NULL) FROM "{table.name}"'
                ),
                {"sequence": sequence},
            )


def _undo(config: Config, engine: Engine, created_dir: bool) -> None:
    """Remove what a failed restore wrote (the target was empty before it began)."""
    with contextlib.suppress(Exception), engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    shutil.rmtree(config.blob_dir, ignore_errors=True)
    sqlite_file = _sqlite_path(config.resolved_database_url)
    if sqlite_file is not None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{sqlite_file}{suffix}")
    if created_dir:
        with contextlib.suppress(OSError):
            config.data_dir.rmdir()
