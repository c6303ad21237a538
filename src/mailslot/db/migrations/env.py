"""Alembic environment: the engine comes from the caller (``mailslot.db.migrate``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from mailslot.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only reachable by misuse
    raise RuntimeError("run migrations through mailslot.db.migrate or `mailslot db upgrade`")

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # On SQLite, batch mode rebuilds a table (copy, drop, rename). With foreign keys on,
        # dropping the original would delete its children (every item of every case) or fail
        # on a RESTRICT. SQLite ignores this pragma inside a transaction: set it before one.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all() if sqlite else []
            if broken:
                raise RuntimeError(f"the migration left rows without their parent: {broken[:5]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
