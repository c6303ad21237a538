"""A thousand organisations on one install: the server's idle memory against a
single-organisation install, how long resolving a request's organisation takes (in process
and end to end), a round of background jobs over all of them, and start-up with every
organisation's database to migrate.

    .venv/bin/python bench/orgs.py [--orgs 1000]
    .venv/bin/python bench/orgs.py --quick          # 20 organisations
    .venv/bin/python bench/orgs.py --postgresql postgresql+psycopg://postgres@127.0.0.1:5432/postgres

The organisations are made by ``mailslot demo-data --orgs N`` (SQLite, default settings; with
``--postgresql URL``, in the databases ``mailslot_bench_orgs_single`` and ``…_many`` made
afresh on that server and dropped after, or with ``--prepared`` the ``…_many`` made before
and kept; start-up with migrations is then not measured, since ``demo-data --revision`` is
SQLite only).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import (
    clean_up_on_sigterm,
    idle_rss_kib,
    machine,
    markdown_table,
    running_server,
    summary_ms,
    verdict,
    write_results,
)

from mailslot.config import load_config
from mailslot.jobs import run_round
from mailslot.runtime import REST_AFTER, open_runtime
from mailslot.tor import SOURCE
from mailslot.web.server import TRIM_INTERVAL

TARGET_MEMORY_MIB = 20.0
TARGET_RESOLVE_MS = 1.0
OLD_REVISION = "0010"  # the organisations' schema before start-up migrates them
REQUESTS = 400


def cli(data_dir: Path, *args: str, timeout: float = 3600, database: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSLOT_")}
    env["MAILSLOT_DATA_DIR"] = str(data_dir)
    env |= {"MAILSLOT_DATABASE_URL": database} if database else {}
    done = subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mailslot {' '.join(args)}: {done.stderr[-2000:]}")
    return done.stdout


def make_orgs(
    data_dir: Path, count: int, revision: str | None = None, database: str | None = None
) -> float:
    started = time.perf_counter()
    extra = ("--revision", revision) if revision else ()
    cli(data_dir, "demo-data", "--orgs", str(count), "--seed", "1", *extra, database=database)
    return time.perf_counter() - started


def fresh_database(server: str, name: str) -> str:
    """The URL of a new, empty database ``name`` on the server of ``server`` (any database
    there), dropped first if a run cut short left it."""
    import psycopg  # noqa: PLC0415 - only PostgreSQL runs need the driver

    drop_database(server, name)
    with psycopg.connect(_admin(server), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


def drop_database(server: str, name: str) -> None:
    import psycopg  # noqa: PLC0415 - only PostgreSQL runs need the driver

    with psycopg.connect(_admin(server), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def page_times(url: str, hosts: list[str], count: int) -> list[float]:
    """``count`` requests for the source landing page, each with a host from ``hosts``."""
    rng = random.Random(7)  # noqa: S311 - which host to ask, not a secret
    times = []
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            host = rng.choice(hosts)
            started = time.perf_counter()
            response = client.get(f"{url}/", headers={"Host": host})
            times.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"GET / for {host}: {response.status_code}")
    return times


def serve(
    data_dir: Path | None, hosts: list[str], parent: Path, database: str | None = None
) -> dict[str, Any]:
    """Start a server (on ``data_dir``, or a fresh install), time its start-up, let it settle,
    then read its idle memory before and after requests spread over ``hosts``."""
    settings = {"MAILSLOT_DATA_DIR": str(data_dir)} if data_dir else {}
    settings |= {"MAILSLOT_DATABASE_URL": database} if database else {}
    started = time.perf_counter()
    with running_server(parent, settings=settings, start_timeout=3600) as server:
        start_seconds = time.perf_counter() - started
        page_times(server.source_url, hosts[:1], 20)  # warm: templates, first connections
        idle = idle_rss_kib(server.pid, settle=3.0)
        times = page_times(server.source_url, hosts, REQUESTS)
        after = idle_rss_kib(server.pid, settle=2.0 + TRIM_INTERVAL)
        # The server closes the connections of organisations unused for REST_AFTER seconds.
        rested = idle_rss_kib(server.pid, settle=REST_AFTER + 3.0)
    return {
        "start_seconds": start_seconds,
        "idle_rss_mib": idle / 1024,
        "idle_after_requests_mib": after / 1024,
        "idle_after_quiet_minute_mib": rested / 1024,
        "page_ms": summary_ms(times),
    }


def in_process(data_dir: Path, hosts: list[str], database: str | None = None) -> dict[str, Any]:
    """Resolution timed directly (``Runtime.for_host``: cached, and with a context to build),
    and one round of background jobs over every organisation, in this process."""
    env = {"MAILSLOT_DATA_DIR": str(data_dir)}
    env |= {"MAILSLOT_DATABASE_URL": database} if database else {}
    runtime = open_runtime(load_config(env), migrate=False)
    try:
        rng = random.Random(3)  # noqa: S311 - which host to ask, not a secret
        cold = []
        for host in rng.sample(hosts, min(len(hosts), 200)):
            started = time.perf_counter()
            runtime.for_host(host, SOURCE)
            cold.append(time.perf_counter() - started)
        warm_hosts = hosts[:20]
        for host in warm_hosts:
            runtime.for_host(host, SOURCE)
        warm = []
        for _ in range(20_000):
            host = rng.choice(warm_hosts)
            started = time.perf_counter()
            runtime.for_host(host, SOURCE)
            warm.append(time.perf_counter() - started)
        unknown = []
        for n in range(2_000):
            started = time.perf_counter()
            runtime.for_host(f"nobody-{n}.example", SOURCE)
            unknown.append(time.perf_counter() - started)
        cached_before = set(runtime._open)
        started = time.perf_counter()
        run_round(runtime, None)
        round_seconds = time.perf_counter() - started
        kept = set(runtime._open) == cached_before
    finally:
        runtime.close()
    return {
        "resolve_cached_ms": summary_ms(warm),
        "resolve_uncached_ms": summary_ms(cold),
        "resolve_unknown_ms": summary_ms(unknown),
        "job_round_seconds": round_seconds,
        "job_round_kept_cache": kept,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="20 organisations")
    parser.add_argument("--data-parent", type=Path, default=None)
    parser.add_argument(
        "--migrating",
        type=int,
        default=None,
        help="organisations to migrate at start-up (default: --orgs); making them takes as "
        "long as making the others",
    )
    parser.add_argument(
        "--prepared",
        type=Path,
        default=None,
        help="a data directory where `mailslot demo-data --orgs N` already made the --orgs "
        "organisations (used, not changed beyond what a server does, not deleted)",
    )
    parser.add_argument(
        "--postgresql",
        metavar="URL",
        default=None,
        help="run on this PostgreSQL server (a URL of any database on it) instead of SQLite",
    )
    args = parser.parse_args(argv)
    clean_up_on_sigterm()
    # With --prepared, the organisations are in the database named second: kept as it is.
    names = ("mailslot_bench_orgs_single", "mailslot_bench_orgs_many")
    made = names[:1] if args.prepared else names
    single_db = many_db = None
    if args.postgresql:
        single_db, many_db = (args.postgresql.rsplit("/", 1)[0] + "/" + name for name in names)
        for name in made:
            fresh_database(args.postgresql, name)
    if args.quick:
        args.orgs = 20
    args.migrating = args.migrating or args.orgs
    parent = Path(args.data_parent or tempfile.gettempdir()).resolve()
    info = machine(parent)
    print(f"# {args.orgs} organisations ({info['date']}, {info['nproc']} CPUs, {info['cpu']})")
    work = Path(tempfile.mkdtemp(prefix="mailslot-orgs-", dir=parent))
    try:
        single = serve(None, ["localhost"], parent, single_db)
        print(f"single organisation: {single['idle_rss_mib']:.1f} MiB idle", flush=True)

        many_dir = args.prepared or work / "many"
        made_seconds = None if args.prepared else make_orgs(many_dir, args.orgs, None, many_db)
        print(f"{args.orgs} organisations made in {made_seconds or 0:.0f} s", flush=True)
        hosts = [f"demo-{n:04d}.source.demo.test" for n in range(1, args.orgs + 1)]
        many = serve(many_dir, hosts, parent, many_db)
        print(f"{args.orgs} organisations: {many}", flush=True)
        direct = in_process(many_dir, hosts, many_db)
        print(f"in process: {direct}", flush=True)
        if not args.prepared:
            shutil.rmtree(many_dir)

        old_seconds, migrating = 0.0, {"start_seconds": float("nan")}
        if not args.postgresql:  # demo-data --revision: SQLite only
            old_dir = work / "old"
            old_seconds = make_orgs(old_dir, args.migrating, OLD_REVISION)
            print(f"{args.migrating} organisations at {OLD_REVISION} made in {old_seconds:.0f} s")
            migrating = serve(old_dir, hosts[: args.migrating], parent)
            print(f"migrating: {migrating}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for name in made if args.postgresql else ():
            drop_database(args.postgresql, name)

    memory = many["idle_rss_mib"] - single["idle_rss_mib"]
    memory_after = many["idle_after_requests_mib"] - single["idle_after_requests_mib"]
    memory_rested = many["idle_after_quiet_minute_mib"] - single["idle_after_quiet_minute_mib"]
    resolve_p95 = direct["resolve_cached_ms"]["p95_ms"]
    end_to_end = many["page_ms"]["median_ms"] - single["page_ms"]["median_ms"]
    data = {
        "machine": info,
        "database": "postgresql" if args.postgresql else "sqlite",
        "organisations": args.orgs,
        "made_seconds": made_seconds,
        "single": single,
        "many": many,
        "in_process": direct,
        "migrating": {
            "organisations": args.migrating,
            "revision": OLD_REVISION,
            "made_seconds": old_seconds,
            **migrating,
        },
        "memory_above_single_mib": memory,
        "memory_above_single_after_requests_mib": memory_after,
        "page_median_above_single_ms": end_to_end,
        "targets": {"memory_mib": TARGET_MEMORY_MIB, "resolve_ms": TARGET_RESOLVE_MS},
        "memory_above_single_after_quiet_minute_mib": memory_rested,
        "memory_pass": memory <= TARGET_MEMORY_MIB and memory_rested <= TARGET_MEMORY_MIB,
        "resolve_pass": resolve_p95 <= TARGET_RESOLVE_MS
        and direct["resolve_uncached_ms"]["median_ms"] <= TARGET_RESOLVE_MS,
    }
    rows: list[list[object]] = [
        [
            "idle memory above one organisation (after start; just after requests to "
            "many; after a quiet minute)",
            f"{memory:+.1f} MiB; {memory_after:+.1f} MiB; {memory_rested:+.1f} MiB "
            f"({single['idle_rss_mib']:.0f} vs {many['idle_rss_mib']:.0f} MiB at start)",
            f"≤ {TARGET_MEMORY_MIB:.0f} MiB",
            verdict(data["memory_pass"]),
        ],
        [
            "Host → organisation, in process (p95 cached; median and p95 with a context to "
            "build; p95 unknown host)",
            f"{resolve_p95 * 1000:.1f} µs; "
            f"{direct['resolve_uncached_ms']['median_ms'] * 1000:.0f} µs and "
            f"{direct['resolve_uncached_ms']['p95_ms'] * 1000:.0f} µs; "
            f"{direct['resolve_unknown_ms']['p95_ms'] * 1000:.1f} µs",
            f"≤ {TARGET_RESOLVE_MS:g} ms",
            verdict(data["resolve_pass"]),
        ],
        [
            f"source page, median over {REQUESTS} requests (1 vs {args.orgs} organisations)",
            f"{single['page_ms']['median_ms']:.1f} vs {many['page_ms']['median_ms']:.1f} ms "
            f"(p95 {single['page_ms']['p95_ms']:.1f} vs {many['page_ms']['p95_ms']:.1f} ms)",
            "",
            "",
        ],
        [
            "one round of background jobs over every organisation",
            f"{direct['job_round_seconds']:.1f} s, open contexts "
            + ("kept" if direct["job_round_kept_cache"] else "CHANGED"),
            "",
            "",
        ],
        [
            f"start-up, {args.migrating} organisations at {OLD_REVISION} to migrate",
            ("not measured" if args.postgresql else f"{migrating['start_seconds']:.0f} s")
            + f" (no migration: {many['start_seconds']:.1f} s)",
            "",
            "",
        ],
        [
            f"demo-data --orgs {args.orgs}; at {OLD_REVISION}, --orgs {args.migrating}",
            f"{made_seconds or 0:.0f} s (0: made before); {old_seconds:.0f} s",
            "",
            "",
        ],
    ]
    print()
    print(markdown_table(["Measure", "Value", "Target", ""], rows))
    name = "orgs-postgresql" if args.postgresql else "orgs"
    print(f"\nwrote {write_results(name, data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
