"""README's first command: `./scripts/run` serves Mailslot on its embedded defaults (SQLite
and files in the data directory) and prints the one-time setup link."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for_port

# ./scripts/run starts on its embedded defaults (every MAILSLOT_* setting of the caller is
# dropped), so this test is the same on both passes and opens no test database.
pytestmark = pytest.mark.no_database

ROOT = Path(__file__).resolve().parents[2]


def test_scripts_run_serves_the_defaults(tmp_path: Path) -> None:
    source_port, staff_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    # The caller's MAILSLOT_* settings (the PostgreSQL pass sets none for servers, but a
    # developer may have some) stay out: this is the embedded default.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSLOT_")}
    env |= {
        "MAILSLOT_DATA_DIR": str(data_dir),
        "MAILSLOT_SOURCE_ADDR": f"127.0.0.1:{source_port}",
        "MAILSLOT_STAFF_ADDR": f"127.0.0.1:{staff_port}",
        "MAILSLOT_OPERATOR_ADDR": f"127.0.0.1:{free_port()}",
        "TMPDIR": str(tmp_path),
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(source_port, proc, timeout=120)
        wait_for_port(staff_port, proc, timeout=120)
        assert httpx.get(f"http://127.0.0.1:{source_port}/", timeout=30).status_code == 200
        ready = httpx.get(f"http://127.0.0.1:{staff_port}/readyz", timeout=30)
        assert ready.status_code == 200
        text = log.read_text()
        link = re.search(rf"http://127\.0\.0\.1:{staff_port}/setup/\S+", text)
        assert link, text
        assert httpx.get(link[0], timeout=30).status_code == 200
        assert (data_dir / "mailslot.sqlite3").is_file()
        assert (data_dir / "blobs").is_dir()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
