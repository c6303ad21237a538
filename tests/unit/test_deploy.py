"""The systemd unit in deploy/ is accepted by systemd-analyze verify (when available)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "mailslot.service"


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
