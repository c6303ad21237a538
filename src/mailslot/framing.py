"""Frames of canonical JSON, as export bundles (``offline/bundle.py``) and backups
(``backup/format.py``) both carry them: a big-endian ``u32`` length, then the JSON object
with sorted keys, no spaces, UTF-8 (``docs/spec/format.md``).

Reading is strict, since the bytes come from a file someone else may have made: UTF-8, one
object, no duplicate keys, integers only (no floats, NaN or infinities). Each format says
what a malformed frame is to its readers by passing the error to raise (one opaque error
per format, never a reason).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any, Final

LENGTH: Final = struct.Struct(">I")


def encode(obj: dict[str, Any], *, limit: int, too_large: Callable[[], Exception]) -> bytes:
    """A frame's bytes; ``too_large()`` is raised for JSON longer than ``limit`` bytes."""
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    if len(text) > limit:
        raise too_large()
    return LENGTH.pack(len(text)) + text


def decode(data: bytes, *, malformed: Callable[[], Exception]) -> dict[str, Any]:
    """Parse one frame's JSON strictly; ``malformed()`` is raised for anything else."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise malformed()
        return result

    def refuse(_: str) -> Any:
        raise malformed()

    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=no_duplicates,
            parse_float=refuse,
            parse_constant=refuse,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise malformed() from None
    if type(value) is not dict:
        raise malformed()
    return value
