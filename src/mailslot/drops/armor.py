"""age's ASCII armor (c2sp.org/age, "ASCII armor"): strict PEM (RFC 7468, figure 3) with the
label ``AGE ENCRYPTED FILE``, read as a stream.

Accepted: whitespace before the ``BEGIN`` line and after the ``END`` line, LF or CRLF line
ends, no end of line after ``END``. Rejected (:class:`ArmorInvalid`): anything else before
or after, PEM headers, lines other than 64 columns except the last (1 to 64), whitespace
inside a line, padding anywhere but at the end of the last line, non-canonical base64.
Each line is decoded as it arrives, so memory stays at one line.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Final

from mailslot.drops.errors import ArmorInvalid

BEGIN: Final = b"-----BEGIN AGE ENCRYPTED FILE-----"
END: Final = b"-----END AGE ENCRYPTED FILE-----"
_COLUMNS: Final = 64
_WHITESPACE: Final = b" \t\r\n"
_ALPHABET: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def encode(data: bytes) -> bytes:
    """The armored form of a whole (small) age file; large files are not armored."""
    text = base64.b64encode(data)
    lines = [text[i : i + _COLUMNS] for i in range(0, len(text), _COLUMNS)]
    return b"\n".join([BEGIN, *lines, END]) + b"\n"


class ArmorReader:
    """Decodes armor from ``readline(limit)`` (one line with its newline, or less at the end
    of the stream) and offers the decoded bytes through :meth:`read`."""

    def __init__(self, readline: Callable[[int], bytes]) -> None:
        self._readline = readline
        self._decoded = bytearray()
        self._previous: bytes | None = None  # the last body line, while it may not be the last
        self._done = False
        self._begin()

    def _line(self) -> bytes | None:
        raw = self._readline(_COLUMNS + 3)
        if not raw:
            return None
        if raw.endswith(b"\r\n"):
            return raw[:-2]
        if raw.endswith(b"\n"):
            return raw[:-1]
        return raw  # the stream's last line, or an overlong one (refused as such)

    def _begin(self) -> None:
        while True:
            line = self._line()
            if line is None:
                raise ArmorInvalid("no armor")
            if line.strip(_WHITESPACE):
                break
        if line != BEGIN:
            raise ArmorInvalid("the armor does not begin with the age label")

    def _next(self) -> None:
        line = self._line()
        if line is None:
            raise ArmorInvalid("the armor has no end line")
        if line == END:
            self._finish()
            return
        previous = self._previous
        if previous is not None and (len(previous) != _COLUMNS or previous.endswith(b"=")):
            raise ArmorInvalid("a short or padded armor line that is not the last")
        if not 0 < len(line) <= _COLUMNS or not _ALPHABET.issuperset(line.rstrip(b"=")):
            raise ArmorInvalid("an armor line of bad length or with a bad character")
        if len(line) % 4 or len(line) - len(line.rstrip(b"=")) > 2:
            raise ArmorInvalid("armor base64 that is not padded")
        try:
            data = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise ArmorInvalid("bad armor base64") from None
        if base64.b64encode(data) != line:
            raise ArmorInvalid("armor base64 that is not canonical")
        self._previous = line
        self._decoded += data

    def _finish(self) -> None:
        while True:
            rest = self._readline(64 * 1024)
            if not rest:
                break
            if rest.strip(_WHITESPACE):
                raise ArmorInvalid("data after the armor")
        self._done = True

    def read(self, n: int) -> bytes:
        while len(self._decoded) < n and not self._done:
            self._next()
        out = bytes(self._decoded[:n])
        del self._decoded[:n]
        return out
