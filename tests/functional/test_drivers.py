"""Installing what the configured backends need: ``./scripts/run`` picks the extras from the
configuration, and a missing driver stops any ``mailslot`` command with one line naming the
install command, never a traceback (the driver's import is blocked in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_database

ROOT = Path(__file__).resolve().parents[2]
PG_URL = "postgresql+psycopg://mailslot@127.0.0.1:1/mailslot"

# The mailslot command with imports of the given modules blocked, as if not installed.
BLOCKED = (
    "import sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    sys.modules[name] = None\n"
    "sys.argv = ['mailslot', *sys.argv[2:]]\n"
    "from mailslot.cli.main import main\n"
    "main()\n"
)


def mailslot_without(
    blocked: str, *args: str, env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILSLOT_")}
    return subprocess.run(
        [sys.executable, "-c", BLOCKED, blocked, *args],
        env=clean | {"MAILSLOT_DATA_DIR": str(tmp_path / "data")} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", [["serve"], ["check"], ["db", "upgrade"], ["users", "list"]])
def test_a_missing_postgresql_driver_is_one_line_naming_the_install(
    tmp_path: Path, command: list[str]
) -> None:
    done = mailslot_without(
        "psycopg,psycopg2", *command, env={"MAILSLOT_DATABASE_URL": PG_URL}, tmp_path=tmp_path
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: MAILSLOT_DATABASE_URL is a PostgreSQL URL, which needs the psycopg driver: "
        "pip install 'mailslot[postgresql]'"
    ]


def test_a_postgresql_url_without_a_driver_name_is_told_which_to_use(tmp_path: Path) -> None:
    url = PG_URL.replace("+psycopg", "")
    done = mailslot_without(
        "psycopg2", "check", env={"MAILSLOT_DATABASE_URL": url}, tmp_path=tmp_path
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "postgresql+psycopg://" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_with_the_driver_the_url_is_accepted(tmp_path: Path) -> None:
    # Positive control: the same command, nothing blocked, gets past the configuration (and
    # then fails to connect to the closed port, reported by `check` as a finding).
    done = mailslot_without(
        "nothing_blocked",
        "check",
        "--json",
        env={"MAILSLOT_DATABASE_URL": PG_URL},
        tmp_path=tmp_path,
    )
    assert "needs the psycopg driver" not in done.stderr
    assert '"cannot connect (OperationalError)"' in done.stdout


def extras(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILSLOT_")}
    done = subprocess.run(
        ["bash", "-c", f'source "{ROOT}/scripts/_common.sh"; app_extras'],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_scripts_install_the_extras_the_configuration_needs() -> None:
    assert extras({}) == ""
    assert extras({"MAILSLOT_DATABASE_URL": PG_URL}) == "postgresql"
    assert extras({"MAILSLOT_BLOB_URL": "s3://bucket/tips"}) == "s3"
    assert extras({"MAILSLOT_DATABASE_URL": PG_URL, "MAILSLOT_BLOB_URL": "s3://b/p"}) == (
        "postgresql,s3"
    )
    assert extras({"MAILSLOT_DATABASE_URL": "sqlite:////tmp/x.sqlite3"}) == ""


def stamp_covers(stamp: Path, extras: str) -> bool:
    done = subprocess.run(
        [
            "bash",
            "-c",
            f'source "{ROOT}/scripts/_common.sh"; _stamp_covers "$@"',
            "-",
            str(stamp),
            "HASH",
            extras,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0


def test_an_install_stamp_is_current_only_with_the_extras_needed(tmp_path: Path) -> None:
    stamp = tmp_path / "stamp"
    stamp.write_text("HASH\n\n")
    assert stamp_covers(stamp, "")
    assert not stamp_covers(stamp, "postgresql")  # switching to PostgreSQL installs psycopg
    stamp.write_text("HASH\npostgresql\n")
    assert stamp_covers(stamp, "postgresql")
    assert not stamp_covers(stamp, "postgresql,s3")
    stamp.write_text("HASH\ntest,postgresql,s3\n")
    assert stamp_covers(stamp, "postgresql,s3")
    stamp.write_text("OTHER\ntest,postgresql,s3\n")  # pyproject.toml or constraints changed
    assert not stamp_covers(stamp, "")
    stamp.write_text("HASH\n")  # a stamp from before extras were recorded
    assert stamp_covers(stamp, "")
    assert not stamp_covers(stamp, "s3")
