"""Writing an archive while the instance keeps serving.

The rows are read in one transaction (REPEATABLE READ on PostgreSQL, one read transaction on
SQLite), and every blob a row names is copied while that snapshot is held. Blobs are written and
fsynced before the rows that name them commit, and never change, so the snapshot's blobs exist
unless their case was deleted after the snapshot began; such an item (or identity) is left out
with the rows that belong to it (key wraps, requests) and counted. Memory stays bounded by one
frame and one chunk: rows are streamed from the database and blobs from the store.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Connection, Engine, select

from mailslot import crypto
from mailslot.backup.errors import BlobMismatch, NotEncodable
from mailslot.backup.format import (
    BLOB_CHILDREN,
    BLOB_TABLES,
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
    sealing: Sealing | None = None,
) -> BackupSummary:
    """Write one archive of everything in ``engine`` and ``blobs`` to ``out``.

    ``sealing``: a key derived once for several archives (a whole install's, see
    :mod:`~mailslot.backup.install`); each archive still gets its own id and stream salt.
    Raises :class:`~mailslot.backup.errors.BackupError` (or the blob store's ``StorageError``)
    if it cannot; ``out`` then holds a partial archive, which the caller removes.
    """
    try:
        if sealing is None:
            header = crypto.new_backup_header(params, rng)
            sink = SealedOut(out, header, crypto.backup_key(passphrase, header))
        else:
            sink = SealedOut(out, sealing.header(rng), sealing.key)
        specs = table_specs()
        summary = BackupSummary(schema=migrate.HEAD, created_at=coarse(now))
        sink.write(manifest_frame(specs, summary.created_at))
        tables = _Tables(blobs, sink, summary)
        with _snapshot(engine) as connection:
            for spec in specs:
                tables.write(connection, spec)
        summary.dropped = sum(len(ids) for ids in tables.dropped.values())
        sink.write(end_frame(summary))
        sink.finish()
    except crypto.EncodingError as exc:
        raise NotEncodable(str(exc)) from exc
    return summary


@dataclass(frozen=True, slots=True, repr=False)
class Sealing:
    """A passphrase's archive key, derived once (one Argon2id run) with its cost and salt:
    every archive sealed with it has a header of the same cost and salt and its own id, so
    that a reader derives the key once for all of them (``read.Keys``)."""

    params: crypto.KdfParams
    salt: bytes
    key: bytes

    @classmethod
    def derive(
        cls,
        passphrase: str,
        params: crypto.KdfParams = crypto.BACKUP_KDF,
        rng: crypto.RandomSource = crypto.system_random,
    ) -> Sealing:
        template = crypto.new_backup_header(params, rng)
        try:
            key = crypto.backup_key(passphrase, template)
        except crypto.EncodingError as exc:
            raise NotEncodable(str(exc)) from exc
        return cls(params, template.salt, key)

    def header(self, rng: crypto.RandomSource = crypto.system_random) -> crypto.BackupHeader:
        fresh = crypto.new_backup_header(self.params, rng)  # for its new archive id
        return dataclasses.replace(fresh, salt=self.salt)


class SealedOut:
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
    """Writes each table's frames; an item or an identity goes with its blob, or not at all
    (and then neither do the rows that belong to it)."""

    def __init__(self, blobs: BlobStore, sink: SealedOut, summary: BackupSummary) -> None:
        self._blobs = blobs
        self._sink = sink
        self._summary = summary
        self.dropped: dict[str, set[str]] = {name: set() for name in BLOB_TABLES}

    def write(self, connection: Connection, spec: TableSpec) -> None:
        self._sink.write(table_frame(spec.name))
        count = 0
        order = list(spec.table.primary_key.columns)
        result = connection.execution_options(yield_per=500).execute(
            select(spec.table).order_by(*order)
        )
        parent = BLOB_CHILDREN.get(spec.name)
        for row in result:
            values = row._mapping
            if parent is not None and values[parent[0]] in self.dropped[parent[1]]:
                continue
            frame = spec.encode_row(values)
            if spec.name not in BLOB_TABLES:
                self._sink.write(frame)
            elif not self._copy_blob(spec.name, frame, values):
                self.dropped[spec.name].add(values["id"])
                continue
            count += 1
        self._summary.rows[spec.name] = count

    def _copy_blob(self, table: str, row_frame: bytes, values: Mapping[Any, Any]) -> bool:
        """Write a row of ``table`` (items, identities), its blob frame and its blob; False if
        the blob has gone."""
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
                f"The blob of {table} row {values['id']} has {size} bytes, not the "
                f"{values['stored_size']} its row records. Nothing was backed up; "
                "run `mailslot check`."
            )
        self._sink.write(row_frame)
        self._sink.write(blob_frame(blob_id, size))
        self._copy(pieces, size, f"{table} row {values['id']}")
        self._summary.blobs += 1
        self._summary.bytes += size
        return True

    def _copy(self, pieces: Iterator[bytes], size: int, owner: str) -> None:
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
            raise BlobMismatch(f"The blob of {owner} changed while it was copied.")


def _close(pieces: Iterator[bytes]) -> None:
    close = getattr(pieces, "close", None)
    if close is not None:
        close()
