"""Large and slow uploads: flat server memory, slow links that do not time out or block the
site, and a clean retry after a dropped connection."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, new_source, submit

BOUNDARY = "mailslot-large-file-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
MIB = 1024 * 1024
LARGE = 256 * MIB
MEMORY_BOUND = 64 * MIB


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """Samples a process's resident memory every few milliseconds in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def block(index: int, base: bytes) -> bytes:
    """The ``index``-th MiB of the test document: cheap to make, different everywhere."""
    return index.to_bytes(8, "big") + base[8:]


def head(token: str, filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="message"\r\n\r\n\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def start_source(server: LiveServer) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=server.source_url, timeout=120)
    new_source(client)
    return client, csrf(client.get("/submit").text)


@pytest.fixture(scope="module", autouse=True)
def open_channel(recipient: Account) -> Account:
    return recipient


@pytest.mark.slow
def test_large_file_memory_stays_flat(server: LiveServer, recipient: Account) -> None:
    base = random.Random(7).randbytes(MIB)  # noqa: S311 - test data, not a secret
    blocks = LARGE // MIB
    client, token = start_source(server)
    # Warm up (first submission loads lazily imported code), then measure idle.
    assert submit(client, "warm-up").status_code == 303
    token = csrf(client.get("/submit").text)
    time.sleep(0.5)
    idle = rss(server.proc.pid)

    def body() -> Iterator[bytes]:
        yield head(token, "large.bin")
        for index in range(blocks):
            yield block(index, base)
        yield TAIL

    length = len(head(token, "large.bin")) + LARGE + len(TAIL)
    with closing(client), PeakRss(server.proc.pid) as upload_peak:
        response = client.post(
            "/submit",
            content=body(),
            headers={"Content-Type": MULTIPART, "Content-Length": str(length)},
        )
    assert response.status_code == 303, response.text
    assert upload_peak.peak - idle <= MEMORY_BOUND, (
        f"upload grew the server by {(upload_peak.peak - idle) / MIB:.1f} MiB"
    )

    with server.api_client(recipient) as api:
        listing = api.get("/cases", params={"limit": 20}).json()["cases"]
        item = next(
            item
            for case in listing
            for item in api.get(f"/cases/{case['id']}").json()["items"]
            if item["filename"] == "large.bin"
        )
        assert item["size"] == LARGE
        case_id = next(
            case["id"]
            for case in listing
            if any(i["id"] == item["id"] for i in api.get(f"/cases/{case['id']}").json()["items"])
        )
        idle = rss(server.proc.pid)
        received = 0
        pending = b""
        with (
            PeakRss(server.proc.pid) as download_peak,
            api.stream("GET", f"/cases/{case_id}/items/{item['id']}/content") as stream,
        ):
            assert stream.status_code == 200
            for chunk in stream.iter_bytes():
                pending += chunk
                while len(pending) >= MIB:
                    assert pending[:MIB] == block(received // MIB, base)
                    pending = pending[MIB:]
                    received += MIB
    assert pending == b""
    assert received == LARGE
    assert download_peak.peak - idle <= MEMORY_BOUND, (
        f"download grew the server by {(download_peak.peak - idle) / MIB:.1f} MiB"
    )


@pytest.mark.slow
def test_many_slow_uploads_neither_time_out_nor_block_the_site(
    server: LiveServer, recipient: Account
) -> None:
    """More slow uploads than the server has worker threads, each paused mid-body, while
    other people use the site; one pauses longer than any keep-alive timeout."""
    uploads = 45
    piece = b"s" * 50_000  # 50 kB a second: a slow Tor circuit
    started = threading.Barrier(uploads + 1, timeout=60)
    go = threading.Event()
    results: list[int] = []
    sources = [start_source(server) for _ in range(uploads)]

    def upload(number: int, client: httpx.Client, token: str) -> None:
        def body() -> Iterator[bytes]:
            yield head(token, f"slow-{number}.bin")
            yield piece
            started.wait()
            go.wait(timeout=60)
            for _ in range(3):
                time.sleep(1)
                yield piece
            if number == 0:
                time.sleep(7)
            yield TAIL

        length = len(head(token, f"slow-{number}.bin")) + 4 * len(piece) + len(TAIL)
        with closing(client):
            response = client.post(
                "/submit",
                content=body(),
                headers={"Content-Type": MULTIPART, "Content-Length": str(length)},
            )
        results.append(response.status_code)

    threads = [
        threading.Thread(target=upload, args=(n, c, t), daemon=True)
        for n, (c, t) in enumerate(sources)
    ]
    for thread in threads:
        thread.start()
    started.wait()
    # Every upload is now open and half sent. The site still answers everyone else.
    message = "sent while uploads crawl " + server.unique("m")
    with httpx.Client(base_url=server.source_url, timeout=20) as other:
        assert other.get("/").status_code == 200
        new_source(other)
        assert submit(other, message).status_code == 303
    with server.api_client(recipient) as api:
        assert find_case(api, message)["items"][0]["text"] == message
    go.set()
    for thread in threads:
        thread.join(timeout=120)
    assert results == [303] * uploads


def test_retry_after_a_dropped_upload_works(server: LiveServer) -> None:
    client, token = start_source(server)
    port = int(server.source_url.rsplit(":", 1)[1])
    cookie = client.cookies["mailslot_source"]
    partial = head(token, "dropped.bin") + b"d" * 300_000
    request = (
        f"POST /submit HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\n"  # as a browser sends it, so the body is read
        f"Cookie: mailslot_source={cookie}\r\nContent-Type: {MULTIPART}\r\n"
        f"Content-Length: {len(partial) + 5_000_000}\r\n\r\n"
    ).encode() + partial
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        time.sleep(0.5)
    # The source's session survives; sending again works and stores the new file whole.
    with closing(client):
        page = client.get("/submit")
        assert page.status_code == 200
        again = submit(client, "second try", files=[("dropped.bin", b"d" * 300_000, "x/y")])
        assert again.status_code == 303, again.text
