"""Fill a database with rows, take a snapshot of all of it, and compare snapshots.

A snapshot is read by reflecting whatever tables the database has, so it shows what a
migration really left behind, not what today's models expect. Comparing the snapshot before
a migration with the one after is what lets these tests fail: a lost row, a changed value, a
dropped or unexpected column or table, or a missing index each makes the comparison differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, MetaData, column, insert, inspect, select, table

from tests.migrations.rows import Row, Rows


@dataclass(frozen=True)
class TableState:
    columns: frozenset[str]
    indexes: frozenset[str]
    rows: list[Row]  # in a canonical order (see _ordered)


Snapshot = dict[str, TableState]


def _ordered(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: repr(sorted(row.items())))


def insert_rows(engine: Engine, *batches: Rows) -> None:
    """Insert rows with plain Core statements naming only their own columns (the columns
    left out take their server defaults, as an older version of Mailslot would have left
    them)."""
    with engine.begin() as connection:
        for rows in batches:
            for name, table_rows in rows.items():
                for row in table_rows:
                    target = table(name, *(column(key) for key in row))
                    connection.execute(insert(target).values(row))


def snapshot(engine: Engine) -> Snapshot:
    """Every table of the database (but Alembic's own) with its columns, indexes and rows."""
    with engine.connect() as connection:
        metadata = MetaData()
        metadata.reflect(connection)
        indexes = inspect(connection).get_multi_indexes()
        return {
            name: TableState(
                columns=frozenset(reflected.columns.keys()),
                indexes=frozenset(
                    # PostgreSQL also lists the index behind each unique constraint.
                    str(i["name"])
                    for i in indexes[None, name]
                    if "duplicates_constraint" not in i
                ),
                rows=_ordered(dict(r._mapping) for r in connection.execute(select(reflected))),
            )
            for name, reflected in metadata.tables.items()
            if name != "alembic_version"
        }


def schema(state: Snapshot) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Each table's columns and indexes: what a downgrade must restore exactly."""
    return {name: (t.columns, t.indexes) for name, t in state.items()}


def project(rows: Iterable[Row], columns: Iterable[str]) -> list[Row]:
    keep = frozenset(columns)
    return _ordered({key: value for key, value in row.items() if key in keep} for row in rows)


def assert_same_data(
    earlier: Snapshot,
    later: Snapshot,
    *,
    new_tables: Iterable[str] = (),
    new_columns: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """``later`` (the schema of the newer revision) has exactly ``new_tables`` and
    ``new_columns`` more than ``earlier``, and the two hold the same rows, value for value,
    in every column they share.

    Used both ways: after an upgrade (``earlier`` is the database before it) and after a
    downgrade (``earlier`` is the database after it, ``later`` the one before).
    """
    assert set(later) - set(earlier) == set(new_tables), "tables added"
    assert set(earlier) - set(later) == set(), "tables lost"
    added = {name: frozenset(cols) for name, cols in (new_columns or {}).items()}
    for name, old in earlier.items():
        new = later[name]
        assert new.columns - old.columns == added.get(name, frozenset()), f"{name}: columns"
        assert old.columns - new.columns == frozenset(), f"{name}: columns lost"
        assert project(new.rows, old.columns) == old.rows, f"{name}: rows differ"


def assert_holds(state: Snapshot, rows: Rows) -> None:
    """Each of ``rows`` reads back from ``state`` with the values it was written with."""
    for name, table_rows in rows.items():
        for row in table_rows:
            assert row in project(state[name].rows, row.keys()), f"{name}: {row} missing"
