"""uvicorn as ``mailslot serve`` runs its interfaces (source, staff, operator): their settings,
and an HTTP protocol that closes connections that stall.

uvicorn by itself only closes a keep-alive connection that stays idle between requests. A
request whose headers never end, or whose body stops arriving half-way, would keep its
connection (and an upload's buffers) for as long as the client liked. The protocol here adds
the limits that ``docs/deployment.md`` describes (values from the configuration):

- a request's headers must be complete within ``header_timeout`` seconds of its first byte
  (of the connection, for the first request) and hold at most :data:`MAX_HEADER_BYTES`;
- while a request's body is incomplete, ``body_timeout`` seconds without a byte of it close
  the connection. Time the server itself is not reading (its buffer for the request is full,
  or the client waits for ``100 Continue``) does not count: only the client can stall.

A connection cut before its answer began gets ``408 Request Timeout`` with ``Connection:
close``; the application sees the client disconnect (an upload deletes what it wrote).
``max_connections`` is uvicorn's ``limit_concurrency``: beyond it, requests get ``503``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Final

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mailslot import memory
from mailslot.config import Config
from mailslot.errors import TooLarge

MAX_HEADER_BYTES: Final = 64 * 1024
# How often the servers are looked at for a quiet moment to give memory back in.
TRIM_INTERVAL: Final = 5.0
_TIMED_OUT: Final = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
)
_HEADERS: Final = "headers"
_BODY: Final = "body"


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the header and body limits above. Subclassed per
    server by :func:`protocol_class` with that server's timeouts."""

    header_timeout: float = 30.0
    body_timeout: float = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._timer: asyncio.TimerHandle | None = None
        self._waiting_for = ""
        self._header_bytes = 0
        self._last_body = 0.0
        super().connection_made(transport)
        self._expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._waiting_for = ""
        super().connection_lost(exc)

    # The parser's callbacks.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._waiting_for != _HEADERS:  # the first request's clock runs from the connection
            self._expect_headers()

    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._waiting_for = _BODY
        self._last_body = self.loop.time()
        self._arm(self.body_timeout)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._last_body = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._waiting_for = ""
        super().on_message_complete()

    # The clock.

    def _count_header_bytes(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            # Raised inside the parser's callback: uvicorn answers 400 and closes.
            raise TooLarge("The request's headers are too large.")

    def _expect_headers(self) -> None:
        self._disarm()
        self._waiting_for = _HEADERS
        self._header_bytes = 0
        self._arm(self.header_timeout)

    def _arm(self, delay: float) -> None:
        self._timer = self.loop.call_later(delay, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        cycle = self.cycle
        if self._waiting_for == _BODY:
            now = self.loop.time()
            if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
                self._last_body = now  # the server is not reading: the client cannot send
            idle = now - self._last_body
            if idle < self.body_timeout:
                self._arm(self.body_timeout - idle)
                return
        elif self._waiting_for == _HEADERS:
            if cycle is not None and not cycle.response_complete:
                # Still answering the previous request (pipelining): not the client's delay.
                self._arm(self.header_timeout)
                return
        else:
            return
        self._cut()

    def _cut(self) -> None:
        """Answer 408 if no answer has begun, and close; the application sees a disconnect."""
        self._waiting_for = ""
        transport = self.transport
        if transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            transport.write(_TIMED_OUT)
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # what the application sends from now on is dropped
            cycle.message_event.set()
        transport.close()


def protocol_class(config: Config) -> type[LimitedHttpProtocol]:
    """The protocol with ``config``'s timeouts (uvicorn makes one instance per connection)."""
    return type(
        "LimitedHttpProtocol",
        (LimitedHttpProtocol,),
        {
            "header_timeout": float(config.header_timeout),
            "body_timeout": float(config.body_timeout),
        },
    )


def uvicorn_settings(config: Config) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.Config`` for every interface, apart from the app,
    the address and the log level (``bench/ceiling.py`` uses them too)."""
    return {
        "access_log": False,  # access logs would record who asked for what, and when
        "server_header": False,
        "date_header": False,
        "log_config": None,
        "timeout_keep_alive": 30,
        "lifespan": "off",
        # httptools parses HTTP in C; h11 (pure Python) cost a large share of the CPU time of
        # every request and of every network chunk of an upload.
        "http": protocol_class(config),
        "limit_concurrency": config.max_connections,
    }


async def trim_after_requests(
    servers: Sequence[uvicorn.Server], interval: float = TRIM_INTERVAL
) -> None:
    """Every ``interval`` seconds in which requests were answered, give freed memory back to
    the system (:mod:`mailslot.memory`), in a worker thread. The memory of a burst is
    returned within ``interval`` seconds of its end, even while a long upload or download
    goes on (waiting for a moment with no request in progress did not work: a slow upload
    lasts minutes). A trim took about a millisecond after a burst of 200 uploads
    (``docs/performance.md``). The first interval with no new request after a busy one also
    runs a full garbage collection before the trim: objects of the burst caught in reference
    cycles (exceptions and their frames, finished tasks) are freed only by one, and they keep
    their memory pages from being returned. It runs once per quiet spell, when nobody waits."""
    answered_before = 0
    busy = False
    while True:
        await asyncio.sleep(interval)
        answered = sum(server.server_state.total_requests for server in servers)
        if answered != answered_before:
            answered_before = answered
            busy = True
            await asyncio.to_thread(memory.trim)
        elif busy:
            busy = False
            await asyncio.to_thread(memory.collect_and_trim)
