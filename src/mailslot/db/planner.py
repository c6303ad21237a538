"""The query planner's statistics on PostgreSQL.

PostgreSQL plans each query from statistics that ``ANALYZE`` gathers; autovacuum runs it as
tables change. Where autovacuum is off, as on some installs, tables filled in bulk have no
statistics until someone runs ``ANALYZE``, and the planner guesses: an inbox over 100,000
demo cases took 229 ms (median) instead of 16 ms until it ran. So the bulk writers
(``mailslot demo-data``, ``mailslot restore``, migrations) call :func:`analyze` when they
finish, and ``mailslot check`` reports what :func:`planner_findings` sees. The inbox's own
queries are also written to stay fast without statistics (``cases/inbox.py``).

SQLite is left alone: its planner uses statistics only once ``ANALYZE`` has run, and
Mailslot's queries and indexes are chosen for its plans without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Connection, Engine, text

# Statistics matter for tables of this many rows or more: a table this big with none, or with
# this many rows changed since its last ANALYZE and more than half of them, is reported.
BIG_TABLE: Final = 1000


def analyze(engine: Engine) -> bool:
    """Gather the planner's statistics for the tables of the engine's schema (PostgreSQL);
    False on SQLite.

    Only that schema's: an organisation's engine sees its own schema alone, and a plain
    ``ANALYZE`` visits every table of the database, every organisation's (22 s with 186
    organisations: run for each new or migrated organisation, it grew with their number).
    """
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as connection:
        tables = connection.execute(
            text(
                "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
                "ORDER BY c.relname"
            )
        ).scalars()
        names = list(tables)
        if names:
            connection.execute(text(f"ANALYZE {', '.join(names)}"))
        connection.commit()
    return True


@dataclass(frozen=True, slots=True)
class PlannerState:
    """What ``mailslot check`` reports: whether autovacuum runs, and the tables (of the
    connection's schema) with :data:`BIG_TABLE` rows or more and no statistics, or
    statistics long out of date."""

    autovacuum: bool
    without_statistics: list[str]


def planner_state(connection: Connection) -> PlannerState | None:
    """The planner's state on PostgreSQL; None on SQLite.

    Whether a table has statistics is read from ``pg_stats`` (what ``ANALYZE`` stored, kept
    by a copy of the database), how much changed since from ``pg_stat_user_tables`` (counts
    since the server started or this database was made)."""
    if connection.dialect.name != "postgresql":
        return None
    settings = {
        str(name): str(value)
        for name, value in connection.execute(
            text(
                "SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum', 'track_counts')"
            )
        )
    }
    # Autovacuum also needs the row counts that track_counts keeps.
    running = settings.get("autovacuum") == "on" and settings.get("track_counts") == "on"
    tables = connection.execute(
        text(
            "SELECT t.relname, t.n_mod_since_analyze > :big "
            "AND t.n_mod_since_analyze > t.n_live_tup / 2, "
            "EXISTS (SELECT 1 FROM pg_stats s "
            "WHERE s.schemaname = t.schemaname AND s.tablename = t.relname) "
            "FROM pg_stat_user_tables t WHERE t.schemaname = current_schema() "
            "ORDER BY t.relname"
        ),
        {"big": BIG_TABLE},
    ).all()
    lacking = []
    for name, stale, analysed in tables:
        if stale or (not analysed and _has_rows(connection, name, BIG_TABLE)):
            lacking.append(name)
    return PlannerState(autovacuum=running, without_statistics=lacking)


def _has_rows(connection: Connection, table: str, count: int) -> bool:
    """Whether ``table`` holds at least ``count`` rows (reading no more than that)."""
    quoted = connection.dialect.identifier_preparer.quote(table)
    found = connection.execute(
        text(f"SELECT count(*) FROM (SELECT 1 FROM {quoted} LIMIT :n) AS rows"),  # noqa: S608 - a quoted name from the catalog
        {"n": count},
    ).scalar_one()
    return int(found) >= count
