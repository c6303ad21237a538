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
import tempfile
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from mailslot.crypto import _hazmat
from mailslot.tor import ONION_RE
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
    # Tor's group may read them (to reach the hostname files); nobody else.
    for directory in (tor_dir, tor_dir / "source", tor_dir / "staff", auth.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o750
    assert "DataDirectoryGroupReadable 1" in text
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


def test_tor_creates_both_services_and_its_group_can_read_the_addresses() -> None:
    """The torrc run by a real tor (offline: DisableNetwork) inside a data directory as
    private as Debian's /var/lib/tor: tor creates both services, and an account that is
    only in the files' group (as the mailslot account is in tor's) reads both addresses
    through every directory on the way, so `mailslot check` passes for tor."""
    binary = tor_binary()
    # Others may pass through the base, not list it: the reader below is "nobody".
    base = Path(tempfile.mkdtemp(prefix="mailslot-tor-"))
    base.chmod(0o711)
    try:
        data = base / "tor"
        data.mkdir(mode=0o700)
        tor_dir = data / "mailslot"
        instance = base / "instance"
        instance.mkdir(mode=0o700)
        env = {**os.environ, "MAILSLOT_DATA_DIR": str(instance), "MAILSLOT_TOR_DIR": str(tor_dir)}
        env.pop("MAILSLOT_DATABASE_URL", None)
        torrc = base / "mailslot.torrc"
        made = subprocess.run(
            [sys.executable, "-m", "mailslot.cli.main", "tor-config", "--out", str(torrc)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        main_torrc = base / "torrc"
        main_torrc.write_text(
            f"DataDirectory {data}\nDisableNetwork 1\nLog notice file {base / 'tor.log'}\n"
            f"%include {torrc}\n"
        )
        hostnames = [tor_dir / service / "hostname" for service in ("source", "staff")]
        tor = subprocess.Popen(
            [binary, "-f", str(main_torrc), "--defaults-torrc", os.devnull],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not all(h.exists() for h in hostnames) and tor.poll() is None:
                assert time.monotonic() < deadline, (base / "tor.log").read_text()
                time.sleep(0.2)
            assert tor.poll() is None, (base / "tor.log").read_text()
        finally:
            tor.terminate()
            tor.wait(timeout=30)

        for directory in (data, tor_dir, tor_dir / "source", tor_dir / "staff"):
            assert stat.S_IMODE(directory.stat().st_mode) == 0o750, directory
        addresses = []
        for hostname in hostnames:
            assert stat.S_IMODE(hostname.stat().st_mode) & 0o040
            owner_group = hostname.stat().st_gid
            read = subprocess.run(
                [
                    "setpriv",
                    "--reuid=65534",
                    f"--regid={owner_group}",
                    "--clear-groups",
                    "cat",
                    str(hostname),
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert read.returncode == 0, read.stderr
            assert ONION_RE.fullmatch(read.stdout.strip())
            addresses.append(read.stdout.strip())
        assert addresses[0] != addresses[1]
        # Tor's secret keys stay its own.
        secret = tor_dir / "source" / "hs_ed25519_secret_key"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600

        checked = subprocess.run(
            [sys.executable, "-m", "mailslot.cli.main", "check", "--json", "--torrc", str(torrc)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        findings = {f["name"]: f for f in json.loads(checked.stdout)}
        for name in ("tor source service", "tor staff service", "torrc"):
            assert findings[name]["ok"], findings[name]
        assert findings["tor staff client authorisation"]["detail"] == "1 client key(s)"
        assert checked.returncode == 0, findings
    finally:
        shutil.rmtree(base, ignore_errors=True)
