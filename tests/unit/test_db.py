"""The dialect-specific ``INSERT ... ON CONFLICT DO NOTHING`` and what it costs an instance on
SQLite (the rows it writes are tested on both backends in test_limits, test_audit and
test_notices)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from mailslot.config import load_config
from mailslot.crypto import TEST_KDF
from mailslot.db.base import insert_ignoring_conflict
from mailslot.notifications.models import PendingNotice
from mailslot.runtime import open_runtime

VALUES = {"user_id": "u1", "due_at": 1, "attempts": 0, "claimed_until": 0, "last_error": None}


@pytest.mark.parametrize(("name", "dialect"), [("postgresql", postgresql), ("sqlite", sqlite)])
def test_statement_is_the_dialects_own(name: str, dialect: object) -> None:
    statement = insert_ignoring_conflict(name, PendingNotice, VALUES, ["user_id"])
    sql = str(statement.compile(dialect=dialect.dialect()))  # type: ignore[attr-defined]
    assert sql.startswith("INSERT INTO pending_notices")
    assert sql.endswith("ON CONFLICT (user_id) DO NOTHING")
    assert isinstance(statement, dialect.Insert)  # type: ignore[attr-defined]


def test_without_index_elements_any_conflict_is_ignored() -> None:
    statement = insert_ignoring_conflict("sqlite", PendingNotice, VALUES)
    assert str(statement.compile(dialect=sqlite.dialect())).endswith("ON CONFLICT DO NOTHING")


def test_serving_on_sqlite_does_not_load_the_postgresql_dialect(tmp_path: Path) -> None:
    """Every module that writes such a statement is imported, both apps are built and a
    statement is made for SQLite, in a fresh interpreter: PostgreSQL's dialect (about 2 MiB
    of resident memory) stays out. The database is migrated first, by this process, as
    `mailslot serve` has a short-lived child do it (Alembic loads every dialect)."""
    open_runtime(load_config({}, data_dir=tmp_path / "data", kdf=TEST_KDF)).close()
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from mailslot.config import load_config
        from mailslot.crypto import TEST_KDF
        from mailslot.runtime import open_runtime
        from mailslot.web.app import create_source_app, create_staff_app
        from mailslot.web.common import Templates
        import mailslot.audit.services, mailslot.jobs, mailslot.limits.services
        import mailslot.notifications.services
        from mailslot.db.base import insert_ignoring_conflict
        from mailslot.notifications.models import PendingNotice

        data_dir = Path({str(tmp_path / "data")!r})
        runtime = open_runtime(load_config({{}}, data_dir=data_dir, kdf=TEST_KDF))
        templates = Templates()
        create_source_app(runtime, templates), create_staff_app(runtime, templates)
        insert_ignoring_conflict("sqlite", PendingNotice, {{"user_id": "u"}})
        runtime.close()
        loaded = sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects.postgresql"))
        print(loaded)
        assert "sqlalchemy.dialects.sqlite" in sys.modules
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
