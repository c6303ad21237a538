"""Restoring an archive into an empty data directory and an empty database.

Restoring reads the archive twice. The first pass decrypts and checks everything and writes
nothing; the second creates the schema and inserts the rows table by table, with the blobs
written through the blob store. The dump is logical (typed JSON values), so an archive made on
SQLite restores onto PostgreSQL and the other way round. If the second pass fails, what it wrote
is removed again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, Integer, Table, inspect, text
from sqlalchemy.engine import make_url

from mailslot.backup.errors import ArchiveUnreadable, RestoreTargetNotEmpty
from mailslot.backup.format import BLOB_TABLES
from mailslot.backup.read import Blob, Entry, Keys, Row, check_all, read_key, reopen
from mailslot.config import Config
from mailslot.db import migrate
from mailslot.db.base import make_engine
from mailslot.db.models import Base
from mailslot.db.planner import analyze
from mailslot.i18n import N_, LazyText
from mailslot.storage import BlobStore, open_blob_store
from mailslot.storage.s3_parts import SPOOL_DIR

INSERT_BATCH: Final = 200

# Progress lines (``echo``): English for any caller, in the operator's language where the
# command line prints them (``mailslot restore``).
CHECKING: Final = LazyText(N_("Checking the archive (nothing is written yet)…"))
INTACT: Final = LazyText(N_("The archive is complete and intact. Restoring…"))


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    return None if database in ("", ":memory:") else Path(database)


def _holds_data(entry: Path) -> bool:
    """Anything in a data directory holds data, but the empty folder in which writers to an
    object store spool their parts (``storage/s3_parts.py``): writing to the bucket makes it,
    and it holds only unnamed files, gone when closed."""
    return not (entry.name == SPOOL_DIR and entry.is_dir() and not any(entry.iterdir()))


def check_target(config: Config) -> None:
    """Refuse unless the data directory and the database are empty (or do not exist yet)."""
    data_dir = config.data_dir
    if data_dir.exists() and (not data_dir.is_dir() or any(map(_holds_data, data_dir.iterdir()))):
        raise RestoreTargetNotEmpty(
            LazyText(
                N_(
                    "The data directory %(path)s is not empty. Restore into a new, empty "
                    "directory; nothing was changed."
                ),
                path=str(data_dir),
            )
        )
    if config.s3_location is not None and _stored_blobs(config):
        raise RestoreTargetNotEmpty(
            LazyText(
                N_(
                    "The object store holds blobs under %(url)s. Restore into a new, empty "
                    "bucket or prefix; nothing was changed."
                ),
                url=config.blob_url,
            )
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
            LazyText(
                N_(
                    "The database is not empty (it has tables). Restore into a new, empty "
                    "database; nothing was changed."
                )
            )
        )


def _stored_blobs(config: Config) -> list[str]:
    """The blobs in the configured object store (under its prefix only)."""
    from mailslot.storage.s3 import S3BlobStore  # noqa: PLC0415 - boto3 only when configured

    return list(S3BlobStore.from_config(config).blob_ids())


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
    passphrase: str | Keys,
    *,
    echo: Callable[[str], None] = lambda _: None,
) -> RestoreSummary:
    """Verify the archive completely, then rebuild the instance into an empty target.

    Raises :class:`RestoreTargetNotEmpty` before reading anything if the target holds data,
    and :class:`~mailslot.backup.errors.ArchiveUnreadable` if the archive is damaged, altered,
    of another schema, or the passphrase is wrong; nothing is written in either case. If the
    restore itself fails, what it wrote is removed again.
    """
    check_target(config)
    with path.open("rb") as source:
        header, key = read_key(source, passphrase)
    echo(CHECKING)
    manifest, checked = check_all(reopen(path, header, key))
    echo(INTACT)
    check_target(config)  # again: time has passed
    rebuild(config, reopen(path, header, key))
    return RestoreSummary(
        rows=checked.rows,
        blobs=checked.blobs,
        bytes=checked.bytes,
        dropped=checked.dropped,
        created_at=checked.created_at,
        mailslot=manifest.mailslot,
    )


def rebuild(config: Config, entries: Iterator[Entry]) -> None:
    """Create the data directory and the schema, and insert every entry; undone on failure."""
    created_dir = not config.data_dir.exists()
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)
    engine = make_engine(config.resolved_database_url)
    try:
        fill(engine, open_blob_store(config), entries)
    except BaseException:
        undo(config, engine, created_dir)
        raise
    finally:
        engine.dispose()


def fill(engine: Engine, blobs: BlobStore, entries: Iterator[Entry]) -> None:
    """Create the schema in an empty database and insert every entry, the blobs through
    ``blobs``; then gather the planner's statistics. The caller undoes a failure."""
    migrate.upgrade(engine, migrate.HEAD)  # the archive's revision, checked before
    with engine.begin() as connection:
        _Inserter(connection, blobs).insert_all(entries)
        if engine.dialect.name == "postgresql":
            _reset_sequences(connection)
    analyze(engine)  # PostgreSQL's planner has no statistics for rows inserted in bulk


class _Inserter:
    """Inserts rows in batches, table by table; an item or identity row waits for its blob,
    which is stored under a new id first."""

    def __init__(self, connection: Connection, blobs: BlobStore) -> None:
        self._connection = connection
        self._blobs = blobs
        self._batch: list[dict[str, Any]] = []
        self._table: Table | None = None
        self._owner: dict[str, Any] | None = None

    def insert_all(self, entries: Iterator[Entry]) -> None:
        for entry in entries:
            if isinstance(entry, Row):
                self._row(entry)
            elif isinstance(entry, Blob):
                self._blob(entry)
            if len(self._batch) >= INSERT_BATCH:
                self._flush()
        self._flush()

    def _flush(self) -> None:
        if self._batch and self._table is not None:
            self._connection.execute(self._table.insert(), self._batch)
            self._batch.clear()

    def _row(self, row: Row) -> None:
        if row.table is not self._table:
            self._flush()
            self._table = row.table
        if row.table.name in BLOB_TABLES:
            self._owner = row.values  # inserted once its blob is stored, under the new id
        else:
            self._batch.append(row.values)

    def _blob(self, blob: Blob) -> None:
        if self._owner is None:  # pragma: no cover - read_payload pairs them
            raise ArchiveUnreadable()
        writer = self._blobs.create()
        try:
            for piece in blob.pieces():
                writer.write(piece)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        self._batch.append({**self._owner, "blob_id": writer.blob_id})
        self._owner = None


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


def undo(config: Config, engine: Engine, created_dir: bool) -> None:
    """Remove what a failed restore wrote (the target was empty before it began)."""
    with contextlib.suppress(Exception), engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    shutil.rmtree(config.blob_dir, ignore_errors=True)
    if config.s3_location is not None:  # empty before the restore: all it holds is ours
        with contextlib.suppress(Exception):
            store = open_blob_store(config)
            for blob_id in _stored_blobs(config):
                store.delete(blob_id)
    sqlite_file = _sqlite_path(config.resolved_database_url)
    if sqlite_file is not None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{sqlite_file}{suffix}")
    if created_dir:
        with contextlib.suppress(OSError):
            config.data_dir.rmdir()
