"""Many slow uploads at once, as sources on Tor send them: the server's memory during and
after the load, how fast everyone else's pages answer meanwhile, and how soon stalled
connections are cut.

    .venv/bin/python bench/slow_uploads.py [--uploads 200] [--size 400KB] [--rate 50KB]
    .venv/bin/python bench/slow_uploads.py --quick
    .venv/bin/python bench/slow_uploads.py --s3     # blobs in a local S3 server (moto)

The server is started the way a user starts it, with ``./scripts/run`` (SQLite, default
settings apart from the rate limits, see ``docs/performance.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _common import (
    RUN_SCRIPT,
    FilePart,
    Multipart,
    RssSampler,
    Server,
    browser_client,
    clean_up_on_sigterm,
    idle_rss_kib,
    machine,
    markdown_table,
    new_source,
    percentile,
    post_submission,
    rss_kib,
    running_server,
    submit_csrf,
    summary_ms,
    verdict,
    write_results,
)
from throughput import s3_bucket

from mailslot.config import parse_size
from mailslot.web.server import TRIM_INTERVAL

TARGET_GROWTH_MIB = 64.0
TARGET_SETTLED_MIB = 10.0
TARGET_PAGE_P95_MS = 100.0
# The documented defaults (README, "Configuration"); a stalled connection must be cut within
# its timeout plus this much (the server checks its timers about once a second).
HEADER_TIMEOUT = 30.0
BODY_TIMEOUT = 60.0
CUT_SLACK = 5.0
MESSAGE = "Documents attached."
DIRECT = (sys.executable, "-m", "mailslot.cli.main", "serve")


@dataclass(frozen=True)
class Source:
    cookie: str
    csrf: str


def make_sources(server: Server, count: int) -> list[Source]:
    """``count`` new sources (POST /new, then the form's token), two at a time: each costs an
    Argon2id run, and the server runs one per core."""

    def one(_: int) -> Source:
        with browser_client(server.source_url, 120) as client:
            new_source(client)
            csrf = submit_csrf(client)
            cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        return Source(cookie, csrf)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, range(count)))


def request_head(server: Server, source: Source, body: Multipart) -> bytes:
    host = server.source_url.removeprefix("http://")
    lines = [
        "POST /submit HTTP/1.1",
        f"Host: {host}",
        f"Origin: {server.source_url}",
        f"Cookie: {source.cookie}",
        f"Content-Type: {body.content_type}",
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def pieces(body: Multipart, size: int) -> list[bytes]:
    """The body cut into ``size``-byte pieces (a few hundred KB per upload: kept whole)."""
    whole = b"".join(body)
    return [whole[i : i + size] for i in range(0, len(whole), size)]


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, str]:
    """The status and ``Location`` of an HTTP answer (0 if the connection closed first)."""
    status_line = await reader.readline()
    if not status_line:
        return 0, ""
    location = ""
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "location":
            location = value.strip()
    return int(status_line.split()[1]), location


async def slow_upload(
    port: int, head: bytes, body: list[bytes], rate: float, delay: float
) -> dict[str, Any]:
    """Send one submission at ``rate`` bytes/s in the given pieces, as a Tor circuit delivers
    it, and read the answer."""
    await asyncio.sleep(delay)
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        sent = 0
        for piece in body:
            writer.write(piece)
            await writer.drain()
            sent += len(piece)
            # Paced against the start, so that the average rate holds whatever the delays.
            wait = start + sent / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
        status, location = await asyncio.wait_for(read_answer(reader), 600)
    finally:
        writer.close()
        await writer.wait_closed()
    return {
        "seconds": time.perf_counter() - start,
        "ok": status == 303 and location.endswith("/submitted"),
        "status": status,
    }


async def stalled(port: int, data: bytes, limit: float) -> dict[str, Any]:
    """Send ``data`` and then nothing: how long until the server closes the connection (None
    if it is still open after ``limit`` seconds), and what it answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    try:
        writer.write(data)
        await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(), limit)
        except TimeoutError:
            return {"closed_after_s": None, "answer": ""}
        return {
            "closed_after_s": time.perf_counter() - start,
            "answer": answer.split(b"\r\n", 1)[0].decode("latin-1"),
        }
    finally:
        writer.close()
        await writer.wait_closed()


