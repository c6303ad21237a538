"""Tor onion services for Mailslot: a torrc for the two services, client authorisation for
the staff one, and reading back the addresses tor created.

The source interface is a public v3 onion service. The staff interface is a v3 onion
service with client authorisation: tor only publishes a descriptor that the holders of the
listed x25519 keys can decrypt, so the staff address is useless to anyone else even if it
leaks. Both enable tor's proof-of-work defence against introduction floods.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from mailslot.config import Config
from mailslot.crypto.onion import OnionClientKey, new_onion_client_key
from mailslot.errors import ConfigError

SOURCE: Final = "source"
STAFF: Final = "staff"
DEFAULT_TOR_DIR: Final = Path("/var/lib/tor/mailslot")
CLIENT_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
ONION_RE: Final = re.compile(r"[a-z2-7]{56}\.onion")
# How long a missing hostname file is remembered before looking again.
RECHECK_SECONDS: Final = 60


def _local(addr: tuple[str, int]) -> str:
    host, port = addr
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - mapping a wildcard listen address to loopback
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def torrc(config: Config, tor_dir: Path) -> str:
    """The torrc text for both services. Nothing in it depends on a secret."""
    stamp = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%d")
    lines = [
        f"# Mailslot onion services, written by `mailslot tor-config` on {stamp}.",
        "# Include this file from /etc/tor/torrc (%include) or use it as the torrc.",
        "",
        "# This tor only serves Mailslot: no SOCKS port for local programs.",
        "SocksPort 0",
        "# Keep addresses and other sensitive strings out of tor's own logs.",
        "SafeLogging 1",
        "Log notice syslog",
        "# Lets tor's group (the mailslot account joins it) pass through tor's own data",
        "# directory to the hostname files below; tor keeps its keys private regardless.",
        "DataDirectoryGroupReadable 1",
        "",
    ]
    services = (
        (SOURCE, config.source_addr, "public: the address you publish for sources"),
        (STAFF, config.staff_addr, "staff only: needs a client key (authorized_clients/)"),
    )
    for name, addr, comment in services:
        lines += [
            f"# The {name} interface, {comment}.",
            f"HiddenServiceDir {tor_dir / name}",
            "HiddenServiceVersion 3",
            f"HiddenServicePort 80 {_local(addr)}",
            "# Clients solve a small puzzle when the service is flooded with introductions.",
            "HiddenServicePoWDefensesEnabled 1",
            "# Lets the mailslot account (in tor's group) read the hostname file.",
            "HiddenServiceDirGroupReadable 1",
            "",
        ]
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class StaffClient:
    name: str
    key: OnionClientKey


def write_tor_config(
    config: Config, out: Path, tor_dir: Path, clients: list[str]
) -> list[StaffClient]:
    """Write the torrc to ``out`` and one ``.auth`` file per staff client; return the keys
    (the private halves are shown once and not kept)."""
    names = clients or ["staff"]
    for name in names:
        if not CLIENT_NAME_RE.fullmatch(name):
            raise ConfigError(f"client names are 1-32 letters, digits, - or _: {name!r}")
    if len(set(names)) != len(names):
        raise ConfigError("each client name may appear once")
    auth_dir = tor_dir / STAFF / "authorized_clients"
    for name in names:
        if (auth_dir / f"{name}.auth").exists():
            raise ConfigError(f"{auth_dir / f'{name}.auth'} exists already; choose another name")
    if out.exists():
        raise ConfigError(f"{out} exists already; move it away or choose another path")
    # Readable by the owner's group: tor's group, which the mailslot account joins to read
    # the hostname files (the torrc asks tor for the same: HiddenServiceDirGroupReadable).
    # The secret keys tor writes inside are its own (mode 0600).
    for directory in (tor_dir, tor_dir / SOURCE, tor_dir / STAFF, auth_dir):
        directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        directory.chmod(0o750)
    made = []
    for name in names:
        key = new_onion_client_key()
        _write_private(auth_dir / f"{name}.auth", key.auth_line + "\n")
        made.append(StaffClient(name, key))
    _write_private(out, torrc(config, tor_dir), mode=0o644)
    return made


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


@dataclass
class OnionAddresses:
    """The addresses tor wrote into ``<tor_dir>/<service>/hostname``, read when needed and
    remembered (a missing file is looked for again after a minute)."""

    tor_dir: Path | None
    _found: dict[str, str] = field(default_factory=dict)
    _missing_since: dict[str, float] = field(default_factory=dict)

    def address(self, service: str) -> str:
        if self.tor_dir is None:
            return ""
        if service in self._found:
            return self._found[service]
        checked = self._missing_since.get(service)
        if checked is not None and time.monotonic() - checked < RECHECK_SECONDS:
            return ""
        try:
            text = (self.tor_dir / service / "hostname").read_text().strip()
        except OSError:
            text = ""
        if ONION_RE.fullmatch(text):
            self._found[service] = text
            return text
        self._missing_since[service] = time.monotonic()
        return ""
