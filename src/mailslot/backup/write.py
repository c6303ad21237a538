"""Writing an archive while the instance keeps serving.

The rows are read in one transaction (REPEATABLE READ on PostgreSQL, one read transaction on
SQLite), and every blob a row names is copied while that snapshot is held. Blobs are written and
fsynced before the rows that name them commit, and never change, so the snapshot's blobs exist
unless their case was deleted after the snapshot began; such an item is left out with its key
wraps and counted. Memory stays bounded by one frame and one chunk: rows are streamed from the
database and blobs from the store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import IO, Any

from sqlalchemy import Connection, Engine, select

from mailslot import crypto
from mailslot.backup.errors import BlobMismatch, NotEncodable
from mailslot.backup.format import (
    ITEM_WRAPS_TABLE,
    ITEMS_TABLE,
    BackupSummary,
    TableSpec,
    blob_frame,
    end_frame,
    manifest_frame,
    table_frame,
    table_specs,
)
from mailslot.db import migrate
from mailslot.db.base import coarse
from mailslot.errors import StorageError
from mailslot.storage import BlobStore


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
    """Write one archive of everything in ``engine`` and ``blobs`` to ``out``.

    Raises :class:`~mailslot.backup.errors.BackupError` (or the blob store's ``StorageError``)
    if it cannot; ``out`` then holds a partial archive, which the caller removes.
    """
    try:
        header = crypto.new_backup_header(params, rng)
        sink = _SealedOut(out, header, crypto.backup_key(passphrase, header))
        specs = table_specs()
        summary = BackupSummary(schema=migrate.HEAD, created_at=coarse(now))
        sink.write(manifest_frame(specs, summary.created_at))
        tables = _Tables(blobs, sink, summary)
        with _snapshot(engine) as connection:
            for spec in specs:
                tables.write(connection, spec)
        summary.dropped = len(tables.dropped_items)
        sink.write(end_frame(summary))
        sink.finish()
    except crypto.EncodingError as exc:
        raise NotEncodable(str(exc)) from exc
    return summary


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


class _Tables:
    """Writes each table's frames; an item goes with its blob, or not at all."""

    def __init__(self, blobs: BlobStore, sink: _SealedOut, summary: BackupSummary) -> None:
        self._blobs = blobs
        self._sink = sink
        self._summary = summary
        self.dropped_items: set[str] = set()

    def write(self, connection: Connection, spec: TableSpec) -> None:
        self._sink.write(table_frame(spec.name))
        count = 0
        order = list(spec.table.primary_key.columns)
        result = connection.execution_options(yield_per=500).execute(
            select(spec.table).order_by(*order)
        )
        for row in result:
            values = row._mapping
            if spec.name == ITEM_WRAPS_TABLE and values["item_id"] in self.dropped_items:
                continue
            frame = spec.encode_row(values)
            if spec.name != ITEMS_TABLE:
                self._sink.write(frame)
            elif not self._copy_blob(frame, values):
                self.dropped_items.add(values["id"])
                continue
            count += 1
        self._summary.rows[spec.name] = count

    def _copy_blob(self, row_frame: bytes, values: Mapping[Any, Any]) -> bool:
        """Write an item's row, its blob frame and its blob; False if the blob has gone."""
        blob_id = values["blob_id"]
        try:
            # Opened before its size is asked: an open file outlives a delete that follows.
            pieces = self._blobs.open(blob_id)
        except StorageError:
            return False
        try:
            size = self._blobs.size(blob_id)
        except StorageError:
            _close(pieces)
            return False
        if size != values["stored_size"]:
            _close(pieces)
            raise BlobMismatch(
                f"The blob of item {values['id']} has {size} bytes, not the "
                f"{values['stored_size']} its row records. Nothing was backed up; "
                "run `mailslot check`."
            )
        self._sink.write(row_frame)
        self._sink.write(blob_frame(blob_id, size))
        self._copy(pieces, size, values["id"])
        self._summary.blobs += 1
        self._summary.bytes += size
        return True

    def _copy(self, pieces: Iterator[bytes], size: int, item_id: str) -> None:
        copied = 0
        try:
            for piece in pieces:
                copied += len(piece)
                if copied > size:
                    break
                self._sink.write(piece)
        finally:
            _close(pieces)
        if copied != size:
            raise BlobMismatch(f"The blob of item {item_id} changed while it was copied.")


def _close(pieces: Iterator[bytes]) -> None:
    close = getattr(pieces, "close", None)
    if close is not None:
        close()
