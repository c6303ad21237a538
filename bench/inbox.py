"""The staff inbox at 100,000 cases: p95 and median latency of the inbox page (default, each
filter, each sort, a later page), the API's case list and a case page, through HTTP against a
real ``mailslot serve``, on SQLite or PostgreSQL.

    .venv/bin/python bench/inbox.py [--cases 100000] [--database sqlite|postgresql]
                                    [--requests 40] [--reuse] [--workdir DIR]

The data is made with ``mailslot demo-data`` (fully encrypted cases) over three channels:
``bench-all`` holds the keys to every case (the worst case for the inbox), ``bench-third``
to the cases of one channel (about a third). ``--reuse`` keeps the work directory (and the
PostgreSQL database) between runs, so the slow build happens once. A PostgreSQL database
copied with ``--copy-from`` has no statistics yet: it is measured first as it is, then after
``VACUUM ANALYZE``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from _common import (
    CSRF_RE,
    Totp,
    clean_up_on_sigterm,
    machine,
    markdown_table,
    serving,
    summary_ms,
    verdict,
    write_results,
)
from sqlalchemy import create_engine, insert, select, text

from mailslot.db.models import Base

TARGET_P95_MS = 100.0
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
USERS = ("bench-all", "bench-third")
CHANNELS = {"bench-a": USERS, "bench-b": USERS[:1], "bench-c": USERS[:1]}


@dataclass
class Account:
    username: str
    password: str
    totp_secret: str


def database_url(database: str, name: str) -> str | None:
    if database == "sqlite":
        return None  # the default: a file in the data directory
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def fresh_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


class Instance:
    """A work directory with a data directory and (for PostgreSQL) a database name."""

    def __init__(self, workdir: Path, database: str) -> None:
        self.workdir = workdir
        self.database = database
        self.db_name = "mailslot_bench_inbox"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSLOT_")}
        self.env["MAILSLOT_DATA_DIR"] = str(workdir / "data")
        self.env["MAILSLOT_LOG_LEVEL"] = "warning"
        self.env["MAILSLOT_NEW_SOURCE_RATE"] = "0"
        self.env["MAILSLOT_SUBMISSION_RATE"] = "0"
        url = database_url(database, self.db_name)
        if url is not None:
            self.env["MAILSLOT_DATABASE_URL"] = url

    @property
    def accounts_file(self) -> Path:
        return self.workdir / "accounts.json"

    def cli(self, *args: str, timeout: float = 120) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "mailslot.cli.main", *args],
            env=self.env,
            check=True,
            stdout=subprocess.PIPE,
            timeout=timeout,
        )
        return out.stdout.decode()

    def build(self, cases: int) -> dict[str, Any]:
        if self.database == "postgresql":
            fresh_pg_database(self.db_name)
        self.cli("channels", "add", "--name", "bench-a", "--json")
        accounts = []
        for username in USERS:
            password = "bench password " + secrets.token_hex(8)
            pw_file = self.workdir / "pw"
            pw_file.write_text(password + "\n")
            try:
                data = json.loads(
                    self.cli(
                        "users",
                        "add",
                        "--username",
                        username,
                        "--role",
                        "recipient",
                        "--password-file",
                        str(pw_file),
                        "--channel",
                        "bench-a",
                        "--json",
                    )
                )
            finally:
                pw_file.unlink()
            accounts.append(Account(username, password, str(data["totp_secret"])))
        for channel, members in CHANNELS.items():
            if channel != "bench-a":
                members_args = [arg for m in members for arg in ("--recipient", m)]
                self.cli("channels", "add", "--name", channel, *members_args, "--json")
        self.keep_cases()
        # Saved first: without it, a half-built instance is one nobody can log in to.
        self.accounts_file.write_text(json.dumps([asdict(a) for a in accounts]))
        started = time.monotonic()
        summary = json.loads(
            self.cli("demo-data", "--cases", str(cases), "--seed", "6", timeout=6 * 3600)
        )
        summary["build_seconds"] = round(time.monotonic() - started, 1)
        (self.workdir / "built.json").write_text(json.dumps({"cases": cases, **summary}))
        return dict(summary)

    def copy_from(self, sqlite_workdir: Path) -> dict[str, Any]:
        """A PostgreSQL instance with the rows of a built SQLite one, table by table, and
        its blob store (linked, not copied): the same cases without building them twice.
        Not analysed: the planner has no statistics for the copied rows until
        :meth:`analyze` (as after any bulk load on a server without autovacuum)."""
        fresh_pg_database(self.db_name)
        (self.workdir / "data").mkdir(mode=0o700)
        (self.workdir / "data" / "blobs").symlink_to(sqlite_workdir / "data" / "blobs")
        self.cli("db", "upgrade")
        source = create_engine(f"sqlite:///{sqlite_workdir / 'data' / 'mailslot.sqlite3'}")
        target = create_engine(str(self.env["MAILSLOT_DATABASE_URL"]))
        started = time.monotonic()
        with source.connect() as reader, target.begin() as writer:
            for table in reversed(Base.metadata.sorted_tables):
                writer.execute(table.delete())
            for table in Base.metadata.sorted_tables:
                rows = reader.execute(select(table)).mappings()
                while chunk := [dict(row) for row in rows.fetchmany(5000)]:
                    writer.execute(insert(table), chunk)
        target.dispose()
        shutil.copy(sqlite_workdir / "accounts.json", self.accounts_file)
        built = json.loads((sqlite_workdir / "built.json").read_text())
        built["copied_from_sqlite_seconds"] = round(time.monotonic() - started, 1)
        built["analyzed"] = False
        (self.workdir / "built.json").write_text(json.dumps(built))
        return dict(built)

    def analyze(self) -> float:
        """``VACUUM ANALYZE`` the PostgreSQL database (what autovacuum would do in time);
        returns the seconds it took, and records it in ``built.json``."""
        engine = create_engine(str(self.env["MAILSLOT_DATABASE_URL"]))
        started = time.monotonic()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        seconds = round(time.monotonic() - started, 1)
        built_file = self.workdir / "built.json"
        built = json.loads(built_file.read_text())
        built["analyzed"] = True
        built_file.write_text(json.dumps(built))
        return seconds

    def analyzed(self) -> bool:
        """Whether the planner has statistics (always, on SQLite: it plans without them)."""
        built = json.loads((self.workdir / "built.json").read_text())
        return self.database != "postgresql" or bool(built.get("analyzed", True))

    def keep_cases(self) -> None:
        """Demo cases span 18 months; the default retention (90 days after the last activity)
        would have the server's purge job delete most of them while the benchmark runs."""
        url = self.env.get("MAILSLOT_DATABASE_URL") or (
            f"sqlite:///{self.workdir / 'data' / 'mailslot.sqlite3'}"
        )
        engine = create_engine(url)
        channels = Base.metadata.tables["channels"]
        with engine.begin() as conn:
            conn.execute(channels.update().values(retention_days=3650, closed_retention_days=3650))
        engine.dispose()

    def accounts(self) -> list[Account]:
        return [Account(**a) for a in json.loads(self.accounts_file.read_text())]

    @contextmanager
    def serve(self) -> Iterator[str]:
        self.keep_cases()
        with serving(self.env, self.workdir / "server.log") as (_, _, (_, staff_url)):
            yield staff_url


