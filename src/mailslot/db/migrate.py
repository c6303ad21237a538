"""Running Alembic migrations from code (``mailslot serve`` and ``mailslot db upgrade``).

Alembic is imported only when there is something to do: a serving process whose database is
already at :data:`HEAD` never loads it (it would stay in memory for the life of the process).
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Final

from sqlalchemy import Engine, inspect, text

from mailslot.db.base import checkpoint
from mailslot.db.planner import analyze

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# The newest revision; tests/migrations checks it against Alembic's own idea of the head.
HEAD: Final = "0013"


def alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig  # noqa: PLC0415 - see module docstring

    config = AlembicConfig()
    config.set_main_option("script_location", str(resources.files("mailslot.db") / "migrations"))
    # No statement cache for migrations: they run once, and rebuilding every table (0008)
    # would leave megabytes of reflected tables in the engine's cache for the process's life.
    config.attributes["engine"] = engine.execution_options(compiled_cache=None)
    return config


def upgrade(engine: Engine, revision: str = "head", *, statistics: bool = True) -> None:
    """Migrate to ``revision``. Migrating to the head ends with ``ANALYZE`` on PostgreSQL
    unless ``statistics`` is false (an empty template, ``orgs/templates.py``): a migration
    may rebuild tables, which leaves the planner without statistics for them
    (``db/planner.py``)."""
    from alembic import command  # noqa: PLC0415 - see module docstring

    before = stored_revision(engine)
    command.upgrade(alembic_config(engine), revision)
    if engine.dialect.name == "sqlite" and stored_revision(engine) != before:
        vacuum(engine)
    if revision == "head" and statistics:
        analyze(engine)


def vacuum(engine: Engine) -> None:
    """Rewrite an SQLite file after it was migrated (once per upgrade).

    Rebuilding tables (0008 rebuilds nearly all of them ``WITHOUT ROWID``) copies rows in
    the order they were written and rewrites the schema's records: the copies' page layout
    and the old schema text would stay in the file. ``VACUUM`` writes every table again in
    key order and leaves no free space holding anything; the checkpoint then empties the WAL
    of the old pages.
    """
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")
    checkpoint(engine)


def upgrade_if_needed(engine: Engine) -> bool:
    """Migrate to the head unless the database is there already; True if it migrated."""
    if stored_revision(engine) == HEAD:
        return False
    upgrade(engine)
    return True


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database, read with plain SQL (no Alembic import)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command  # noqa: PLC0415 - see module docstring

    command.downgrade(alembic_config(engine), revision)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
