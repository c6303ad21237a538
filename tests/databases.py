"""Databases for tests: empty ones, and migrated ones copied from a template.

``MAILSLOT_TEST_DATABASE=postgresql`` runs every server and runtime of the suite on its own
PostgreSQL database (on the server of ``MAILSLOT_TEST_POSTGRESQL_URL``); SQLite otherwise.

Migrating a database costs 0.2-0.3 s and dropping a PostgreSQL one about 1.3 s (a
checkpoint), so each test process migrates once, into a template, and then:

- on SQLite, copies the template file into a test's data directory (under a millisecond);
- on PostgreSQL, clones the template (``CREATE DATABASE … TEMPLATE``), and when a test is
  done with a clone, empties it (``DELETE`` in every table, sequences restarted: a few ms)
  and keeps it for the next test of the same process instead of dropping it. A clone whose
  schema a test changed (a downgrade, a foreign table) is dropped, never handed out again.

Each process (an xdist worker, or the only one) has its own template and clones, named after
the worker and a random tag, and drops them all when the session ends.

Tests that need a database with nothing in it, not even the schema (first start, migrations,
restore targets), use :func:`empty_database`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import text

from mailslot.db.base import make_engine
from mailslot.db.migrate import HEAD, upgrade
from mailslot.db.models import Base

TEST_DATABASE = os.environ.get("MAILSLOT_TEST_DATABASE", "sqlite")
POSTGRESQL_URL = os.environ.get("MAILSLOT_TEST_POSTGRESQL_URL", "")
SQLITE_NAME = "mailslot.sqlite3"
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_TAG = f"{_WORKER}_{os.urandom(3).hex()}"


def _admin_url() -> str:
    if not POSTGRESQL_URL:
        raise RuntimeError("MAILSLOT_TEST_DATABASE=postgresql needs MAILSLOT_TEST_POSTGRESQL_URL")
    return POSTGRESQL_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def _server_url(name: str) -> str:
    return POSTGRESQL_URL.rsplit("/", 1)[0] + "/" + name


def _name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _admin(statement: str) -> None:
    import psycopg  # only PostgreSQL runs need the driver

    with psycopg.connect(_admin_url(), autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


# Why the run's database is refused just now (empty: it is not): while a test marked
# ``sqlite_only`` runs, since the PostgreSQL pass leaves such a test out (tests/conftest.py).
_REFUSED: list[str] = []


def refuse_the_run_database(reason: str | None) -> None:
    """From now on, :func:`migrated_database` and :func:`empty_database` fail with
    ``reason``; None lifts that."""
    _REFUSED[:] = [reason] if reason else []


def _not_refused() -> None:
    if _REFUSED:
        raise AssertionError(_REFUSED[0])


def empty_database() -> str | None:
    """A new PostgreSQL database with nothing in it (None on SQLite runs: the caller's data
    directory gets a new file)."""
    _not_refused()
    if TEST_DATABASE != "postgresql":
        return None
    name = "mailslot_" + os.urandom(6).hex()
    _admin(f'CREATE DATABASE "{name}"')
    return _server_url(name)


def drop_database(url: str | None) -> None:
    """Give back a database from :func:`migrated_database` or :func:`empty_database`."""
    if url is None:
        return
    if _POOL.owns(url):
        _POOL.give_back(url)
        return
    _admin(f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)')


class _SqliteTemplate:
    """One migrated SQLite file per process, copied into each test's data directory."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._lock = threading.Lock()

    def _build(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix=f"mailslot-template-{_TAG}-"))
        path = directory / SQLITE_NAME
        engine = make_engine(f"sqlite:///{path}")
        try:
            upgrade(engine)
            with engine.begin() as connection:
                connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        finally:
            engine.dispose()
        return path

    def install(self, data_dir: Path) -> None:
        """Put a migrated, empty database where ``mailslot`` looks for it in ``data_dir``,
        with the modes ``mailslot serve`` gives its files (0700 directory, 0600 file)."""
        with self._lock:
            if self._path is None:
                self._path = self._build()
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = data_dir / SQLITE_NAME
        shutil.copyfile(self._path, target)
        target.chmod(0o600)

    def remove(self) -> None:
        if self._path is not None:
            shutil.rmtree(self._path.parent, ignore_errors=True)
            self._path = None


