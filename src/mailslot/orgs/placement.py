"""Where each organisation's data lives, and making or destroying that place.

The default organisation is where a single-organisation install always kept its data, so an
existing install upgrades in place. Every other organisation has a random id and:

=============  ==========================================  =================================
               SQLite (the default)                        PostgreSQL
=============  ==========================================  =================================
database       ``DATA_DIR/orgs/<id>/mailslot.sqlite3``      schema ``org_<id>`` of the
                                                           configured database, the only one
                                                           its connections see
blobs          ``DATA_DIR/orgs/<id>/blobs``, or the prefix  the same
               ``orgs/<id>/`` in the bucket
tor            ``TOR_DIR/orgs/<id>`` (``MAILSLOT_TOR_DIR``)  the same
=============  ==========================================  =================================

The host registry is ``DATA_DIR/host.sqlite3``, or the schema ``mailslot_host``. A new
organisation's database starts as a copy of a template (``orgs/templates.py``). Nothing
here is named after what an organisation is called: a directory listing shows random ids.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import QueuePool

from mailslot.config import Config
from mailslot.db.base import BUSY_TIMEOUT_MS, make_engine
from mailslot.db.clone import clone_schema
from mailslot.orgs import templates
from mailslot.storage import BlobStore, FilesystemBlobStore, open_blob_store

REGISTRY_FILE: Final = "host.sqlite3"
REGISTRY_SCHEMA: Final = "mailslot_host"
ORGS_DIR: Final = "orgs"
DATABASE_FILE: Final = "mailslot.sqlite3"
BLOBS_DIR: Final = "blobs"
# Connections an organisation other than the default keeps open while idle: a thousand
# organisations must not hold a thousand full pools (the busiest are kept, see runtime.py).
# One: each SQLite connection holds its own copy of the schema, prepared statements and page
# cache, and a second is opened only while two units of work overlap.
IDLE_CONNECTIONS: Final = 1
_ORG_ID: Final = re.compile(r"[0-9a-f]{32}")


def check_id(org_id: str) -> str:
    """An organisation id as the registry makes them (it becomes a path and a schema name)."""
    if not _ORG_ID.fullmatch(org_id):
        raise ValueError("not an organisation id")
    return org_id


def postgresql(config: Config) -> bool:
    return config.resolved_database_url.startswith("postgresql")


def org_dir(config: Config, org_id: str) -> Path:
    return config.data_dir / ORGS_DIR / check_id(org_id)


def schema(org_id: str) -> str:
    return f"org_{check_id(org_id)}"


def tor_dir(config: Config, org_id: str) -> Path | None:
    return config.tor_dir / ORGS_DIR / check_id(org_id) if config.tor_dir else None


def engine(config: Config, org_id: str) -> Engine:
    """The engine of an organisation other than the default (connects only when used)."""
    if postgresql(config):
        return make_engine(
            config.resolved_database_url, pool_size=IDLE_CONNECTIONS, schema=schema(org_id)
        )
    # Opened read-write, never created (SQLite's ``mode=rw``): only :func:`create` makes the
    # file, so a request that reaches an organisation just removed fails to connect instead
    # of bringing an empty database back (the schema, on PostgreSQL, is never made by
    # connecting either). The path is percent-encoded: a SQLite URI reads ``?``, ``#``, ``%``.
    path = (org_dir(config, org_id) / DATABASE_FILE).resolve()
    url = URL.create(
        "sqlite", database=f"file:{quote(str(path))}", query={"mode": "rw", "uri": "true"}
    )
    return make_engine(url.render_as_string(hide_password=False), pool_size=IDLE_CONNECTIONS)


def revisions(config: Config, registry: Engine, org_ids: list[str]) -> dict[str, str | None]:
    """Each organisation's stored schema revision, read over the registry's one connection
    (PostgreSQL: every organisation is a schema of the same database), so that a start-up
    checking 1,000 organisations opens one connection, not 1,000. An organisation whose
    revision cannot be read this way is left out (the caller opens its database). SQLite
    keeps a file per organisation: nothing to share, so nothing is read here."""
    if not postgresql(config):
        return {}
    found: dict[str, str | None] = {}
    with registry.connect() as connection:
        present = set(
            connection.execute(
                text(
                    "SELECT table_schema FROM information_schema.tables"
                    " WHERE table_name = 'alembic_version'"
                )
            ).scalars()
        )
        for org_id in org_ids:
            name = schema(org_id)
            if name not in present:
                found[org_id] = None
                continue
            rows = connection.execute(
                text(f'SELECT version_num FROM "{name}".alembic_version')  # noqa: S608 - a checked id
            ).all()
            found[org_id] = str(rows[0][0]) if len(rows) == 1 else None
    return found


def blob_store(config: Config, org_id: str, *, shared: BlobStore | None = None) -> BlobStore:
    """The organisation's blobs: ``DATA_DIR/orgs/<id>/blobs``, or the key prefix
    ``orgs/<id>/`` in the configured bucket (``MAILSLOT_BLOB_URL``; ``shared``, the default
    organisation's store, lends its client and connection pool)."""
    if config.s3_location is None:
        # Opening makes no directory (see :func:`create`): nothing of a removed organisation
        # comes back because a request reached it in the second before the server knew.
        return FilesystemBlobStore(org_dir(config, org_id) / BLOBS_DIR, create=False)
    return open_blob_store(config, f"{ORGS_DIR}/{check_id(org_id)}", shared=shared)


def org_config(config: Config, source_hosts: list[str], staff_hosts: list[str]) -> Config:
    """The settings an organisation other than the default sees: the install's, with its own
    public addresses (the install's staff URL and onion name are the default's)."""
    onions = [host for host in source_hosts if host.endswith(".onion")]
    return dataclasses.replace(
        config,
        staff_url=staff_url(config, staff_hosts),
        source_onion=f"http://{onions[0]}" if onions else "",
        tor_dir=None,  # its own tor directory, if any, is given to its context
    )


def staff_url(config: Config, staff_hosts: list[str]) -> str:
    """The base of an organisation's staff links (setup, invitations): its first staff host,
    with the scheme and port of the install's staff URL (an onion name: plain http)."""
    if not staff_hosts:
        return config.resolved_staff_url
    host = staff_hosts[0]
    if host.endswith(".onion"):
        return f"http://{host}"
    parts = urlsplit(config.resolved_staff_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def create(config: Config, registry: Engine, org_id: str, *, source: str | None = None) -> None:
    """Make the place of a new organisation with its database at the head revision: its
    directory (and blob directory, unless blobs go to a bucket), and a copy of the template
    that the migrations made (``orgs/templates.py``), or with ``source`` a copy of that schema
    (PostgreSQL) or database file (SQLite), rows included (the demo's organisations). On
    PostgreSQL the schema is created and filled in one transaction through ``registry``, the
    registry's engine on the same database. If anything fails, nothing of it is left."""
    directory = org_dir(config, org_id)
    directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.mkdir(mode=0o700)
    if config.s3_location is None:
        (directory / BLOBS_DIR).mkdir(mode=0o700)
    try:
        if postgresql(config):
            _copy_schema(config, registry, org_id, source)
        else:
            target = directory / DATABASE_FILE
            shutil.copyfile(source or templates.sqlite_template(config), target)
            target.chmod(0o600)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _copy_schema(config: Config, registry: Engine, org_id: str, source: str | None) -> None:
    for _attempt in range(3):
        with registry.begin() as connection:
            found = source or templates.lock_postgresql(connection)
            if found is not None:
                clone_schema(connection, found, schema(org_id))
                return
        templates.build_postgresql(config)  # none yet at this revision
    raise RuntimeError("The template schema was replaced three times meanwhile.")


def destroy(config: Config, registry: Engine, org_id: str) -> None:
    """Remove what :func:`create` made and everything in it (the caller shreds first)."""
    if postgresql(config):
        with registry.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema(org_id)}" CASCADE'))
    shutil.rmtree(org_dir(config, org_id), ignore_errors=True)
    tor = tor_dir(config, org_id)
    if tor is not None:
        shutil.rmtree(tor, ignore_errors=True)


def _registry_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # A rollback journal, not WAL: the registry changes rarely, and a removed
    # organisation's row must not stay behind in a log (secure_delete zeroes it in the file).
    for pragma in (
        "PRAGMA foreign_keys=ON",
        "PRAGMA secure_delete=ON",
        "PRAGMA journal_mode=DELETE",
        "PRAGMA synchronous=FULL",
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    ):
        cursor.execute(pragma)
    cursor.close()


def registry_engine(config: Config) -> Engine:
    """A new engine for the host registry: its own SQLite file, or a connection to the
    configured PostgreSQL database that sees only the registry's schema."""
    if postgresql(config):
        return make_engine(config.resolved_database_url, pool_size=1, schema=REGISTRY_SCHEMA)
    path = (config.data_dir / REGISTRY_FILE).resolve()
    made = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=4,
    )
    event.listen(made, "connect", _registry_pragmas)
    return made
