"""Driving one organisation of a multi-organisation ``mailslot serve`` (docs/hosting.md).

Every organisation of a test server listens on the same loopback ports; which one answers
is decided by the ``Host`` header alone, as behind a real reverse proxy or onion service.
The clients made here send their organisation's host (and a matching ``Origin``, as a
browser on that site would), and the CLI is run with ``--org`` through ``MAILSLOT_ORG``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from mailslot.context import OrgContext
from mailslot.db.models import Base
from mailslot.runtime import Runtime, open_runtime
from tests.conftest import Account, LiveServer

# Tables whose rows change on any request (sessions, rate limits), as in test_authz.py.
VOLATILE_TABLES = frozenset({"sessions", "rate_buckets", "login_throttles", "alembic_version"})


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 15) -> bool:
    """The servers reload the registry every second: wait for a change to reach them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@dataclass
class Org:
    """One organisation of a live server, reached through its own host names."""

    server: LiveServer
    slug: str
    source_host: str
    staff_host: str
    name: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {**self.server.env, "MAILSLOT_ORG": self.slug}

    def headers(self, host: str) -> dict[str, str]:
        return {"Host": host, "Origin": f"http://{host}"}

    def source(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.source_url, headers=self.headers(self.source_host), timeout=60
        )

    def staff(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.staff_url, headers=self.headers(self.staff_host), timeout=60
        )

    def api(self, token: str | None = None) -> httpx.Client:
        headers = self.headers(self.staff_host)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=f"{self.server.staff_url}/api/v1", headers=headers, timeout=60)

    def served(self) -> bool:
        """Its hosts answer, and with its own pages (its instance is named ``name``): right
        after ``orgs add`` the default organisation may still answer every host."""
        with self.staff() as staff, self.source() as source:
            if staff.get("/login").status_code != 200:
                return False
            home = source.get("/")
            return home.status_code == 200 and (not self.name or self.name in home.text)

    def add_user(
        self, role: str = "recipient", channels: tuple[str, ...] = ("default",)
    ) -> Account:
        username = self.server.unique(role[:3])
        password = "correct horse battery " + os.urandom(6).hex()
        pw_file = self.server.data_dir.parent / f"{username}.pw"
        pw_file.write_text(password + "\n")
        args = ["users", "add", "--username", username, "--role", role,
                "--password-file", str(pw_file), "--json"]  # fmt: skip
        for channel in channels if role == "recipient" else ():
            args += ["--channel", channel]
        done = cli(self.env, *args)
        pw_file.unlink()
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        return Account(username, password, data["totp_secret"], data["recovery_key"], data["id"])

    def add_channel(self, name: str, recipients: tuple[str, ...] = ()) -> str:
        args = ["channels", "add", "--name", name, "--json"]
        for recipient in recipients:
            args += ["--recipient", recipient]
        done = cli(self.env, *args)
        assert done.returncode == 0, done.stderr
        return str(json.loads(done.stdout)["id"])

    def login(self, account: Account) -> httpx.Client:
        client = self.staff()
        response = client.post(
            "/login",
            data={
                "username": account.username,
                "password": account.password,
                "totp": self.server.totp.code(account.totp_secret),
            },
        )
        assert response.status_code == 303, response.text
        return client

    def token(self, account: Account) -> str:
        with self.api() as api:
            response = api.post(
                "/auth/token",
                json={
                    "username": account.username,
                    "password": account.password,
                    "totp": self.server.totp.code(account.totp_secret),
                },
            )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def context(self, runtime: Runtime) -> OrgContext:
        return runtime.context(self.slug)

    def blob_root(self, runtime: Runtime) -> Path:
        root = getattr(self.context(runtime).blobs, "root", None)
        assert isinstance(root, Path)
        return root

    def snapshot(self, runtime: Runtime) -> dict[str, Any]:
        """Every row of every non-volatile table of this organisation, and its blob files."""
        ctx = self.context(runtime)
        state: dict[str, Any] = {}
        with ctx.engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                if table.name not in VOLATILE_TABLES:
                    rows = connection.execute(select(table)).all()
                    state[table.name] = sorted(map(repr, rows))
        root = self.blob_root(runtime)
        state["blob files"] = sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()
        )
        return state


def add_org(server: LiveServer, slug: str, name: str) -> tuple[Org, dict[str, Any]]:
    """``mailslot orgs add`` with a source and a staff host of its own; waits until served."""
    org = Org(server, slug, f"tips.{slug}.test", f"staff.{slug}.test", name)
    hosts = ("--source-host", org.source_host, "--staff-host", org.staff_host)
    done = cli(server.env, "orgs", "add", "--slug", slug, "--name", name, *hosts, "--json")
    assert done.returncode == 0, done.stderr
    assert wait_for(org.served), f"{slug} is not served"
    return org, dict(json.loads(done.stdout))


def claim_default(server: LiveServer) -> Org:
    """Give the default organisation host names of its own (needed once there are several)."""
    org = Org(server, "default", "tips.default.test", "staff.default.test")
    done = cli(server.env, "orgs", "hosts", "default", "--source-host", org.source_host,
               "--staff-host", org.staff_host)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return org


def runtime_of(server: LiveServer) -> Runtime:
    """A runtime in the test process on the server's install (no migration)."""
    return open_runtime(server.config(), migrate=False)
