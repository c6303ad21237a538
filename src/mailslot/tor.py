"""Tor onion services for Mailslot: a torrc for the two services of every organisation,
client authorisation for each staff one, and reading back the addresses tor created.

The source interface is a public v3 onion service. The staff interface is a v3 onion
service with client authorisation: tor only publishes a descriptor that the holders of the
listed x25519 keys can decrypt, so the staff address is useless to anyone else even if it
leaks. Both enable tor's proof-of-work defence against introduction floods.

Every organisation has its own pair of services (:class:`Services`): the default one in the
tor directory itself, the others in ``<tor dir>/orgs/<id>`` (``orgs.placement.tor_dir``).
All of them forward to the same two local addresses; the ``Host`` header, which over an onion
service is the onion name, picks the organisation once its names are claimed in the host
registry (``mailslot tor-config --claim``, after tor has created them).
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


@dataclass(frozen=True, slots=True)
class Services:
    """One organisation's two onion services: ``<directory>/source`` and ``.../staff``."""

    slug: str
    directory: Path

    def hostname(self, service: str) -> Path:
        return self.directory / service / "hostname"


def torrc(config: Config, every: list[Services]) -> str:
    """The torrc text for the services of each organisation listed. Nothing in it depends on
    a secret."""
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
    for org in every:
        if len(every) > 1:
            lines += [f"# Organisation {org.slug}.", ""]
        lines += _services(services, org.directory)
    return "\n".join(lines)


def _services(services: tuple[tuple[str, tuple[str, int], str], ...], tor_dir: Path) -> list[str]:
    lines: list[str] = []
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
    return lines


@dataclass(frozen=True, slots=True)
class StaffClient:
    name: str
    key: OnionClientKey
    org: str = "default"


def _auth_dir(tor_dir: Path) -> Path:
    return tor_dir / STAFF / "authorized_clients"


def write_tor_config(
    config: Config, out: Path, every: list[Services], clients: list[str]
) -> list[StaffClient]:
    """Write the torrc for the services of each organisation listed to ``out``, and one
    ``.auth`` file per staff client; return the keys (the private halves are shown once and
    not kept).

    Without ``clients``, an organisation whose staff service has no client key yet gets one
    named ``staff``, and one that has keys keeps them: the torrc can be written again when an
    organisation is added. Named ``clients`` are made for every organisation listed, and a
    name it has already is refused."""
    for name in clients:
        if not CLIENT_NAME_RE.fullmatch(name):
            raise ConfigError(f"client names are 1-32 letters, digits, - or _: {name!r}")
    if len(set(clients)) != len(clients):
        raise ConfigError("each client name may appear once")
    wanted: dict[Path, list[str]] = {}
    for org in every:
        auth_dir = _auth_dir(org.directory)
        for name in clients:
            if (auth_dir / f"{name}.auth").exists():
                raise ConfigError(
                    f"{auth_dir / f'{name}.auth'} exists already; choose another name"
                )
        has_keys = auth_dir.is_dir() and any(auth_dir.glob("*.auth"))
        wanted[org.directory] = list(clients) or ([] if has_keys else ["staff"])
    if out.exists():
        raise ConfigError(f"{out} exists already; move it away or choose another path")
    made = []
    for org in every:
        _make_dirs(org.directory, _auth_dir(org.directory))
        for name in wanted[org.directory]:
            key = new_onion_client_key()
            _write_private(_auth_dir(org.directory) / f"{name}.auth", key.auth_line + "\n")
            made.append(StaffClient(name, key, org.slug))
    _write_private(out, torrc(config, every), mode=0o644)
    return made


def _make_dirs(tor_dir: Path, auth_dir: Path) -> None:
    """Readable by the owner's group: tor's group, which the mailslot account joins to read
    the hostname files (the torrc asks tor for the same: HiddenServiceDirGroupReadable).
    The secret keys tor writes inside are its own (mode 0600)."""
    made = [tor_dir, tor_dir / SOURCE, tor_dir / STAFF, auth_dir]
    # An organisation's directory sits in <tor dir>/orgs: those on the way are tor's too.
    parent = tor_dir.parent
    if parent.name == "orgs":
        made[:0] = [parent.parent, parent]
    for directory in made:
        directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        directory.chmod(0o750)


def read_hostname(path: Path) -> str:
    """The onion name tor wrote into a service's ``hostname`` file, or "" if there is none."""
    try:
        text = path.read_text().strip()
    except OSError:
        return ""
    return text if ONION_RE.fullmatch(text) else ""


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
