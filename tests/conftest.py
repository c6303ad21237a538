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
from typing import Any

import httpx
import pyotp
import pytest

from mailslot.config import Config, load_config
from mailslot.crypto import TEST_KDF
from mailslot.runtime import Runtime, open_runtime
from tests.databases import (
    POSTGRESQL_URL,  # noqa: F401 - imported from here by tests
    TEST_DATABASE,
    drop_database,
    empty_database,
    install_sqlite_template,
    migrated_database,
    refuse_the_run_database,
    remove_all,
)

TEST_KDF_TEXT = TEST_KDF.encode()

# A real S3 server (moto's server mode) and a bucket per test, for the object-storage tests.
pytest_plugins = ("tests.s3",)


def _as_a_browser(send: Any) -> Any:
    """Every test client posts as a browser does: a browser sends ``Origin`` on every POST
    (Tor Browser too), and the HTML interfaces refuse a POST with neither ``Origin`` nor
    ``Sec-Fetch-Site`` (``web/security.py``). A request that sets either keeps its own; a
    test of a client that sends neither writes its request by hand."""

    def wrapped(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
        if unsafe and "origin" not in request.headers and "sec-fetch-site" not in request.headers:
            netloc = request.url.netloc.decode("ascii")
            request.headers["Origin"] = f"{request.url.scheme}://{netloc}"
        return send(self, request, **kwargs)  # type: ignore[no-any-return]

    return wrapped


httpx.Client.send = _as_a_browser(httpx.Client.send)  # type: ignore[method-assign]


def _one_tls_context(create: Any) -> Any:
    """Every ``httpx.Client`` builds a TLS context and loads the whole CA bundle into it
    (10 to 30 ms), even for the plain-HTTP loopback servers the tests talk to; the suite
    makes thousands of clients, and profiling ``test_authz_orgs.py`` found two thirds of its
    time there. Clients made with the default settings share one context instead (read-only
    once made, so sharing it changes nothing a test observes); any other setting builds its
    own as before."""
    shared: list[Any] = []

    def cached(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is not True or cert is not None or not trust_env:
            return create(verify=verify, cert=cert, trust_env=trust_env)
        if not shared:
            shared.append(create(verify=verify, cert=cert, trust_env=trust_env))
        return shared[0]

    return cached


# httpx 0.28 binds the name in its transport module; the check keeps a silent no-op out.
assert hasattr(httpx._transports.default, "create_ssl_context")
httpx._transports.default.create_ssl_context = _one_tls_context(  # type: ignore[attr-defined]
    httpx._transports.default.create_ssl_context  # type: ignore[attr-defined]
)

# Kept under these names for the tests that import them: an empty database (no schema), and
# giving back any test database (see tests/databases.py).
fresh_database = empty_database


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    remove_all()


# The files that take longest, slowest first (each file's total over a SQLite pass, measured
# on 2026-12-06). With the files spread over parallel workers (pytest-xdist, --dist
# loadfile), starting these first keeps one long file from running alone at the end.
SLOW_FILES = (
    "tests/functional/test_pages.py",
    "tests/functional/test_orgs_ops.py",
    "tests/functional/test_bench.py",
    "tests/functional/test_orgs.py",
    "tests/functional/test_languages.py",
    "tests/functional/test_retention.py",
    "tests/unit/test_atheris.py",
    "tests/functional/test_authz_orgs.py",
    "tests/functional/test_seizure_orgs.py",
    "tests/functional/test_audit.py",
    "tests/unit/test_s3_data.py",
    "tests/functional/test_channel_settings.py",
    "tests/functional/test_notices.py",
    "tests/functional/test_questionnaires.py",
    "tests/functional/test_backup.py",
    "tests/functional/test_no_identifiers.py",
    "tests/unit/test_s3_store.py",
    "tests/functional/test_authz.py",
    "tests/functional/test_http_limits.py",
    "tests/functional/test_limits.py",
    "tests/functional/test_never_lose_browser.py",
    "tests/functional/test_webauthn.py",
    "tests/functional/test_s3.py",
    "tests/functional/test_reminders.py",
    "tests/functional/test_seizure.py",
    "tests/functional/test_large_files.py",
    "tests/functional/test_stats.py",
    "tests/functional/test_rtl.py",
    "tests/functional/test_seizure_s3.py",
    "tests/unit/test_blob_store_contract.py",
    "tests/migrations/test_revisions.py",
    "tests/functional/test_source.py",
    "tests/functional/test_offline.py",
    "tests/functional/test_casework.py",
    "tests/functional/test_account.py",
    "tests/functional/test_questionnaire_browser.py",
    "tests/unit/test_form_fuzz.py",
    "tests/functional/test_tor.py",
    "tests/functional/test_staff.py",
    "tests/functional/test_inbox.py",
    "tests/functional/test_drops_web.py",
    "tests/functional/test_operator.py",
    "tests/functional/test_check.py",
    "tests/functional/test_same_origin.py",
    "tests/unit/test_inbox_shapes.py",
    "tests/functional/test_browser.py",
    "tests/unit/test_documents_sandbox.py",
    "tests/functional/test_workspace.py",
    "tests/functional/test_questionnaire_fuzz.py",
    "tests/functional/test_questionnaire_builder.py",
    "tests/functional/test_identity.py",
    "tests/functional/test_headers.py",
    "tests/unit/test_orgs.py",
    "tests/functional/test_api_fuzz.py",
    "tests/functional/test_output_encoding.py",
    "tests/functional/test_scale_out.py",
)


def _slow_first(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return SLOW_FILES.index(path) if path in SLOW_FILES else len(SLOW_FILES)


def _same_on_every_run(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("no_database", "sqlite_only"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow files first (a stable sort: each file's tests keep their order). The PostgreSQL
    pass runs only the tests that use its database: a test marked ``no_database`` never
    opens one, and one marked ``sqlite_only`` opens only SQLite files of its own whatever the
    run's database (the guards below fail either on the SQLite pass if it does otherwise),
    so on the PostgreSQL pass they would only repeat themselves."""
    items.sort(key=_slow_first)
    if TEST_DATABASE != "postgresql":
        # A test marked ``postgresql_only`` checks what exists only there (schemas of one
        # database): the SQLite pass leaves it to the PostgreSQL pass.
        elsewhere = [item for item in items if item.get_closest_marker("postgresql_only")]
        if elsewhere:
            config.hook.pytest_deselected(items=elsewhere)
            items[:] = [item for item in items if not item.get_closest_marker("postgresql_only")]
        return
    skipped = [item for item in items if _same_on_every_run(item)]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if not _same_on_every_run(item)]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``sqlite_only`` may not take the run's database, in its own fixtures
    or in its module's (made in its setup): it would not run on the PostgreSQL pass."""
    if item.get_closest_marker("sqlite_only"):
        refuse_the_run_database(f"{item.nodeid} is marked sqlite_only: no run database")


def pytest_runtest_teardown(item: pytest.Item) -> None:
    refuse_the_run_database(None)


@pytest.fixture(autouse=True)
def _no_database_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test marked ``no_database`` fails if it opens a database or starts a server."""
    if request.node.get_closest_marker("no_database") is None:
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a test marked no_database opened a database")

    import sqlalchemy

    from mailslot.db import base

    here = sys.modules[__name__]
    monkeypatch.setattr(base, "create_engine", refuse)
    monkeypatch.setattr(sqlalchemy, "create_engine", refuse)
    monkeypatch.setattr(here, "migrated_database", refuse)
    monkeypatch.setattr(here, "empty_database", refuse)
    monkeypatch.setattr(here, "install_sqlite_template", refuse)


ARTIFACTS = Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve()


# Each test process (xdist worker) takes its ports from its own range, below the kernel's
# ephemeral ports: two processes never pick the same port, and a port the kernel hands out
# for a connection is never one a test server is about to bind.
_PORT_RANGE = 2000
_PORT_BASE = 10000 + _PORT_RANGE * int(
    os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0
)
_next_port = [0]


def free_port() -> int:
    """A loopback port that nothing listens on, from this process's range."""
    for _ in range(_PORT_RANGE):
        port = _PORT_BASE + _next_port[0] % _PORT_RANGE
        _next_port[0] += 1
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in this test process's range")


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
    operator_url: str = ""

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


def start_server(
    base: Path, extra_env: dict[str, str] | None = None, *, template: bool = True
) -> LiveServer:
    """``mailslot serve`` on two free loopback ports. Its database is a migrated copy of the
    test template (``template=False``: an empty one, so the server's first start creates
    the schema); a server given ``MAILSLOT_DATABASE_URL`` (a second process of one
    instance, say) uses that database instead."""
    data_dir = base / "data"
    source_port, staff_port, operator_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "MAILSLOT_DATA_DIR": str(data_dir),
        "MAILSLOT_SOURCE_ADDR": f"127.0.0.1:{source_port}",
        "MAILSLOT_STAFF_ADDR": f"127.0.0.1:{staff_port}",
        "MAILSLOT_OPERATOR_ADDR": f"127.0.0.1:{operator_port}",
        "MAILSLOT_KDF": TEST_KDF_TEXT,
        "TMPDIR": str(base / "tmp"),
        # Commands report domain errors in the operator's language: tests read English.
        "LANGUAGE": "",
        "LC_ALL": "C.UTF-8",
        **(extra_env or {}),
    }
    database: str | None = None
    if "MAILSLOT_DATABASE_URL" not in env:
        database = migrated_database(data_dir) if template else empty_database()
    elif not env["MAILSLOT_DATABASE_URL"] and template:
        install_sqlite_template(data_dir)  # told to use SQLite on a PostgreSQL run
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
        wait_for_port(operator_port, proc)
    except RuntimeError:
        proc.kill()
        proc.wait()  # reaped, or its ResourceWarning fails whichever test runs next
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
        operator_url=f"http://127.0.0.1:{operator_port}",
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
    database = migrated_database(tmp_path / "data")
    overrides = {"database_url": database} if database else {}
    yield load_config({}, data_dir=tmp_path / "data", kdf=TEST_KDF, **overrides)
    drop_database(database)


@pytest.fixture
def runtime(config: Config) -> Iterator[Runtime]:
    rt = open_runtime(config)
    yield rt
    rt.close()
