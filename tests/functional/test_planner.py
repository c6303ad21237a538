"""PostgreSQL's planner statistics (db/planner.py): ``mailslot check`` warns when autovacuum is
off and when a large table has no statistics, and ``mailslot demo-data`` gathers them when it
finishes. On SQLite there is nothing to report, and nothing is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import TEST_DATABASE, LiveServer, start_server, stop_server
from tests.functional.test_check import check_env


def has_statistics(url: str, table: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return bool(
                connection.execute(
                    text("SELECT EXISTS (SELECT 1 FROM pg_stats WHERE tablename = :t)"),
                    {"t": table},
                ).scalar()
            )
    finally:
        engine.dispose()


def run_sql(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def demo_data(live: LiveServer, cases: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", "demo-data", "--cases", str(cases)],
        env=live.env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def test_check_reports_the_planner_statistics(tmp_path: Path) -> None:
    live = start_server(tmp_path)
    try:
        code, findings = check_env(live.env)
        if TEST_DATABASE != "postgresql":
            assert code == 0, findings
            assert "postgresql autovacuum" not in findings
            assert "postgresql statistics" not in findings
            return
        url = live.database
        assert url is not None
        engine = create_engine(url)
        with engine.connect() as connection:
            autovacuum = connection.execute(text("SHOW autovacuum")).scalar() == "on"
        engine.dispose()
        assert code == 0, findings  # warnings only: nothing here stops a start
        assert findings["postgresql autovacuum"]["ok"] is autovacuum
        assert findings["postgresql autovacuum"]["warn"]
        assert findings["postgresql statistics"]["ok"], findings["postgresql statistics"]

        # Rows written in bulk and never analysed: named, with the fix.
        run_sql(
            url,
            "INSERT INTO login_throttles (key, failures, first_failure_at, locked_until, "
            "unreported) SELECT decode(md5(g::text) || md5(g::text), 'hex'), 1, 0, 0, 0 "
            "FROM generate_series(1, 1500) AS g",
        )
        code, findings = check_env(live.env)
        assert code == 0
        statistics = findings["postgresql statistics"]
        assert not statistics["ok"]
        assert statistics["warn"]
        assert "login_throttles" in statistics["detail"]
        assert "ANALYZE" in statistics["fix"]

        run_sql(url, "ANALYZE login_throttles")
        code, findings = check_env(live.env)
        assert findings["postgresql statistics"]["ok"], findings["postgresql statistics"]
    finally:
        stop_server(live)


def test_demo_data_gathers_statistics_when_it_finishes(tmp_path: Path) -> None:
    live = start_server(tmp_path)
    try:
        live.add_user("recipient")
        if TEST_DATABASE != "postgresql":
            # SQLite's plans are chosen without statistics: none are made.
            demo_data(live, 2)
            engine = create_engine(f"sqlite:///{live.data_dir / 'mailslot.sqlite3'}")
            with engine.connect() as connection:
                tables = connection.execute(text("SELECT name FROM sqlite_master")).scalars()
                names = set(tables)
            engine.dispose()
            assert "cases" in names
            assert "sqlite_stat1" not in names
            return
        url = live.database
        assert url is not None
        # A test database may be reused after another test's ANALYZE: forget what it left
        # (as a superuser, like the tests' own role), then check that none remain.
        run_sql(
            url,
            "DELETE FROM pg_statistic WHERE starelid IN "
            "('cases'::regclass, 'case_key_wraps'::regclass)",
        )
        assert not has_statistics(url, "cases")  # positive control: none yet
        demo_data(live, 2)
        assert has_statistics(url, "cases")
        assert has_statistics(url, "case_key_wraps")
    finally:
        stop_server(live)
