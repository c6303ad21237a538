"""`mailslot check`: says what is fine and what to fix, and fails when something is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import LiveServer, start_server, stop_server
from tests.functional.test_tor import tor_binary


def check(server: LiveServer, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", "check", "--json", *args],
        env=env or server.env,
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
    }
    assert "migrations" not in findings
