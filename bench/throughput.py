"""Upload throughput against the HTTP layer's ceiling (a do-nothing ASGI app under the same
server, sent the same bodies in turns), download throughput, server memory, and the machine's
raw AES-256-GCM and disk write+fsync throughput, all measured in one run.

    .venv/bin/python bench/throughput.py [--sizes 64MiB,512MiB,2GiB] [--repeat 5] [--s3]

With ``--s3`` the server keeps its blobs in a bucket of a local S3 server (moto's server mode,
from the test extras) instead of files; the results go to ``throughput-s3.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from _common import (
    MB,
    Ceiling,
    FilePart,
    GiB,
    MiB,
    RssSampler,
    Server,
    browser_client,
    check_free_space,
    clean_up_on_sigterm,
    cpu_seconds,
    free_port,
    idle_rss_kib,
    machine,
    markdown_table,
    new_source,
    post_submission,
    running_ceiling,
    running_server,
    submit_csrf,
    verdict,
    write_results,
)

# The physical limit is the primitive itself, measured without Mailslot's format around it.
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: TID251 - benchmark of the raw primitive

from mailslot.config import parse_size
from mailslot.crypto.stream import CHUNK_PLAINTEXT_SIZE, HEADER_SIZE

TARGET_MB_S = 200.0
TARGET_CEILING_RATIO = 0.85
TARGET_RSS_MIB = 64.0


# Physical limits.


def aead_throughput(seconds: float, *, decrypt: bool) -> float:
    """Bytes/s of single-threaded AES-256-GCM over one item chunk at a time, as the item
    stream does it (64 KiB plaintext, 12-byte counter nonce, the header as associated data)."""
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    plaintext = os.urandom(CHUNK_PLAINTEXT_SIZE)
    aad = os.urandom(HEADER_SIZE)
    nonces = [i.to_bytes(12, "big") for i in range(64)]
    sealed = [aead.encrypt(n, plaintext, aad) for n in nonces]
    done = 0
    start = time.perf_counter()
    while True:
        if decrypt:
            for n, c in zip(nonces, sealed, strict=True):
                aead.decrypt(n, c, aad)
        else:
            for n in nonces:
                aead.encrypt(n, plaintext, aad)
        done += len(nonces) * CHUNK_PLAINTEXT_SIZE
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def disk_throughput(directory: Path, size: int) -> float:
    """Bytes/s writing ``size`` bytes in 1 MiB blocks, fsync included, in ``directory``."""
    block = os.urandom(MiB)
    fd, name = tempfile.mkstemp(prefix="disk-", dir=directory)
    try:
        start = time.perf_counter()
        for _ in range(size // MiB):
            view = memoryview(block)
            while view:
                view = view[os.write(fd, view) :]
        os.fsync(fd)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
        os.unlink(name)
    return size / elapsed


@contextlib.contextmanager
def s3_bucket(parent: Path) -> Iterator[dict[str, str]]:
    """A local S3 server (``moto.server``) with one bucket; the settings that put a Mailslot
    server's blobs in it. The S3 server runs in its own process, so its memory is not the
    Mailslot server's."""
    import boto3  # noqa: PLC0415 - only with --s3 (test extras)

    port = free_port()
    aws = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with tempfile.TemporaryFile(dir=parent) as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=log,
            env={**os.environ, **aws},
            start_new_session=True,
        )
        try:
            endpoint = f"http://127.0.0.1:{port}"
            client = boto3.session.Session(
                aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
                region_name=aws["AWS_DEFAULT_REGION"],
            ).client("s3", endpoint_url=endpoint)
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.create_bucket(Bucket="mailslot-bench")
                    break
                except Exception:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the local S3 server did not start") from None
                    time.sleep(0.1)
            yield {
                **aws,
                "MAILSLOT_BLOB_URL": "s3://mailslot-bench/blobs",
                "MAILSLOT_S3_ENDPOINT_URL": endpoint,
            }
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


# One file through the real server.