class PageSampler:
    """Everyone else, during the load: a visitor's first source page and a recipient's case
    list (the JSON API), one after the other, in a thread with its own connections."""

    def __init__(self, server: Server, token: str, interval: float) -> None:
        self.server = server
        self.token = token
        self.interval = interval
        self.times: dict[str, list[float]] = {"source /": [], "staff GET /api/v1/cases": []}
        self.errors = 0
        self.timeline: list[tuple[float, str, float]] = []  # (seconds from start, page, ms)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        source = httpx.Client(base_url=self.server.source_url, timeout=60)
        staff = httpx.Client(
            base_url=self.server.staff_url,
            timeout=60,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        start = time.perf_counter()
        with source, staff:
            while not self._stop.is_set():
                for label, client, path in (
                    ("source /", source, "/"),
                    ("staff GET /api/v1/cases", staff, "/api/v1/cases"),
                ):
                    t0 = time.perf_counter()
                    response = client.get(path)
                    elapsed = time.perf_counter() - t0
                    self.times[label].append(elapsed)
                    self.timeline.append((round(t0 - start, 3), label, round(elapsed * 1000, 1)))
                    self.errors += response.status_code != 200
                self._stop.wait(self.interval)

    def __enter__(self) -> PageSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def memory_kinds(pid: int) -> dict[str, float]:
    """The server's resident memory by kind, in MiB: anonymous (the heap: what an upload
    allocates) and file-backed (code and libraries, loaded once), from smaps_rollup."""
    kinds = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("Rss", "Anonymous"):
                kinds[name.lower()] = int(value.split()[0]) / 1024
    if kinds:
        kinds["file"] = kinds["rss"] - kinds["anonymous"]
    return kinds


def warm_up(server: Server, size: int, token: str) -> None:
    """One upload of ``size`` at full speed by one more source, and the pages the sampler
    asks for, so that what the load runs is loaded (code, templates, the API's schemas)
    before the idle size is read, as ``throughput.py`` warms up."""
    with browser_client(server.source_url, 120) as client:
        new_source(client)
        part = FilePart("warm-up.pdf", size, os.urandom(64 * 1024))
        post_submission(client, submit_csrf(client), MESSAGE, [part])
        client.get("/").raise_for_status()
    headers = {"Authorization": f"Bearer {token}"}
    httpx.get(f"{server.staff_url}/api/v1/cases", headers=headers, timeout=120).raise_for_status()


def run_load(server: Server, sources: list[Source], args: argparse.Namespace) -> dict[str, Any]:
    """The uploads, with the page and RSS samplers running until the last one is answered,
    then the RSS as the server settles, while the two stalled connections wait to be cut."""
    port = int(server.source_url.rsplit(":", 1)[1])
    block = os.urandom(64 * 1024)
    # Sizes spread from half to one and a half times --size (the same each run), so that the
    # uploads do not all end in the same second.
    spread = range(args.size // 2, args.size * 3 // 2)
    sizes = random.Random(1).sample(spread, len(sources))  # noqa: S311 - not a secret
    bodies = []
    for source, size in zip(sources, sizes, strict=True):
        form = [("csrf", source.csrf), ("message", MESSAGE)]
        body = Multipart(form, [FilePart("report.pdf", size, block)])
        bodies.append((request_head(server, source, body), pieces(body, args.piece)))
    stall_limit = max(HEADER_TIMEOUT, BODY_TIMEOUT) + 30

    async def everything() -> dict[str, Any]:
        head, body = bodies[0]
        stalls = [
            asyncio.ensure_future(stalled(port, head[: len(head) // 2], stall_limit)),
            asyncio.ensure_future(stalled(port, head + body[0], stall_limit)),
        ]
        if not args.stalls:
            for stall in stalls:
                stall.cancel()
        start = time.perf_counter()
        with (
            RssSampler(server.pid, interval=0.05) as rss,
            PageSampler(server, args.token, 0.1) as pages,
        ):
            # Starts spread over a second, as independent sources would.
            uploads = await asyncio.gather(
                *(
                    slow_upload(port, head, body, args.rate, index / len(bodies))
                    for index, (head, body) in enumerate(bodies)
                )
            )
        seconds = time.perf_counter() - start
        after_1s = await asyncio.to_thread(idle_rss_kib, server.pid, 1.0)
        after_settle = await asyncio.to_thread(idle_rss_kib, server.pid, args.settle - 1.3)
        return {
            "seconds": seconds,
            "peak_rss_kib": rss.peak_kib,
            "after_1s_kib": after_1s,
            "after_settle_kib": after_settle,
            "uploads": list(uploads),
            "pages": {label: summary_ms(t) for label, t in pages.times.items() if t},
            "all_page_ms": [t * 1000 for times in pages.times.values() for t in times],
            "page_errors": pages.errors,
            "stalls": list(await asyncio.gather(*stalls)) if args.stalls else [],
            "timeline": pages.timeline,
        }

    return asyncio.run(everything())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200, help="at once")
    parser.add_argument("--size", default="400KB", help="file size per upload (default 400KB)")
    parser.add_argument("--rate", default="50KB", help="bytes per second per upload")
    parser.add_argument("--piece", type=int, default=4096, help="bytes per network write")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of quiet after")
    parser.add_argument("--quick", action="store_true", help="20 uploads of 100KB")
    parser.add_argument(
        "--no-stalls",
        dest="stalls",
        action="store_false",
        help="skip the two stalled connections (and the minute of waiting for them)",
    )
    parser.add_argument("--rate-limits", action="store_true")
    parser.add_argument(
        "--kdf",
        help="the codename Argon2id cost (MAILSLOT_KDF; default: the server's), to make the "
        "sources faster to create when trying changes; the load itself runs no Argon2id",
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="start `python -m mailslot.cli.main serve` (the Python running this script) "
        "instead of ./scripts/run, which may install into .venv first",
    )
    parser.add_argument("--data-parent", type=Path, default=None)
    parser.add_argument(
        "--s3", action="store_true", help="blobs in a local S3 server (moto, its own process)"
    )
    args = parser.parse_args(argv)
    clean_up_on_sigterm()
    if args.quick:
        args.uploads, args.size, args.settle = 20, "100KB", 8.0
    args.size = parse_size(args.size, "--size")
    args.rate = parse_size(args.rate, "--rate")
    parent = Path(args.data_parent or tempfile.gettempdir()).resolve()
    info = machine(parent)
    print(
        f"# {args.uploads} slow uploads of {args.size // 1024} KiB at {args.rate // 1024} KiB/s"
        f"{' to a local S3 server' if args.s3 else ''} "
        f"({info['date']}, {info['nproc']} CPUs, {info['cpu']})",
        flush=True,
    )
    command = DIRECT if args.direct else RUN_SCRIPT
    settings = {"MAILSLOT_KDF": args.kdf} if args.kdf else {}
    blobs: contextlib.AbstractContextManager[dict[str, str]] = (
        s3_bucket(parent) if args.s3 else contextlib.nullcontext({})
    )
    with (
        blobs as bucket,
        running_server(
            parent, rate_limits=args.rate_limits, command=command, settings=settings | bucket
        ) as server,
    ):
        idle_start = idle_rss_kib(server.pid, settle=2.0)
        recipient = server.add_recipient()
        args.token = server.api_token(recipient)
        t0 = time.perf_counter()
        sources = make_sources(server, args.uploads)
        print(f"{len(sources)} sources made in {time.perf_counter() - t0:.0f} s", flush=True)
        warm_up(server, args.size, args.token)
        idle_before = idle_rss_kib(server.pid, settle=2.0 + TRIM_INTERVAL)
        kinds_before = memory_kinds(server.pid)
        load = run_load(server, sources, args)
        kinds_after = memory_kinds(server.pid)
        if not all(upload["ok"] for upload in load["uploads"]):
            # Exception types only (Mailslot logs no more): what went wrong, for the report.
            print("uploads failed; the server's log ends with:\n" + server.log()[-3000:])
        alive = server.proc.poll() is None
        final_rss = rss_kib(server.pid)

    uploads = load.pop("uploads")
    stalls = load.pop("stalls")
    all_pages = load.pop("all_page_ms")
    ok = sum(u["ok"] for u in uploads)
    growth_mib = (load["peak_rss_kib"] - idle_before) / 1024
    settled_mib = (load["after_settle_kib"] - idle_before) / 1024
    page_p95 = percentile(all_pages, 95) if all_pages else float("inf")
    header_cut, body_cut = (s["closed_after_s"] for s in stalls) if stalls else (None, None)
    data = {
        "machine": info,
        "uploads": args.uploads,
        "size_bytes": args.size,
        "rate_bytes_s": args.rate,
        "piece_bytes": args.piece,
        "kdf": args.kdf or "default",
        "blob_store": "s3" if args.s3 else "files",
        "succeeded": ok,
        "statuses": sorted({u["status"] for u in uploads}),
        "upload_seconds": summary_ms([u["seconds"] for u in uploads]),
        "load_seconds": load["seconds"],
        "idle_rss_mib": {
            "after_start": idle_start / 1024,
            "before_load": idle_before / 1024,
            "peak": load["peak_rss_kib"] / 1024,
            "after_1s": load["after_1s_kib"] / 1024,
            f"after_{args.settle:g}s": load["after_settle_kib"] / 1024,
        },
        "memory_kinds_mib": {"before_load": kinds_before, "after_the_run": kinds_after},
        "growth_mib": growth_mib,
        "growth_per_upload_kib": growth_mib * 1024 / args.uploads,
        "settled_above_idle_mib": settled_mib,
        "pages": load["pages"],
        "pages_p95_ms": page_p95,
        "page_errors": load["page_errors"],
        "stalled": {"headers": stalls[0], "body": stalls[1]} if stalls else None,
        "timeline": load["timeline"],
        "server_alive": alive and final_rss > 0,
        "targets": {
            "growth_mib": TARGET_GROWTH_MIB,
            "settled_mib": TARGET_SETTLED_MIB,
            "page_p95_ms": TARGET_PAGE_P95_MS,
            "header_timeout_s": HEADER_TIMEOUT,
            "body_timeout_s": BODY_TIMEOUT,
        },
        "growth_pass": growth_mib <= TARGET_GROWTH_MIB * args.uploads / 200,
        "settled_pass": settled_mib <= TARGET_SETTLED_MIB,
        "pages_pass": page_p95 < TARGET_PAGE_P95_MS and load["page_errors"] == 0,
        "uploads_pass": ok == args.uploads,
        "header_cut_pass": header_cut is not None and header_cut <= HEADER_TIMEOUT + CUT_SLACK
        if stalls
        else None,
        "body_cut_pass": body_cut is not None and body_cut <= BODY_TIMEOUT + CUT_SLACK
        if stalls
        else None,
    }
    scale = "" if args.uploads == 200 else f" (scaled to {args.uploads} uploads)"

    def seconds(value: float | None) -> str:
        return "still open" if value is None else f"cut after {value:.1f} s"

    rows: list[list[object]] = [
        ["uploads that succeeded", f"{ok} of {args.uploads}", "all", verdict(data["uploads_pass"])],
        [
            "peak RSS growth over idle",
            f"{growth_mib:.1f} MiB ({data['growth_per_upload_kib']:.0f} KiB per upload)",
            f"≤ {TARGET_GROWTH_MIB:.0f} MiB for 200{scale}",
            verdict(data["growth_pass"]),
        ],
        [
            f"RSS {args.settle:g} s after the load, over idle before it",
            f"{settled_mib:+.1f} MiB",
            f"≤ {TARGET_SETTLED_MIB:.0f} MiB",
            verdict(data["settled_pass"]),
        ],
        [
            "other pages during the load, p95 (median)",
            f"{page_p95:.1f} ms ({statistics.median(all_pages):.1f} ms), "
            f"{len(all_pages)} requests, {load['page_errors']} errors",
            f"< {TARGET_PAGE_P95_MS:.0f} ms",
            verdict(data["pages_pass"]),
        ],
    ]
    if stalls:
        rows += [
            [
                "half a request's headers, then nothing",
                seconds(header_cut),
                f"≤ {HEADER_TIMEOUT:.0f} s",
                verdict(data["header_cut_pass"]),
            ],
            [
                "a body that stops",
                seconds(body_cut),
                f"≤ {BODY_TIMEOUT:.0f} s",
                verdict(data["body_cut_pass"]),
            ],
        ]
    print()
    print(markdown_table(["Measure", "Value", "Target", ""], rows))
    print(f"\nwrote {write_results('slow_uploads-s3' if args.s3 else 'slow_uploads', data)}")
    return 0 if data["server_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())
