"""Shared fixtures: a real ``mailslot serve`` on loopback, and helpers to drive it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
import pytest

from mailslot.config import Config, load_config
from mailslot.crypto import TEST_KDF
from mailslot.runtime import Runtime, open_runtime

TEST_KDF_TEXT = TEST_KDF.encode()
# MAILSLOT_TEST_DATABASE=postgresql runs every server and runtime of the suite on its own
# fresh PostgreSQL database (on the server of MAILSLOT_TEST_POSTGRESQL_URL); SQLite otherwise.
TEST_DATABASE = os.environ.get("MAILSLOT_TEST_DATABASE", "sqlite")
POSTGRESQL_URL = os.environ.get("MAILSLOT_TEST_POSTGRESQL_URL", "")


def fresh_database() -> str | None:
    """A new, empty PostgreSQL database for one server or runtime (None on SQLite runs)."""
    if TEST_DATABASE != "postgresql":
        return None
    if not POSTGRESQL_URL:
        raise RuntimeError("MAILSLOT_TEST_DATABASE=postgresql needs MAILSLOT_TEST_POSTGRESQL_URL")
    import psycopg

    name = "mailslot_" + os.urandom(6).hex()
    admin = POSTGRESQL_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return POSTGRESQL_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str | None) -> None:
    if url is None:
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = POSTGRESQL_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


ARTIFACTS = Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mailslot serve exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


class Totp:
    """Hands out codes that the server has not seen yet (it rejects replays)."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    def code(self, secret: str) -> str:
        totp = pyotp.TOTP(secret)
        while True:
            moment = time.time()
            now = totp.timecode(moment)  # type: ignore[arg-type]
            # The previous step's code stops working when the next step begins: use it only
            # while this step has a few seconds left, so the server still accepts it.
            previous = [now - 1] if totp.interval - moment % totp.interval > 5 else []
            for counter in (*previous, now, now + 1):
                if counter > self.used.get(secret, 0):
                    self.used[secret] = counter
                    return str(totp.generate_otp(counter))
            time.sleep(1)


@dataclass
class Account:
    username: str
    password: str
    totp_secret: str
    recovery_key: str
    id: str


@dataclass
class LiveServer:
    data_dir: Path
    source_url: str
    staff_url: str
    log_path: Path
    proc: subprocess.Popen[bytes]
    setup_link: str | None
    env: dict[str, str]
    database: str | None = None
    totp: Totp = field(default_factory=Totp)
    _counter: int = 0

    def config(self) -> Config:
        return load_config(self.env)

    def runtime(self) -> Runtime:
        return open_runtime(self.config(), migrate=False)

    def dump_database(self, path: Path) -> Path | None:
        """On PostgreSQL, write every table's rows (COPY, binary: bytea values raw) to
        ``path`` so that file scans see what the database holds; on SQLite the database is
        a file in the data directory already, and this returns None."""
        if self.database is None:
            return None
        import psycopg

        from mailslot.db.models import Base

        url = self.database.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(url) as connection, path.open("wb") as out:
            for table in Base.metadata.sorted_tables:
                query = f'COPY "{table.name}" TO STDOUT (FORMAT binary)'
                with connection.cursor().copy(query) as copy:
                    for block in copy:
                        out.write(bytes(block))
        return path

    def unique(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}{os.urandom(3).hex()}"

    def add_user(
        self, role: str = "recipient", channels: tuple[str, ...] = ("default",)
    ) -> Account:
        """Create an account through the real CLI, as an operator would."""
        username = self.unique(role[:3])
        password = "correct horse battery " + os.urandom(6).hex()
        pw_file = self.data_dir.parent / f"{username}.pw"
        pw_file.write_text(password + "\n")
        args = [
            sys.executable,
            "-m",
            "mailslot.cli.main",
            "users",
            "add",
            "--username",
            username,
            "--role",
            role,
            "--password-file",
            str(pw_file),
            "--json",
        ]
        for channel in channels if role == "recipient" else ():
            args += ["--channel", channel]
        out = subprocess.run(args, env=self.env, check=True, capture_output=True, timeout=60)
        pw_file.unlink()
        import json

        data = json.loads(out.stdout)
        return Account(username, password, data["totp_secret"], data["recovery_key"], data["id"])

    def add_channel(self, name: str, recipients: tuple[str, ...], description: str = "") -> str:
        args = [
            sys.executable,
            "-m",
            "mailslot.cli.main",
            "channels",
            "add",
            "--name",
            name,
            "--description",
            description,
            "--json",
        ]
        for r in recipients:
            args += ["--recipient", r]
        out = subprocess.run(args, env=self.env, check=True, capture_output=True, timeout=60)
        import json

        return str(json.loads(out.stdout)["id"])

    def staff_client(self, account: Account) -> httpx.Client:
        client = httpx.Client(base_url=self.staff_url, timeout=60)
        response = client.post(
            "/login",
            data={
                "username": account.username,
                "password": account.password,
                "totp": self.totp.code(account.totp_secret),
            },
        )
        assert response.status_code == 303, response.text
        return client

    def api_client(self, account: Account) -> httpx.Client:
        """An httpx client for ``/api/v1`` authenticated as ``account``."""
        return httpx.Client(
            base_url=f"{self.staff_url}/api/v1",
            headers={"Authorization": f"Bearer {self.api_token(account)}"},
            timeout=60,
        )

    def api_token(self, account: Account) -> str:
        response = httpx.post(
            f"{self.staff_url}/api/v1/auth/token",
            json={
                "username": account.username,
                "password": account.password,
                "totp": self.totp.code(account.totp_secret),
            },
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])


