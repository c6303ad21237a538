"""The suite's own databases (tests/databases.py): every test must get what a fresh,
migrated database would be, whether it was cloned, copied or handed back by another test."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text

from mailslot.db.base import make_engine
from mailslot.db.migrate import HEAD, stored_revision
from mailslot.db.models import Base
from mailslot.instance.models import Instance
from tests.databases import (
    SQLITE_NAME,
    TEST_DATABASE,
    drop_database,
    empty_database,
    migrated_database,
)


def url_of(database: str | None, data_dir: Path) -> str:
    return database or f"sqlite:///{data_dir / SQLITE_NAME}"


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def add_instance(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                Instance.__table__.insert().values(  # type: ignore[attr-defined]
                    name="x",
                    guidance="",
                    show_source_submissions=False,
                    codename_salt=bytes(16),
                    source_kdf="k",
                    created_at=0,
                )
            )
            return int(connection.execute(select(func.max(Instance.id))).scalar_one())
    finally:
        engine.dispose()


def test_a_migrated_database_is_at_the_head_with_no_rows(tmp_path: Path) -> None:
    database = migrated_database(tmp_path / "data")
    try:
        url = url_of(database, tmp_path / "data")
        engine = make_engine(url)
        assert stored_revision(engine) == HEAD
        engine.dispose()
        assert set(row_counts(url).values()) == {0}
    finally:
        drop_database(database)


def test_a_database_used_before_comes_back_as_new(tmp_path: Path) -> None:
    """Rows written by one test are gone for the next, and ids start again."""
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first = migrated_database(first_dir)
    first_id = add_instance(url_of(first, first_dir))
    drop_database(first)
    second = migrated_database(second_dir)
    try:
        url = url_of(second, second_dir)
        if TEST_DATABASE == "postgresql":
            assert second == first  # the clone was emptied and handed out again
        assert set(row_counts(url).values()) == {0}
        assert add_instance(url) == first_id
    finally:
        drop_database(second)


def test_a_database_whose_schema_changed_is_not_handed_out_again(tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first = migrated_database(first_dir)
    engine = make_engine(url_of(first, first_dir))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE someone_elses (id INTEGER)"))
    engine.dispose()
    drop_database(first)
    second = migrated_database(second_dir)
    try:
        url = url_of(second, second_dir)
        if TEST_DATABASE == "postgresql":
            assert second != first
        engine = make_engine(url)
        with engine.connect() as connection:
            tables = set(
                connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'table'")
                    if TEST_DATABASE != "postgresql"
                    else text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                ).scalars()
            )
        engine.dispose()
        assert "someone_elses" not in tables
        assert {t.name for t in Base.metadata.sorted_tables} <= tables
    finally:
        drop_database(second)


def test_an_empty_database_has_no_tables(tmp_path: Path) -> None:
    database = empty_database()
    try:
        engine = make_engine(url_of(database, tmp_path))
        assert stored_revision(engine) is None
        engine.dispose()
    finally:
        drop_database(database)
