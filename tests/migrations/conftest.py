"""One fresh database per migration test, on the backend the run is for.

Like the rest of the suite, ``MAILSLOT_TEST_DATABASE`` chooses it: an SQLite file in the
test's temporary directory, or a new database on the PostgreSQL server of
``MAILSLOT_TEST_POSTGRESQL_URL`` (dropped afterwards). ``scripts/test`` runs the suite once
per backend, so every test here runs on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from mailslot.db.base import make_engine
from tests.databases import TEST_DATABASE, drop_database, empty_database


# One parameter, named after the backend, so that test ids say which database they ran on.
@pytest.fixture(params=[TEST_DATABASE])
def engine(tmp_path: Path) -> Iterator[Engine]:
    database = empty_database()
    db = make_engine(database or f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
    try:
        yield db
    finally:
        db.dispose()
        drop_database(database)