def login(client: httpx.Client, account: Account, totp: Totp) -> None:
    """A browser-like login: the form's CSRF token, then password and code."""
    form = client.get("/login")
    match = CSRF_RE.search(form.text)
    fields = {
        "username": account.username,
        "password": account.password,
        "totp": totp.code(account.totp_secret),
    }
    if match:
        fields["csrf"] = match.group(1)
    response = client.post("/login", data=fields, headers={"Origin": str(client.base_url)})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"login failed: {response.status_code} {response.text[:300]}")


def api_token(client: httpx.Client, account: Account, totp: Totp) -> str:
    response = client.post(
        "/api/v1/auth/token",
        json={
            "username": account.username,
            "password": account.password,
            "totp": totp.code(account.totp_secret),
        },
    )
    response.raise_for_status()
    return str(response.json()["token"])


CASE_LINK = re.compile(r'href="/cases/([0-9a-f]{32})"')
OPTION = re.compile(r'<option value="([^"]+)"[^>]*>([^<]*)</option>')


def choices(html: str, select_name: str) -> list[str]:
    start = html.find(f'name="{select_name}"')
    end = html.find("</select>", start)
    return [value for value, _ in OPTION.findall(html[start:end]) if value]


def kinds(first_page: str) -> dict[str, str]:
    """The inbox URLs to measure, with real ids taken from the page's own filter form."""
    label = choices(first_page, "label")[0]
    channel = choices(first_page, "channel")[0]
    assignee = next(v for v in choices(first_page, "assignee") if len(v) == 32)
    custom = next(v for v in choices(first_page, "status") if v.startswith("custom:"))
    return {
        "inbox (default)": "/",
        "page 40": "/?page=40",
        "status=new": "/?status=new",
        "status=closed": "/?status=closed",
        "custom status": f"/?status={custom}",
        "label": f"/?label={label}",
        "assignee=me": "/?assignee=me",
        "assignee=user": f"/?assignee={assignee}",
        "unassigned": "/?assignee=none",
        "channel": f"/?channel={channel}",
        "overdue": "/?overdue=1",
        "important": "/?important=1",
        "unread": "/?unread=1",
        "created range": "/?created_from=2026-01-01&created_to=2026-03-31",
        "activity range": "/?activity_from=2026-06-01&activity_to=2026-06-30",
        "search": "/?q=ab",
        "sort=created": "/?sort=created",
        "sort=created asc": "/?sort=created&order=asc",
        "sort=deadline": "/?sort=deadline",
        "combined": f"/?status=in_progress&label={label}&sort=deadline",
    }


