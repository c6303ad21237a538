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
that load. Elsewhere (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Final

_M_ARENA_MAX: Final = -8  # glibc's mallopt parameter number (malloc.h)
# Arenas for ``mailslot serve``: glibc's default is eight per core.
ARENAS: Final = 2


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
