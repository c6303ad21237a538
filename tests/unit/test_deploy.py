"""deploy/: the systemd unit is accepted by systemd-analyze verify (when available), and the
way docs/deployment.md runs `mailslot` commands gives them the service's settings."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_database


ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "mailslot.service"
ENV_EXAMPLE = ROOT / "deploy" / "mailslot.env.example"
DEPLOYMENT = ROOT / "docs" / "deployment.md"


def test_the_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (it is on Debian with systemd)")
    mailslot = Path(sys.executable).with_name("mailslot")
    assert mailslot.exists(), "the venv's mailslot command"
    text = UNIT.read_text()
    # Point at what exists on this machine; everything else is checked as shipped.
    text = text.replace("/opt/mailslot/venv/bin/mailslot", str(mailslot))
    env = tmp_path / "mailslot.env"
    env.write_text("MAILSLOT_DATA_DIR=/var/lib/mailslot\n")
    text = text.replace("/etc/mailslot/mailslot.env", str(env))
    unit = tmp_path / "mailslot.service"
    unit.write_text(text)
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mailslot.service" not in result.stderr, result.stderr


def test_the_unit_is_hardened() -> None:
    text = UNIT.read_text()
    for setting in (
        "User=mailslot",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "LimitCORE=0",
        "UMask=0077",
        "CapabilityBoundingSet=\n",
    ):
        assert setting in text, setting


def test_the_example_settings_mean_the_same_to_sh_as_to_systemd() -> None:
    """The documented wrapper reads the settings file with sh: every line of the example,
    commented-out ones included, must reach the command unchanged (systemd reads
    ``NAME=value`` literally)."""
    lines = [
        line.removeprefix("# ")
        for line in ENV_EXAMPLE.read_text().splitlines()
        if re.fullmatch(r"(# )?MAILSLOT_[A-Z_]+=\S*", line)
    ]
    assert len(lines) >= 8
    script = "set -a\n" + "\n".join(lines) + "\nexec env -0\n"
    done = subprocess.run(
        ["sh", "-c", script], env={}, capture_output=True, text=True, timeout=30, check=True
    )
    seen = dict(entry.split("=", 1) for entry in done.stdout.split("\0") if entry)
    for line in lines:
        name, value = line.split("=", 1)
        assert seen[name] == value, name


def test_the_documented_wrapper_gives_commands_the_service_settings(tmp_path: Path) -> None:
    text = DEPLOYMENT.read_text()
    match = re.search(r"sh -c \\\n\s+'([^']+)'", text)
    assert match, "the mailslot() function in docs/deployment.md"
    script = match[1]
    assert script == (
        'set -a && . /etc/mailslot/mailslot.env && exec /opt/mailslot/venv/bin/mailslot "$@"'
    )
    data = tmp_path / "instance"
    settings = tmp_path / "mailslot.env"
    settings.write_text(f"# a comment\nMAILSLOT_DATA_DIR={data}\n")
    mailslot = Path(sys.executable).with_name("mailslot")
    script = script.replace("/etc/mailslot/mailslot.env", str(settings)).replace(
        "/opt/mailslot/venv/bin/mailslot", str(mailslot)
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSLOT_")}
    done = subprocess.run(
        ["sh", "-c", script, "mailslot", "check", "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    findings = {f["name"]: f for f in json.loads(done.stdout)}
    assert findings["data directory"]["detail"] == f"{data} does not exist"
    assert not (elsewhere / "mailslot-data").exists()
