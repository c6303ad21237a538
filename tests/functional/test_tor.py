"""`mailslot tor-config`: a torrc that Debian's tor accepts, client keys for the staff
service, and the onion addresses shown to admins once tor has created them."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from mailslot.crypto import _hazmat
from tests.conftest import LiveServer, start_server, stop_server

SOURCE_ONION = "a" * 55 + "d.onion"
STAFF_ONION = "b" * 55 + "d.onion"


def tor_binary() -> str:
    found = shutil.which("tor") or next(
        (p for p in ("/usr/sbin/tor", "/usr/bin/tor") if os.access(p, os.X_OK)), None
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("tor must be installed in CI (scripts/test installs Debian's tor)")
        pytest.skip("tor is not installed (./scripts/test installs it)")
    return found


def tor_config(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", "tor-config", *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def test_torrc_is_valid_for_tor_and_staff_keys_match(server: LiveServer, tmp_path: Path) -> None:
    torrc, tor_dir = tmp_path / "torrc", tmp_path / "hs"
    done = tor_config(
        server,
        "--out",
        str(torrc),
        "--tor-dir",
        str(tor_dir),
        "--client",
        "ana",
        "--client",
        "bo",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [c["name"] for c in report["clients"]] == ["ana", "bo"]

    text = torrc.read_text()
    assert text.count("HiddenServiceVersion 3") == 2
    assert text.count("HiddenServicePoWDefensesEnabled 1") == 2
    assert "SafeLogging 1" in text
    assert "SocksPort 0" in text
    source_port = server.source_url.rsplit(":", 1)[1]
    staff_port = server.staff_url.rsplit(":", 1)[1]
    assert f"HiddenServiceDir {tor_dir / 'source'}\n" in text
    assert f"HiddenServicePort 80 127.0.0.1:{source_port}\n" in text
    assert f"HiddenServicePort 80 127.0.0.1:{staff_port}\n" in text

    checked = subprocess.run(
        [tor_binary(), "--verify-config", "-f", str(torrc), "--defaults-torrc", os.devnull],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Configuration was valid" in checked.stdout

    for client in report["clients"]:
        auth = tor_dir / "staff" / "authorized_clients" / f"{client['name']}.auth"
        assert stat.S_IMODE(auth.stat().st_mode) == 0o600
        line = auth.read_text().strip()
        prefix = "descriptor:x25519:"
        assert line.startswith(prefix)
        public = unb32(line[len(prefix) :])
        private = unb32(client["private_key"])
        assert len(client["private_key"]) == 52
        # The private key handed out opens what the service was told to accept.
        derived = _hazmat.x25519.X25519PrivateKey.from_private_bytes(private)
        assert derived.public_key().public_bytes_raw() == public
    for directory in (tor_dir, tor_dir / "source", tor_dir / "staff"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    # The private keys are not written anywhere.
    for path in tor_dir.rglob("*"):
        if path.is_file():
            assert all(c["private_key"] not in path.read_text() for c in report["clients"])

    again = tor_config(server, "--out", str(torrc), "--tor-dir", str(tor_dir))
    assert again.returncode != 0
    assert "exists already" in again.stderr
    bad = tor_config(
        server, "--out", str(tmp_path / "t2"), "--tor-dir", str(tor_dir), "--client", "../x"
    )
    assert bad.returncode != 0
    assert "client names" in bad.stderr


def test_admins_see_the_onion_addresses_and_sources_get_onion_location(tmp_path: Path) -> None:
    tor_dir = tmp_path / "hs"
    for service, address in (("source", SOURCE_ONION), ("staff", STAFF_ONION)):
        (tor_dir / service).mkdir(parents=True)
        (tor_dir / service / "hostname").write_text(address + "\n")
    (tmp_path / "srv").mkdir()
    live = start_server(tmp_path / "srv", {"MAILSLOT_TOR_DIR": str(tor_dir)})
    try:
        admin = live.add_user("admin")
        with closing(live.staff_client(admin)) as web:
            page = web.get("/admin").text
        assert f"http://{SOURCE_ONION}" in page
        assert f"http://{STAFF_ONION}" in page
        home = httpx.get(f"{live.source_url}/", timeout=30)
        assert home.headers["onion-location"] == f"http://{SOURCE_ONION}/"
    finally:
        stop_server(live)


def test_without_tor_the_admin_page_says_how_to_set_it_up(tmp_path: Path) -> None:
    live = start_server(tmp_path)
    try:
        admin = live.add_user("admin")
        with closing(live.staff_client(admin)) as web:
            assert "No onion services are configured" in web.get("/admin").text
        assert "onion-location" not in httpx.get(f"{live.source_url}/", timeout=30).headers
    finally:
        stop_server(live)
