"""Codename login latency and new-source creation throughput with the default Argon2id cost,
against raw Argon2id (pyca) at the same cost measured in the same run.

    .venv/bin/python bench/login.py [--logins 30] [--new-sources 24] [--concurrency 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import (
    Server,
    browser_client,
    clean_up_on_sigterm,
    machine,
    markdown_table,
    new_source,
    post_submission,
    running_server,
    submit_csrf,
    summary_ms,
    verdict,
    write_results,
)

# The physical limit is the primitive itself, measured without Mailslot around it.
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # noqa: TID251 - benchmark of the raw primitive

from mailslot.crypto import DEFAULT_KDF

TARGET_NEW_SOURCE_S = 0.5


def raw_argon2id() -> None:
    Argon2id(
        salt=os.urandom(16),
        length=32,
        iterations=DEFAULT_KDF.iterations,
        lanes=DEFAULT_KDF.lanes,
        memory_cost=DEFAULT_KDF.memory_kib,
    ).derive(b"seven words of a diceware codename go here")


def in_threads(
    work: Callable[[], float], threads: int, per_thread: int
) -> tuple[float, list[float]]:
    """Run ``work`` ``per_thread`` times in each of ``threads`` threads at once; return the
    wall time and every call's own duration (``work`` returns it)."""
    durations: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def worker() -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                took = work()
                with lock:
                    durations.append(took)
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return wall, durations


def timed(call: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    return run


def post_new(server: Server) -> None:
    with browser_client(server.source_url, 120) as client:
        new_source(client)


def new_source_and_submit(server: Server) -> None:
    with browser_client(server.source_url, 120) as client:
        new_source(client)
        post_submission(client, submit_csrf(client), "A first message.")


def codename_login(server: Server, codename: str) -> Callable[[], float]:
    def run() -> float:
        with browser_client(server.source_url, 120) as client:
            start = time.perf_counter()
            response = client.post("/login", data={"codename": codename})
            took = time.perf_counter() - start
        if response.status_code != 303 or not response.headers["location"].endswith(
            "/conversation"
        ):
            raise RuntimeError(f"/login: {response.status_code} {response.text[:300]}")
        return took

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=30)
    parser.add_argument("--new-sources", type=int, default=24, help="per concurrency level")
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument(
        "--rate-limits", action="store_true", help="keep the server's default rate limits"
    )
    parser.add_argument("--data-parent", type=Path, default=None)
    args = parser.parse_args(argv)
    clean_up_on_sigterm()
    levels = [int(c) for c in args.concurrency.split(",")]
    parent = Path(args.data_parent or tempfile.gettempdir()).resolve()
    info = machine(parent)
    print(f"# Login ({info['date']}, {info['nproc']} CPUs, Argon2id {DEFAULT_KDF.encode()})")

    # The machine is shared: each server measurement is paired with a raw one taken right
    # next to it, so that both see the same background load.
    raw: dict[str, Any] = {"per_s": {}}
    new: dict[str, Any] = {}
    raw_argon2id()  # warm-up
    with running_server(parent, rate_limits=args.rate_limits) as server:
        server.add_recipient()
        # A source that exists (the row is made by the first submission).
        with browser_client(server.source_url, 120) as client:
            codename = new_source(client)
            post_submission(client, submit_csrf(client), "Hello.")
        login_once = codename_login(server, codename)
        raw_runs, login_runs = [], []
        for _ in range(args.logins):
            raw_runs.append(timed(raw_argon2id)())
            login_runs.append(login_once())
        raw["single"] = summary_ms(raw_runs)
        login = summary_ms(login_runs)
        overhead = statistics.median(a - b for a, b in zip(login_runs, raw_runs, strict=True))
        print(
            f"codename login: median {login['median_ms']:.0f} ms, p95 {login['p95_ms']:.0f} ms;"
            f" raw Argon2id median {raw['single']['median_ms']:.0f} ms",
            flush=True,
        )
        for c in levels:
            per = max(1, args.new_sources // c)
            raw_wall, _ = in_threads(timed(raw_argon2id), c, per)
            raw["per_s"][str(c)] = c * per / raw_wall
            wall, durations = in_threads(timed(lambda: post_new(server)), c, per)
            new[str(c)] = {
                **summary_ms(durations),
                "per_s": c * per / wall,
                "ratio_to_raw": (c * per / wall) / raw["per_s"][str(c)],
            }
            print(
                f"new source, {c} client(s): {new[str(c)]['per_s']:.2f}/s, median "
                f"{new[str(c)]['median_ms']:.0f} ms, p95 {new[str(c)]['p95_ms']:.0f} ms",
                flush=True,
            )
        first = summary_ms([timed(lambda: new_source_and_submit(server))() for _ in range(10)])
        print(f"new source + first submission: median {first['median_ms']:.0f} ms", flush=True)

    seq = new.get("1") or new[str(levels[0])]
    data = {
        "machine": info,
        "rate_limits": args.rate_limits,
        "kdf": {
            "encoded": DEFAULT_KDF.encode(),
            "memory_kib": DEFAULT_KDF.memory_kib,
            "iterations": DEFAULT_KDF.iterations,
            "lanes": DEFAULT_KDF.lanes,
            "concurrency_cap_default": 4,
        },
        "raw_argon2id": raw,
        "codename_login": {
            **login,
            "overhead_over_raw_ms": overhead * 1000,
        },
        "new_source": new,
        "new_source_with_first_submission": first,
        "targets": {"new_source_s": TARGET_NEW_SOURCE_S},
        "new_source_pass": seq["median_ms"] / 1000 <= TARGET_NEW_SOURCE_S,
    }
    rows: list[list[object]] = [
        ["raw Argon2id, 1 thread", f"{raw['single']['median_ms']:.0f}", "", "", "", ""],
        [
            "codename login (POST /login)",
            f"{login['median_ms']:.0f}",
            f"{login['p95_ms']:.0f}",
            "",
            f"{overhead * 1000:+.0f} ms over raw Argon2id (median of pairs)",
            "",
        ],
    ]
    for clients, row in new.items():
        rows.append(
            [
                f"new source (POST /new), {clients} client(s)",
                f"{row['median_ms']:.0f}",
                f"{row['p95_ms']:.0f}",
                f"{row['per_s']:.2f}",
                f"{row['ratio_to_raw']:.0%} of raw Argon2id/s ({raw['per_s'][clients]:.2f})",
                verdict(row["median_ms"] / 1000 <= TARGET_NEW_SOURCE_S) if clients == "1" else "",
            ]
        )
    rows.append(
        [
            "new source + first text submission",
            f"{first['median_ms']:.0f}",
            f"{first['p95_ms']:.0f}",
            "",
            "",
            "",
        ]
    )
    print()
    print(
        markdown_table(
            ["Measure", "Median ms", "p95 ms", "Per second", "Against the limit", "Target"],
            rows,
        )
    )
    print(f"\nwrote {write_results('login', data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