def timed_upload(client: httpx.Client, pid: int, csrf: str, part: FilePart) -> dict[str, Any]:
    """POST /submit with ``part``, timed from the first byte sent to the ``303``."""
    idle = idle_rss_kib(pid)
    cpu0, client0 = cpu_seconds(pid), time.process_time()
    with RssSampler(pid) as rss:
        start = time.perf_counter()
        post_submission(client, csrf, "A large file follows.", [part])
        elapsed = time.perf_counter() - start
    return {
        "seconds": elapsed,
        "mb_s": part.size / elapsed / MB,
        "idle_rss_mib": idle / 1024,
        "peak_rss_mib": rss.peak_kib / 1024,
        "rss_growth_mib": (rss.peak_kib - idle) / 1024,
        "server_cpu_s": cpu_seconds(pid) - cpu0,
        "client_cpu_s": time.process_time() - client0,
        "rss_samples": rss.samples,
    }


def upload(server: Server, part: FilePart) -> dict[str, Any]:
    """A new source's submission of ``part`` to Mailslot."""
    with browser_client(server.source_url, 600) as client:
        new_source(client)
        return timed_upload(client, server.pid, submit_csrf(client), part)


def ceiling_upload(ceiling: Ceiling, part: FilePart) -> dict[str, Any]:
    """The same body, sent the same way, to the do-nothing app."""
    with browser_client(ceiling.url, 600) as client:
        # A token as long as Mailslot's, so that both bodies have the same length.
        return timed_upload(client, ceiling.pid, "x" * 32, part)


def find_file(api: httpx.Client, filename: str) -> tuple[str, str, int]:
    """(case id, item id, size) of the file called ``filename``."""
    for case in api.get("/cases", params={"limit": 200}).raise_for_status().json()["cases"]:
        detail = api.get(f"/cases/{case['id']}").raise_for_status().json()
        for item in detail["items"]:
            if item["kind"] == "file" and item["filename"] == filename:
                return str(case["id"]), str(item["id"]), int(item["size"])
    raise RuntimeError(f"no file called {filename}")


def download(server: Server, api: httpx.Client, part: FilePart, verify: bool) -> dict[str, Any]:
    case_id, item_id, size = find_file(api, part.filename)
    if size != part.size:
        raise RuntimeError(f"stored size {size} != sent size {part.size}")
    pattern = part.block * 2
    period = len(part.block)
    received = 0
    idle = idle_rss_kib(server.pid)
    cpu0, client0 = cpu_seconds(server.pid), time.process_time()
    try:
        with RssSampler(server.pid) as rss:
            start = time.perf_counter()
            url = f"/cases/{case_id}/items/{item_id}/content"
            with api.stream("GET", url) as response:
                response.raise_for_status()
                for chunk in response.iter_raw(MiB):
                    if verify:
                        # Compare bytes with bytes (memcmp); memoryview compares per item.
                        done = 0
                        while done < len(chunk):
                            pos = received % period
                            n = min(len(chunk) - done, period)
                            if chunk[done : done + n] != pattern[pos : pos + n]:
                                raise RuntimeError(f"content differs near byte {received}")
                            done += n
                            received += n
                    else:
                        received += len(chunk)
            elapsed = time.perf_counter() - start
        if received != part.size:
            raise RuntimeError(f"downloaded {received} bytes, expected {part.size}")
        return {
            "seconds": elapsed,
            "mb_s": received / elapsed / MB,
            "idle_rss_mib": idle / 1024,
            "peak_rss_mib": rss.peak_kib / 1024,
            "rss_growth_mib": (rss.peak_kib - idle) / 1024,
            "server_cpu_s": cpu_seconds(server.pid) - cpu0,
            "client_cpu_s": time.process_time() - client0,
            "rss_samples": rss.samples,
        }
    finally:
        # Keep the disk from filling: the case and its blobs go at once.
        api.delete(f"/cases/{case_id}").raise_for_status()


def size_label(size: int) -> str:
    return f"{size // GiB} GiB" if size % GiB == 0 else f"{size / MiB:g} MiB"