def start_server(base: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    data_dir = base / "data"
    source_port, staff_port = free_port(), free_port()
    env = {
        **os.environ,
        "MAILSLOT_DATA_DIR": str(data_dir),
        "MAILSLOT_SOURCE_ADDR": f"127.0.0.1:{source_port}",
        "MAILSLOT_STAFF_ADDR": f"127.0.0.1:{staff_port}",
        "MAILSLOT_KDF": TEST_KDF_TEXT,
        "TMPDIR": str(base / "tmp"),
        **(extra_env or {}),
    }
    # A server given a database (a second process of one instance) shares it; else its own.
    database = None if "MAILSLOT_DATABASE_URL" in env else fresh_database()
    if database is not None:
        env["MAILSLOT_DATABASE_URL"] = database
    (base / "tmp").mkdir(exist_ok=True)
    log_path = base / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mailslot.cli.main", "serve"], env=env, stdout=log, stderr=log
        )
    try:
        wait_for_port(source_port, proc)
        wait_for_port(staff_port, proc)
    except RuntimeError:
        proc.kill()
        drop_database(database)
        raise RuntimeError(log_path.read_text()) from None
    match = re.search(r"(http://\S+/setup/\S+)", log_path.read_text())
    return LiveServer(
        data_dir=data_dir,
        source_url=f"http://127.0.0.1:{source_port}",
        staff_url=f"http://127.0.0.1:{staff_port}",
        log_path=log_path,
        proc=proc,
        setup_link=match[1] if match else None,
        env=env,
        database=database,
    )


def stop_server(server: LiveServer) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        server.proc.kill()
    drop_database(server.database)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("mailslot"))
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def recipient(server: LiveServer) -> Account:
    return server.add_user("recipient")


@pytest.fixture
def source(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.source_url, timeout=60)
    yield client  # type: ignore[misc]
    client.close()


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Config]:
    database = fresh_database()
    overrides = {"database_url": database} if database else {}
    yield load_config({}, data_dir=tmp_path / "data", kdf=TEST_KDF, **overrides)
    drop_database(database)


@pytest.fixture
def runtime(config: Config) -> Iterator[Runtime]:
    rt = open_runtime(config)
    yield rt
    rt.close()
