"""Giving freed memory back to the system once a burst of work is over.

CPython hands an upload's buffers back to the C allocator as soon as it is done with them,
but glibc's ``malloc`` keeps what was freed inside its arenas for later use. It makes arenas
as threads contend for one, up to eight per core, and the worker threads that seal uploads
spread their buffers over all of them. After 200 slow uploads at once, a server stayed
over 100 MiB above its idle size for good (``docs/performance.md``, "Many slow uploads at
once").

Two glibc calls fix most of it, both measured there: :func:`limit_arenas` caps the arenas
at :data:`ARENAS` (``MALLOC_ARENA_MAX``; the peak of that load fell from 51 to 27 MiB), and
:func:`trim` (``malloc_trim(0)``) returns every whole free page of every arena to the
system (``mailslot serve`` calls it every few seconds in which requests were answered, see
``web/server.py``). Together, the server came back within 6 MiB of its idle size after
that load. Elsewhere (musl, macOS) both do nothing. :class:`Collector` runs the full
garbage collections that give back what closed organisation contexts held.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import time
from collections.abc import Callable
from typing import Final

_M_ARENA_MAX: Final = -8  # glibc's mallopt parameter number (malloc.h)
# Arenas for ``mailslot serve``: glibc's default is eight per core.
ARENAS: Final = 2
# Seconds between two full garbage collections asked for by closed contexts (Collector).
COLLECT_EVERY: Final = 60.0


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)  # the C library the interpreter runs on
    except OSError:  # pragma: no cover - every Unix has one
        return None


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    function = getattr(_libc(), "malloc_trim", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    trim: Callable[[int], int] = function
    return trim


def limit_arenas(count: int) -> bool:
    """Let glibc's malloc use at most ``count`` arenas (``MALLOC_ARENA_MAX``); call it before
    any thread starts. False if this C library cannot."""
    function = getattr(_libc(), "mallopt", None)
    if function is None:
        return False
    function.argtypes = [ctypes.c_int, ctypes.c_int]
    function.restype = ctypes.c_int
    return bool(function(_M_ARENA_MAX, count))


def trim() -> bool:
    """Return free memory to the system; False if this C library cannot."""
    function = _malloc_trim()
    if function is None:
        return False
    function(0)
    return True


def collect_and_trim() -> int:
    """A full garbage collection, then :func:`trim`; returns how many unreachable objects
    were found."""
    found = gc.collect()
    trim()
    return found


class Collector:
    """Full garbage collections after organisation contexts were closed, at most one every
    ``every`` seconds (not thread-safe: one caller, ``jobs.watch_registry``).

    A closed context's engine, dialect and compiled statements refer to each other, so their
    memory comes back only with a full collection, which CPython runs when it sees fit: until
    then, contexts closed in a busy minute pile up beside the open ones and raise the peak the
    process keeps (docs/performance.md, "A thousand organisations"). One collection held the
    interpreter for about 0.1 s with 110,000 objects alive, hence the spacing."""

    def __init__(
        self, every: float = COLLECT_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every = every
        self.clock = clock
        self._owed = False
        self._last = -every

    def owe(self) -> None:
        """Contexts were closed: a collection is owed."""
        self._owed = True

    def due(self) -> bool:
        return self._owed and self.clock() - self._last >= self.every

    def collect(self) -> int:
        """Collect every generation, then give the freed memory back (blocking); returns how
        many unreachable objects were found."""
        self._owed = False
        self._last = self.clock()
        return collect_and_trim()