def summarise(
    size: int, runs: list[dict[str, Any]], disk: list[float], limits: dict[str, Any]
) -> dict[str, Any]:
    """One size's figures: medians of the runs, the upload's ratio to the ceiling, the worst
    memory growth."""

    def rates(key: str) -> list[float]:
        return [r[key]["mb_s"] for r in runs]

    def cpu_per_gb(key: str) -> float:
        seconds: list[float] = [r[key]["server_cpu_s"] for r in runs]
        return statistics.median(seconds) / (size / 1e9)

    upload_median = statistics.median(rates("upload"))
    ceiling_median = statistics.median(rates("ceiling"))
    ratio = upload_median / ceiling_median
    up_growth = max(r["upload"]["rss_growth_mib"] for r in runs)
    down_growth = max(r["download"]["rss_growth_mib"] for r in runs)
    download_median = statistics.median(rates("download"))
    return {
        "size": size,
        "label": size_label(size),
        "runs": runs,
        "disk_write_fsync_mb_s": max(disk),
        "disk_runs_mb_s": disk,
        # The headline figures are medians: the runs are interleaved with the ceiling's, so
        # the medians of both see the same host.
        "upload_mb_s": upload_median,
        "upload_best_mb_s": max(rates("upload")),
        "ceiling_mb_s": ceiling_median,
        "ceiling_best_mb_s": max(rates("ceiling")),
        "ceiling_ratio": ratio,
        "ceiling_ratio_per_round": [r["upload"]["mb_s"] / r["ceiling"]["mb_s"] for r in runs],
        "upload_server_cpu_s_per_gb": cpu_per_gb("upload"),
        "ceiling_server_cpu_s_per_gb": cpu_per_gb("ceiling"),
        "upload_limit_mb_s": min(limits["aead_seal_mb_s"], max(disk)),
        "upload_ratio_to_limit": upload_median / min(limits["aead_seal_mb_s"], max(disk)),
        "upload_rss_growth_mib": up_growth,
        "download_mb_s": download_median,
        "download_best_mb_s": max(rates("download")),
        "download_ratio": download_median / limits["aead_open_mb_s"],
        "download_server_cpu_s_per_gb": cpu_per_gb("download"),
        "download_rss_growth_mib": down_growth,
        "upload_pass": upload_median >= TARGET_MB_S and ratio >= TARGET_CEILING_RATIO,
        "rss_pass": max(up_growth, down_growth) <= TARGET_RSS_MIB,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64MiB,512MiB,2GiB", help="comma-separated sizes")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per size (median is kept)")
    parser.add_argument("--disk-runs", type=int, default=3, help="disk tests per size (best)")
    parser.add_argument("--aead-seconds", type=float, default=2.0)
    parser.add_argument(
        "--rate-limits", action="store_true", help="keep the server's default rate limits"
    )
    parser.add_argument("--data-parent", type=Path, default=None, help="where data dirs go")
    parser.add_argument("--no-verify", action="store_true", help="skip the content check")
    parser.add_argument(
        "--s3", action="store_true", help="blobs in a bucket of a local S3 server (moto)"
    )
    args = parser.parse_args(argv)
    clean_up_on_sigterm()
    sizes = [parse_size(s, "--sizes") for s in args.sizes.split(",") if s.strip()]
    parent = Path(args.data_parent or tempfile.gettempdir()).resolve()
    # One blob at a time (deleted after its download) or one disk test file, plus room.
    check_free_space(parent, max(sizes) * 11 // 10 + GiB)
    info = machine(parent)
    store = "a local S3 server" if args.s3 else "files"
    print(
        f"# Throughput ({info['date']}, {info['nproc']} CPUs, {info['cpu']}; blobs in {store})",
        flush=True,
    )

    aead_seal = [aead_throughput(args.aead_seconds, decrypt=False) for _ in range(3)]
    aead_open = [aead_throughput(args.aead_seconds, decrypt=True) for _ in range(3)]
    limits: dict[str, Any] = {
        "aead_seal_mb_s": max(aead_seal) / MB,
        "aead_open_mb_s": max(aead_open) / MB,
        "aead_seal_runs_mb_s": [x / MB for x in aead_seal],
        "aead_open_runs_mb_s": [x / MB for x in aead_open],
    }
    print(
        f"AES-256-GCM seal {limits['aead_seal_mb_s']:.0f} MB/s, open "
        f"{limits['aead_open_mb_s']:.0f} MB/s (best of 3)",
        flush=True,
    )

    results: list[dict[str, Any]] = []
    block = os.urandom(MiB)
    blobs: contextlib.AbstractContextManager[dict[str, str]] = (
        s3_bucket(parent) if args.s3 else contextlib.nullcontext({})
    )
    with (
        blobs as settings,
        running_server(parent, rate_limits=args.rate_limits, settings=settings) as server,
        running_ceiling() as ceiling,
    ):
        recipient = server.add_recipient()
        start_idle = idle_rss_kib(server.pid)
        with httpx.Client(
            base_url=f"{server.staff_url}/api/v1",
            headers={"Authorization": f"Bearer {server.api_token(recipient)}"},
            timeout=600,
        ) as api:
            # Warm up every code path once so the first measured run is not paying for it.
            warm = FilePart("warm-up.bin", MiB, block)
            ceiling_upload(ceiling, warm)
            upload(server, warm)
            download(server, api, warm, verify=False)
            for size in sizes:
                # The disk writes as many bytes as the upload stores, just before it.
                disk = [disk_throughput(parent, size) / MB for _ in range(args.disk_runs)]
                print(
                    f"{size_label(size)}: disk write+fsync {max(disk):.0f} MB/s "
                    f"(best of {args.disk_runs})",
                    flush=True,
                )
                runs = []
                for rep in range(args.repeat):
                    part = FilePart(f"bench-{size}-{rep}.bin", size, block)
                    # In turns, each going first every other round, so that a change in the
                    # host's speed during the run favours neither.
                    run: dict[str, Any] = {}
                    for who in ("ceiling", "upload") if rep % 2 == 0 else ("upload", "ceiling"):
                        if who == "ceiling":
                            run["ceiling"] = ceiling_upload(ceiling, part)
                        else:
                            run["upload"] = upload(server, part)
                    run["download"] = download(server, api, part, verify=not args.no_verify)
                    runs.append(run)
                    up, top, down = run["upload"], run["ceiling"], run["download"]
                    print(
                        f"{size_label(size)} round {rep + 1}: upload {up['mb_s']:.0f} MB/s "
                        f"(+{up['rss_growth_mib']:.1f} MiB, server CPU {up['server_cpu_s']:.2f} s "
                        f"in {up['seconds']:.2f} s), ceiling {top['mb_s']:.0f} MB/s (server CPU "
                        f"{top['server_cpu_s']:.2f} s), {up['mb_s'] / top['mb_s']:.0%}; download "
                        f"{down['mb_s']:.0f} MB/s (+{down['rss_growth_mib']:.1f} MiB)",
                        flush=True,
                    )
                results.append(summarise(size, runs, disk, limits))
        end_idle = idle_rss_kib(server.pid)

    rows = [
        [
            r["label"],
            f"{r['upload_mb_s']:.0f}",
            f"{r['ceiling_mb_s']:.0f}",
            f"{r['ceiling_ratio']:.0%}",
            f"{r['upload_rss_growth_mib']:.1f}",
            f"{r['download_mb_s']:.0f}",
            f"{r['download_ratio']:.0%}",
            f"{r['download_rss_growth_mib']:.1f}",
            verdict(r["upload_pass"]),
            verdict(r["rss_pass"]),
        ]
        for r in results
    ]
    print()
    print(
        markdown_table(
            [
                "File",
                "Upload MB/s",
                "Ceiling MB/s",
                "Upload / ceiling",
                "Upload RSS +MiB",
                "Download MB/s",
                "of AEAD open",
                "Download RSS +MiB",
                "Upload target",
                "Memory target",
            ],
            rows,
        )
    )
    print(f"\nMedians of {args.repeat} rounds per size.")
    data = {
        "machine": info,
        "rate_limits": args.rate_limits,
        "blob_store": "s3" if args.s3 else "files",
        "limits": limits,
        "repeat": args.repeat,
        "server_idle_rss_mib": {"after_start": start_idle / 1024, "at_end": end_idle / 1024},
        "sizes": results,
        "targets": {
            "upload_mb_s": TARGET_MB_S,
            "upload_ceiling_ratio": TARGET_CEILING_RATIO,
            "rss_growth_mib": TARGET_RSS_MIB,
        },
    }
    print(f"\nwrote {write_results('throughput-s3' if args.s3 else 'throughput', data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
