"""Text submissions per second by a logged-in source, and the server's idle memory.

.venv/bin/python bench/submit.py [--submissions 500] [--rounds 3] [--chars 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    browser_client,
    clean_up_on_sigterm,
    idle_rss_kib,
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

TARGET_MEDIAN_MS = 10.0
TARGET_PER_S = 200.0
TARGET_IDLE_MIB = 80.0
# A message of ordinary length, the same every time (the sealed size is padded anyway).
SMALL_BLOB = 1024 + 64  # a sealed short message: the 1 KiB padding floor plus framing
WORDS = "the minister signed the order on tuesday and the troops left on friday "


def durable_write_floor(directory: Path, runs: int) -> dict[str, float]:
    """What the blob store does per text item, alone: write a small file, fsync it, rename
    it into place, fsync the directory. The latency floor of a durable submission."""
    work = directory / f"fsync-test-{os.getpid()}"
    work.mkdir()
    data = os.urandom(SMALL_BLOB)
    times = []
    try:
        for i in range(runs):
            partial, final = work / f"{i}.partial", work / f"{i}"
            start = time.perf_counter()
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(partial, final)
            dir_fd = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            times.append(time.perf_counter() - start)
    finally:
        for child in work.iterdir():
            child.unlink()
        work.rmdir()
    return summary_ms(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=500, help="per round")
    parser.add_argument("--rounds", type=int, default=3, help="the best round is reported")
    parser.add_argument("--chars", type=int, default=1000, help="message length")
    parser.add_argument(
        "--rate-limits", action="store_true", help="keep the server's default rate limits"
    )
    parser.add_argument("--data-parent", type=Path, default=None)
    args = parser.parse_args(argv)
    clean_up_on_sigterm()
    parent = Path(args.data_parent or tempfile.gettempdir()).resolve()
    info = machine(parent)
    print(f"# Text submissions ({info['date']}, {info['nproc']} CPUs, {info['cpu']})")
    message = (WORDS * (args.chars // len(WORDS) + 1))[: args.chars]

    floor = durable_write_floor(parent, 200)
    print(f"durable small write (write, fsync, rename, fsync dir): {floor['median_ms']:.2f} ms")
    rounds: list[dict[str, Any]] = []
    with running_server(parent, rate_limits=args.rate_limits) as server:
        idle_start = idle_rss_kib(server.pid, settle=2.0)
        server.add_recipient()
        with browser_client(server.source_url, 120) as client:
            # Log in as a source that exists: /new, then a first submission creates the row.
            new_source(client)
            post_submission(client, submit_csrf(client), "First message.")
            # The form's token belongs to the session; a browser fetches the form once and
            # posts it, so the timed part is the POST (and its redirect is not followed).
            csrf = submit_csrf(client)
            for _ in range(20):  # warm-up
                post_submission(client, csrf, message)
            for number in range(args.rounds):
                latencies = []
                start = time.perf_counter()
                for _ in range(args.submissions):
                    t0 = time.perf_counter()
                    post_submission(client, csrf, message)
                    latencies.append(time.perf_counter() - t0)
                wall = time.perf_counter() - start
                rounds.append({**summary_ms(latencies), "per_s": args.submissions / wall})
                print(
                    f"round {number + 1}: {rounds[-1]['per_s']:.0f}/s, median "
                    f"{rounds[-1]['median_ms']:.1f} ms, p95 {rounds[-1]['p95_ms']:.1f} ms",
                    flush=True,
                )
        idle_end = idle_rss_kib(server.pid, settle=2.0)

    best = max(rounds, key=lambda r: r["per_s"])
    idle_start_mib, idle_end_mib = idle_start / 1024, idle_end / 1024
    data = {
        "machine": info,
        "rate_limits": args.rate_limits,
        "message_chars": args.chars,
        "submissions_per_round": args.submissions,
        "rounds": rounds,
        "durable_write_floor": floor,
        "best": best,
        "median_of_rounds_per_s": statistics.median(r["per_s"] for r in rounds),
        "idle_rss_mib": {"after_start": idle_start_mib, "after_run": idle_end_mib},
        "targets": {
            "median_ms": TARGET_MEDIAN_MS,
            "per_s": TARGET_PER_S,
            "idle_mib": TARGET_IDLE_MIB,
        },
        "latency_pass": best["median_ms"] <= TARGET_MEDIAN_MS,
        "rate_pass": best["per_s"] >= TARGET_PER_S,
        "idle_pass": max(idle_start_mib, idle_end_mib) <= TARGET_IDLE_MIB,
    }
    print()
    print(
        markdown_table(
            ["Measure", "Value", "Target", ""],
            [
                [
                    "text submission, median (p95)",
                    f"{best['median_ms']:.1f} ms ({best['p95_ms']:.1f} ms)",
                    f"≤ {TARGET_MEDIAN_MS:.0f} ms",
                    verdict(data["latency_pass"]),
                ],
                [
                    "sequential submissions",
                    f"{best['per_s']:.0f}/s",
                    f"≥ {TARGET_PER_S:.0f}/s",
                    verdict(data["rate_pass"]),
                ],
                [
                    "idle RSS after start-up",
                    f"{idle_start_mib:.1f} MiB",
                    f"≤ {TARGET_IDLE_MIB:.0f} MiB",
                    verdict(idle_start_mib <= TARGET_IDLE_MIB),
                ],
                [
                    f"idle RSS after {len(rounds) * args.submissions + 21} submissions",
                    f"{idle_end_mib:.1f} MiB",
                    f"≤ {TARGET_IDLE_MIB:.0f} MiB",
                    verdict(idle_end_mib <= TARGET_IDLE_MIB),
                ],
            ],
        )
    )
    print(f"\nwrote {write_results('submit', data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
