"""Alembic environment: the engine comes from the caller (``mailslot.db.migrate``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from mailslot.db.models import Base

config = context.config
engine = config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only reachable by misuse
    raise RuntimeError("run migrations through mailslot.db.migrate or `mailslot db upgrade`")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