class _PostgresPool:
    """This process's template database and the clones made from it."""

    def __init__(self) -> None:
        self._template: str | None = None
        self._free: list[str] = []
        self._all: set[str] = set()
        self._made = 0
        self._lock = threading.Lock()
        self._tables = [table.name for table in reversed(Base.metadata.sorted_tables)]

    def owns(self, url: str) -> bool:
        return _name(url) in self._all

    def _template_name(self) -> str:
        if self._template is None:
            name = f"mailslot_tpl_{_TAG}"
            _admin(f'CREATE DATABASE "{name}"')
            engine = make_engine(_server_url(name))
            try:
                upgrade(engine)
            finally:
                engine.dispose()
            self._template = name
        return self._template

    def take(self) -> str:
        with self._lock:
            if self._free:
                return _server_url(self._free.pop())
            template = self._template_name()
            self._made += 1
            name = f"mailslot_{_TAG}_{self._made}"
            _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            self._all.add(name)
            return _server_url(name)

    def give_back(self, url: str) -> None:
        name = _name(url)
        try:
            reusable = self._empty(url)
        except Exception:  # a clone that cannot be emptied is dropped instead
            reusable = False
        with self._lock:
            if reusable:
                self._free.append(name)
                return
            self._all.discard(name)
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _empty(self, url: str) -> bool:
        """Delete every row and restart every sequence; False if the schema is not the
        head's any more (then the clone is dropped instead). One connection and two round
        trips: with a SQLAlchemy engine and a statement per table, this took most of a
        second per test under load, the tests' own work often less."""
        import psycopg

        plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(plain) as connection:
            state = connection.execute(_SCHEMA_STATE).fetchone()
            assert state is not None
            revisions, relations = state
            if revisions != [HEAD] or set(relations) != {*self._tables, "alembic_version"}:
                return False
            connection.execute(self._emptying())
        return True

    def _emptying(self) -> Any:
        from psycopg import sql

        deletes = [sql.SQL("DELETE FROM {}").format(sql.Identifier(t)) for t in self._tables]
        return sql.SQL(";\n").join(
            [sql.SQL(_LOCK_TIMEOUT), sql.SQL(_DROP_ORG_SCHEMAS), *deletes, sql.SQL(_RESTART)]
        )

    def drop_all(self) -> None:
        names = [*self._all, *([self._template] if self._template else [])]
        for name in names:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._all.clear()
        self._free.clear()
        self._template = None


# The revision a clone is at, and every table, view and foreign table in its public schema
# (a clone that a test took down a revision or gave another table is dropped).
_SCHEMA_STATE = """
    SELECT
        (SELECT coalesce(array_agg(version_num), '{}') FROM alembic_version),
        (SELECT coalesce(array_agg(relname::text), '{}') FROM pg_class
            WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'f'))
"""

# Emptying a clone, around a DELETE for each table. A server process of the test may still
# hold a connection for a moment:
_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '10s'"
# The host registry and the schemas of organisations other than the default
# (docs/hosting.md): the next test starts with none, as on a new install.
_DROP_ORG_SCHEMAS = """DO $$
DECLARE name text;
BEGIN
    FOR name IN SELECT nspname FROM pg_namespace
        WHERE nspname = 'mailslot_host' OR nspname LIKE 'org\\_%'
    LOOP
        EXECUTE format('DROP SCHEMA %I CASCADE', name);
    END LOOP;
END $$"""
_RESTART = """SELECT setval(format('public.%I', sequencename)::regclass, 1, false)
    FROM pg_sequences WHERE schemaname = 'public'"""

_SQLITE = _SqliteTemplate()
_POOL = _PostgresPool()


def migrated_database(data_dir: Path) -> str | None:
    """A database at the head revision with no rows, for one test's runtime or server:
    a PostgreSQL clone (its URL), or on SQLite a file installed in ``data_dir`` (None: the
    default URL of that data directory finds it)."""
    _not_refused()
    if TEST_DATABASE == "postgresql":
        return _POOL.take()
    _SQLITE.install(data_dir)
    return None


def install_sqlite_template(data_dir: Path) -> None:
    """The SQLite template in ``data_dir`` whatever the run's backend (for a server that is
    told to use SQLite on a PostgreSQL run)."""
    _SQLITE.install(data_dir)


def remove_all() -> None:
    """End of the session: drop this process's template and clones, remove its files."""
    if TEST_DATABASE == "postgresql" and POSTGRESQL_URL:
        _POOL.drop_all()
    _SQLITE.remove()
