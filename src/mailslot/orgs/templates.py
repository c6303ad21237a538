"""The database every new organisation starts from: one made by the migrations, copied.

Running every migration from nothing for each new organisation took seconds under load
(docs/performance.md, "A thousand organisations"). So the migrations run once per schema
revision, into a template, and each new organisation gets a copy of it:

- PostgreSQL: the schema ``mailslot_template_<revision>`` of the configured database, copied
  by ``db/clone.py`` in the transaction that creates the organisation's schema;
- SQLite: the file ``DATA_DIR/org-template-<revision>.sqlite3``, copied into the
  organisation's directory.

A template is made when an organisation is first created at a revision, under a lock, and
the templates of other revisions are removed then. It holds no rows but Alembic's own.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, text

from mailslot.config import Config
from mailslot.db.base import make_engine
from mailslot.db.migrate import HEAD, stored_revision, upgrade

PREFIX: Final = "mailslot_template_"
FILE_PREFIX: Final = "org-template-"
# The advisory lock a template's builder holds alone and every copy holds shared.
_LOCK: Final = "mailslot_template"


def schema_name() -> str:
    return f"{PREFIX}{HEAD}"


def sqlite_path(config: Config) -> Path:
    return config.data_dir / f"{FILE_PREFIX}{HEAD}.sqlite3"


def lock_postgresql(connection: Connection) -> str | None:
    """Hold the template shared for the rest of ``connection``'s transaction (no builder
    replaces it meanwhile); its schema name, or None if there is none at this revision."""
    connection.execute(text("SELECT pg_advisory_xact_lock_shared(hashtext(:k))"), {"k": _LOCK})
    name = schema_name()
    found = connection.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": name}
    ).first()
    return name if found is not None else None


def build_postgresql(config: Config) -> None:
    """Make the template schema at this revision unless it exists (under the builders' lock:
    other processes wait, then find it made), dropping any of other revisions and any that
    a builder cut short left behind."""
    engine = make_engine(config.resolved_database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            # Each statement its own transaction; the session's lock outlives them.
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": _LOCK})
            try:
                _build_postgresql(config, connection)
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": _LOCK})
    finally:
        engine.dispose()


def _build_postgresql(config: Config, connection: Connection) -> None:
    name = schema_name()
    present = set(
        connection.execute(
            text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :p)"), {"p": PREFIX}
        ).scalars()
    )
    for old in present - {name}:
        connection.execute(text(f'DROP SCHEMA "{old}" CASCADE'))
    if name in present:
        return
    # Built under a name of its own and renamed when complete: no copy ever sees it half made.
    scratch = f"{name}_{secrets.token_hex(4)}"
    connection.execute(text(f'CREATE SCHEMA "{scratch}"'))
    migrated = make_engine(config.resolved_database_url, pool_size=1, schema=scratch)
    try:
        try:
            # No ANALYZE: the template stays empty, and the whole database's would be long.
            upgrade(migrated, statistics=False)
            revision = stored_revision(migrated)
        finally:
            migrated.dispose()
        if revision != HEAD:  # pragma: no cover - upgrade() raises first
            raise RuntimeError(f"The template reached revision {revision}, not {HEAD}.")
    except BaseException:
        connection.execute(text(f'DROP SCHEMA "{scratch}" CASCADE'))
        raise
    connection.execute(text(f'ALTER SCHEMA "{scratch}" RENAME TO "{name}"'))


def sqlite_template(config: Config) -> Path:
    """The template file at this revision, made first if it is missing. Two processes may
    make it at once: each migrates a file of its own and renames it into place."""
    path = sqlite_path(config)
    if path.exists():
        return path
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        engine = make_engine(f"sqlite:///{scratch.resolve()}", pool_size=1)
        try:
            upgrade(engine)  # ends with VACUUM and an empty write-ahead log
        finally:
            engine.dispose()  # closing the last connection removes the -wal and -shm files
        scratch.chmod(0o600)
        os.replace(scratch, path)
    finally:
        for leftover in (scratch, Path(f"{scratch}-wal"), Path(f"{scratch}-shm")):
            leftover.unlink(missing_ok=True)
    for old in config.data_dir.glob(f"{FILE_PREFIX}*.sqlite3"):
        if old != path:
            old.unlink(missing_ok=True)
    return path
