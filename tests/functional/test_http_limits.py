"""The HTTP limits of ``mailslot serve`` (web/server.py), on a real server with short
timeouts: a connection whose headers or body stall is cut with a 408 and leaves nothing
behind, a slow but steady upload (50 KB/s, as over Tor) passes and is sealed as it arrives,
oversized headers are refused, and connections beyond the limit get 503.

Requests are written by hand on plain sockets, so that the test decides when each byte goes.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, files_under, find_case, new_source

HEADER_TIMEOUT = 2
BODY_TIMEOUT = 2
MAX_CONNECTIONS = 4
# The server's timers fire on time; the slack covers a busy test machine.
SLACK = 3.0
RATE = 50_000  # bytes per second, a Tor circuit's pace
BOUNDARY = "----mailslot-limits-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp("limits"),
        {
            "MAILSLOT_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "MAILSLOT_BODY_TIMEOUT": str(BODY_TIMEOUT),
            "MAILSLOT_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        },
    )
    yield live
    stop_server(live)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def connect(url: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port_of(url)), timeout=30)
    sock.settimeout(30)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def cut_after(sock: socket.socket, sent: bytes) -> tuple[float, bytes]:
    """Send ``sent``, then nothing: seconds until the server closed, and what it answered."""
    start = time.monotonic()
    sock.sendall(sent)
    answer = read_until_closed(sock)
    return time.monotonic() - start, answer


def blob_files(server: LiveServer) -> list[Path]:
    """The blob files now."""
    return files_under(server.data_dir / "blobs")


class Source:
    """A first-time source's session, for requests written by hand."""

    def __init__(self, server: LiveServer) -> None:
        with httpx.Client(base_url=server.source_url, timeout=60) as client:
            new_source(client)
            self.csrf = csrf(client.get("/submit").text)
            self.cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        self.url = server.source_url

    def submission(self, message: str, file: bytes) -> tuple[bytes, bytes]:
        """The head and body of ``POST /submit`` with ``message`` and one file."""
        body = (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
                f"{self.csrf}\r\n"
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="message"\r\n\r\n'
                f"{message}\r\n"
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
                'filename="report.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
            ).encode()
            + file
            + f"\r\n--{BOUNDARY}--\r\n".encode()
        )
        host = self.url.removeprefix("http://")
        head = (
            f"POST /submit HTTP/1.1\r\nHost: {host}\r\nOrigin: {self.url}\r\n"
            f"Cookie: {self.cookie}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        return head, body


def test_a_connection_that_sends_nothing_is_cut(server: LiveServer) -> None:
    with connect(server.source_url) as sock:
        elapsed, answer = cut_after(sock, b"")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert HEADER_TIMEOUT - 0.5 <= elapsed <= HEADER_TIMEOUT + SLACK


def test_headers_that_stall_are_cut(server: LiveServer) -> None:
    # Half a request's headers, then a byte at a time: trickling does not reset the clock.
    with connect(server.staff_url) as sock:
        start = time.monotonic()
        sock.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        for _ in range(int((HEADER_TIMEOUT + SLACK) / 0.5)):
            time.sleep(0.5)
            try:
                sock.sendall(b"X")
            except OSError:  # closed by the server: read its answer
                break
        sock.settimeout(SLACK)
        answer = read_until_closed(sock)
        elapsed = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert elapsed <= HEADER_TIMEOUT + SLACK


def test_a_body_that_stalls_is_cut_and_leaves_nothing(
    server: LiveServer, recipient: Account
) -> None:
    source = Source(server)
    before = blob_files(server)
    head, body = source.submission("This one stops half-way.", b"%PDF" + bytes(300_000))
    with connect(server.source_url) as sock:
        elapsed, answer = cut_after(sock, head + body[: len(body) // 2])
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert BODY_TIMEOUT - 0.5 <= elapsed <= BODY_TIMEOUT + SLACK
    # The half that was sealed and written is deleted with the upload.
    deadline = time.monotonic() + 10
    while blob_files(server) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert blob_files(server) == before


def test_a_slow_steady_upload_passes_and_is_sealed_as_it_arrives(
    server: LiveServer, recipient: Account
) -> None:
    source = Source(server)
    message = "Sent at fifty kilobytes a second."
    content = b"%PDF-1.7\n" + bytes(range(256)) * 1200  # about 300 KB
    head, body = source.submission(message, content)
    before = set(blob_files(server))
    written_while_sending = 0
    with connect(server.source_url) as sock:
        sock.sendall(head)
        start = time.monotonic()
        sent = 0
        piece = RATE // 10
        while sent < len(body):
            sock.sendall(body[sent : sent + piece])
            sent += piece
            if sent >= len(body) * 3 // 4 and not written_while_sending:
                # Three quarters in: the file is already sealed and on disk, not in memory.
                time.sleep(0.5)
                partial = [p for p in blob_files(server) if p.name.endswith(".partial")]
                written_while_sending = sum(p.stat().st_size for p in partial)
            time.sleep(max(0.0, start + sent / RATE - time.monotonic()))
        elapsed = time.monotonic() - start
        sock.settimeout(30)
        answer = sock.recv(65536)
    # Longer than either timeout in all, and it passes.
    assert elapsed > HEADER_TIMEOUT + BODY_TIMEOUT
    assert answer.startswith(b"HTTP/1.1 303 "), answer[:200]
    assert b"/submitted" in answer
    assert written_while_sending >= len(content) // 2
    assert len(set(blob_files(server)) - before) == 2  # the message and the file
    with server.api_client(recipient) as api:
        case = find_case(api, message)
        (file_item,) = [item for item in case["items"] if item["kind"] == "file"]
        downloaded = api.get(f"/cases/{case['id']}/items/{file_item['id']}/content")
    assert downloaded.status_code == 200
    assert downloaded.content == content


def test_oversized_headers_are_refused(server: LiveServer) -> None:
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 70_000 + b"\r\n\r\n"
    with connect(server.source_url) as sock:
        sock.sendall(request)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_connections_beyond_the_limit_get_503(server: LiveServer) -> None:
    idle = [connect(server.source_url) for _ in range(MAX_CONNECTIONS - 1)]
    try:
        time.sleep(0.2)
        with connect(server.source_url) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.2)
    with connect(server.source_url) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_closed(sock).startswith(b"HTTP/1.1 200 ")
