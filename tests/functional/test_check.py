"""`mailslot check`: says what is fine and what to fix, and fails when something is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from mailslot.db.migrate import HEAD
from tests.conftest import (
    TEST_KDF_TEXT,
    LiveServer,
    drop_database,
    fresh_database,
    start_server,
    stop_server,
)
from tests.functional.test_tor import tor_binary


def check(server: LiveServer, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    return check_env(env or server.env, *args)


def check_env(env: dict[str, str], *args: str) -> tuple[int, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", "check", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, {f["name"]: f for f in json.loads(done.stdout)}


def test_a_sound_instance_passes_and_problems_are_named(tmp_path: Path) -> None:
    live = start_server(tmp_path)
    try:
        live.add_user("admin")
        live.add_user("recipient")
        code, findings = check(live)
        assert code == 0, findings
        assert findings["database"]["ok"]
        assert findings["migrations"]["detail"].startswith("database at 0")
        assert findings["staff keys"]["detail"] == "2 active accounts, keys in order"
        assert findings["tor"]["ok"]

        # A loosened permission is found, with the fix.
        (live.data_dir / "blobs").chmod(0o755)
        code, findings = check(live)
        assert code == 1
        assert not findings["file permissions"]["ok"]
        assert "blobs (0755)" in findings["file permissions"]["detail"]
        assert findings["file permissions"]["fix"].startswith("chmod -R go-rwx")
        (live.data_dir / "blobs").chmod(0o700)

        # Tor configured but not running yet: the missing hostname files are named.
        torrc, tor_dir = tmp_path / "torrc", tmp_path / "hs"
        made = subprocess.run(
            [
                sys.executable,
                "-m",
                "mailslot.cli.main",
                "tor-config",
                "--out",
                str(torrc),
                "--tor-dir",
                str(tor_dir),
            ],
            env=live.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        tor_binary()
        code, findings = check(
            live, "--torrc", str(torrc), env={**live.env, "MAILSLOT_TOR_DIR": str(tor_dir)}
        )
        assert code == 1
        assert findings["torrc"]["ok"], findings["torrc"]
        assert not findings["tor source service"]["ok"]
        assert "missing or unreadable" in findings["tor source service"]["detail"]
        assert findings["tor staff client authorisation"]["detail"] == "1 client key(s)"
    finally:
        stop_server(live)


def test_an_unreachable_database_is_reported(tmp_path: Path) -> None:
    live = start_server(tmp_path)
    stop_server(live)
    env = {**live.env, "MAILSLOT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    code, findings = check(live, env=env)
    assert code == 1
    assert findings["database"] == {
        "name": "database",
        "ok": False,
        "detail": "cannot connect (OperationalError)",
        "fix": "check MAILSLOT_DATABASE_URL and that the database server is running",
        "warn": False,
    }
    assert "migrations" not in findings


def test_a_new_instance_passes_before_its_first_start(tmp_path: Path) -> None:
    """The service unit runs `mailslot check` before every start, the first one included:
    what only that start creates (schema, instance, the setup link for an admin) is a
    warning, so the start happens; a database at an older revision still stops it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)  # as systemd's StateDirectory= leaves it
    database = fresh_database()
    env = {**os.environ, "MAILSLOT_DATA_DIR": str(data_dir), "MAILSLOT_KDF": TEST_KDF_TEXT}
    if database is not None:
        env["MAILSLOT_DATABASE_URL"] = database
    try:
        code, findings = check_env(env)
        assert code == 0, findings
        assert findings["migrations"]["warn"]
        assert findings["migrations"]["detail"].startswith("empty database: the first start")
        assert "instance" not in findings  # nothing to read yet, and no traceback for it

        live = start_server(tmp_path, {"MAILSLOT_DATABASE_URL": database} if database else {})
        try:
            code, findings = check(live)
            assert code == 0, findings
            assert findings["migrations"]["ok"]
            assert findings["instance"]["ok"]
            assert findings["administrator"] == {
                "name": "administrator",
                "ok": False,
                "detail": "0 active admin(s)",
                "fix": "open the setup link (`mailslot setup-link`) or "
                "`mailslot users add --role admin`",
                "warn": True,
            }
            live.add_user("admin")
            code, findings = check(live)
            assert code == 0
            assert findings["administrator"]["ok"]
            assert not findings["administrator"]["warn"]

            # A database left at an older revision (an upgrade without `db upgrade`).
            engine = create_engine(database or f"sqlite:///{data_dir / 'mailslot.sqlite3'}")
            with engine.begin() as connection:
                connection.execute(text("UPDATE alembic_version SET version_num = '0005'"))
            engine.dispose()
            code, findings = check(live)
            assert code == 1
            assert not findings["migrations"]["ok"]
            assert not findings["migrations"]["warn"]
            assert findings["migrations"]["detail"] == (
                f"database at 0005, this version needs {HEAD}"
            )
            assert "instance" not in findings
        finally:
            stop_server(live)
    finally:
        drop_database(database)  # the server shared it, so stopping it left it in place


def test_tables_without_a_revision_are_not_taken_for_a_new_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    database = fresh_database()
    url = database or f"sqlite:///{data_dir / 'mailslot.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE someone_elses (id INTEGER)"))
    engine.dispose()
    env = {**os.environ, "MAILSLOT_DATA_DIR": str(data_dir), "MAILSLOT_DATABASE_URL": url}
    try:
        code, findings = check_env(env)
        assert code == 1
        assert findings["migrations"] == {
            "name": "migrations",
            "ok": False,
            "detail": "1 table(s) but no Mailslot revision: not this instance's database?",
            "fix": "check MAILSLOT_DATABASE_URL",
            "warn": False,
        }
    finally:
        drop_database(database)