def measure(
    client: httpx.Client, url: str, n: int, headers: dict[str, str] | None = None
) -> dict[str, float]:
    """``n`` timed requests after one to warm up; any answer but 200 is counted and told."""
    client.get(url, headers=headers)
    durations = []
    failures = 0
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        durations.append(time.perf_counter() - started)
        if response.status_code != 200:
            failures += 1
            print(f"{url}: {response.status_code} {response.text[:200]}", file=sys.stderr)
    return summary_ms(durations) | {"failures": failures}


def run(instance: Instance, requests: int) -> dict[str, Any]:
    totp = Totp()
    results: dict[str, Any] = {}
    with instance.serve() as base:
        for account in instance.accounts():
            with httpx.Client(base_url=base, timeout=60) as client:
                login(client, account, totp)
                first = client.get("/")
                first.raise_for_status()
                case_id = CASE_LINK.findall(first.text)[0]
                rows: dict[str, dict[str, float]] = {}
                for name, url in kinds(first.text).items():
                    rows[name] = measure(client, url, requests)
                rows["case page"] = measure(client, f"/cases/{case_id}", requests)
                token = api_token(client, account, totp)
                bearer = {"Authorization": f"Bearer {token}"}
                rows["API /cases"] = measure(client, "/api/v1/cases", requests, bearer)
                rows["API /cases?overdue&sort=deadline"] = measure(
                    client, "/api/v1/cases?overdue=true&sort=deadline", requests, bearer
                )
                rows["API /cases/{id}"] = measure(
                    client, f"/api/v1/cases/{case_id}", requests, bearer
                )
                results[account.username] = rows
    return results


def main() -> None:
    clean_up_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="Keep and reuse the work directory.")
    parser.add_argument("--workdir", type=Path, help="Work directory (default: a temporary one).")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--copy-from",
        type=Path,
        help="With --database postgresql: copy the rows of this built SQLite work directory "
        "instead of running demo-data again.",
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.gettempdir()) / f"mailslot-bench-inbox-{args.database}"
    built_file = workdir / "built.json"
    if args.reuse and built_file.exists():
        built = json.loads(built_file.read_text())
        if built["cases"] != args.cases:
            sys.exit(f"{workdir} holds {built['cases']} cases: remove it, or pass that --cases")
        print(f"bench/inbox: reusing {workdir} ({built['cases']} cases)", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        print(f"bench/inbox: building {args.cases} cases in {workdir}", file=sys.stderr)
        if args.copy_from is not None and args.database == "postgresql":
            built = Instance(workdir, args.database).copy_from(args.copy_from.resolve())
        else:
            built = Instance(workdir, args.database).build(args.cases)
    instance = Instance(workdir, args.database)
    without_statistics: dict[str, Any] | None = None
    analyze_seconds: float | None = None
    try:
        if args.build_only:
            return
        if not instance.analyzed():
            # First as a server without autovacuum leaves a bulk load, then as it should be.
            print("bench/inbox: measuring before ANALYZE", file=sys.stderr)
            without_statistics = run(instance, args.requests)
            analyze_seconds = instance.analyze()
        results = run(instance, args.requests)
    finally:
        if not args.reuse:
            shutil.rmtree(workdir, ignore_errors=True)
    table_rows = []
    worst = 0.0
    for user, rows in results.items():
        for name, stats in rows.items():
            worst = max(worst, stats["p95_ms"])
            failed = stats["failures"] > 0
            before = []
            if without_statistics is not None:
                was = without_statistics[user][name]
                worst = max(worst, was["p95_ms"])
                failed = failed or was["failures"] > 0
                before = [f"{was['median_ms']:.1f}", f"{was['p95_ms']:.1f}"]
            table_rows.append(
                [
                    user,
                    name,
                    *before,
                    f"{stats['median_ms']:.1f}",
                    f"{stats['p95_ms']:.1f}",
                    verdict(stats["p95_ms"] < TARGET_P95_MS and not failed)
                    + (f" ({stats['failures']:.0f} errors)" if failed else ""),
                ]
            )
            if failed:
                worst = float("inf")
    data = {
        "machine": machine(workdir.parent),
        "database": args.database,
        "cases": args.cases,
        "requests_per_kind": args.requests,
        "build": built,
        "results": results,
        "results_without_statistics": without_statistics,
        "analyze_seconds": analyze_seconds,
        "worst_p95_ms": worst,
    }
    write_results(f"inbox-{args.database}", data)
    print(f"Inbox at {args.cases} cases, {args.database}, {args.requests} requests per row:\n")
    header = ["user", "request", "median ms", "p95 ms", "p95 < 100 ms"]
    if without_statistics is not None:
        header[2:2] = ["median ms, no statistics", "p95 ms, no statistics"]
    print(markdown_table(header, table_rows))
    print(json.dumps(data["machine"]))
    sys.exit(0 if worst < TARGET_P95_MS else 1)


if __name__ == "__main__":
    main()
