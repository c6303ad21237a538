"""The text header of an age v1 file (c2sp.org/age, "Header"): reading it strictly from a
stream, and writing it.

Reading follows the ABNF of the spec and rejects everything else: a version line other than
``age-encryption.org/v1``, a stanza argument with a byte outside VCHAR, a body line longer
than 64 columns or a body that does not end with a shorter line, non-canonical base64
anywhere, a MAC line that is not ``---``, one space and 43 base64 characters. The bytes up
to and including ``---`` are kept exactly as read, for the MAC.

Bounds, so that a hostile file cannot make the reader hold much: a line is at most
:data:`MAX_LINE` bytes, a header at most :data:`MAX_HEADER` bytes with at most
:data:`MAX_STANZAS` stanzas (age itself writes one stanza per recipient, a few KiB each).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mailslot.drops.errors import HeaderInvalid

VERSION_LINE: Final = b"age-encryption.org/v1\n"
VERSION_PREFIX: Final = b"age-encryption.org/"
MAX_LINE: Final = 16 * 1024
MAX_HEADER: Final = 1024 * 1024
MAX_STANZAS: Final = 256
_COLUMNS: Final = 64
_B64: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_MAC_SIZE: Final = 32


@dataclass(frozen=True, slots=True)
class Stanza:
    """One recipient stanza: its arguments (the first names its type) and its body."""

    args: tuple[str, ...]
    body: bytes

    @property
    def type(self) -> str:
        return self.args[0]

    def encode(self) -> bytes:
        for arg in self.args:
            if not arg or any(not 0x21 <= ord(c) <= 0x7E for c in arg):
                raise HeaderInvalid("a stanza argument is one or more visible ASCII characters")
        if not self.args:
            raise HeaderInvalid("a stanza has at least one argument")
        body = b64encode(self.body)
        lines = [body[i : i + _COLUMNS] for i in range(0, len(body), _COLUMNS)]
        if not lines or len(lines[-1]) == _COLUMNS:
            lines.append(b"")
        arg_line = b"-> " + " ".join(self.args).encode("ascii")
        return b"\n".join([arg_line, *lines]) + b"\n"


@dataclass(frozen=True, slots=True)
class Header:
    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes  # the header's bytes up to and including "---"

    @property
    def size(self) -> int:
        """The header's length in bytes, through the MAC line's newline."""
        return len(self.mac_input) + 1 + len(b64encode(self.mac)) + 1


def b64encode(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def b64decode(text: bytes) -> bytes:
    """Strict, unpadded, canonical base64 (RFC 4648 sections 3.5 and 4)."""
    if not _B64.issuperset(text) or len(text) % 4 == 1:
        raise HeaderInvalid("not canonical unpadded base64")
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error:  # pragma: no cover - the alphabet and length are checked above
        raise HeaderInvalid("not canonical unpadded base64") from None
    if b64encode(data) != text:
        raise HeaderInvalid("not canonical unpadded base64")
    return data


def encode_header(stanzas: list[Stanza], mac: Callable[[bytes], bytes]) -> bytes:
    """The header's bytes; ``mac`` computes the MAC over the bytes up to ``---``."""
    if not stanzas:
        raise HeaderInvalid("a header has at least one stanza")
    mac_input = VERSION_LINE + b"".join(s.encode() for s in stanzas) + b"---"
    return mac_input + b" " + b64encode(mac(mac_input)) + b"\n"


def read_header(readline: Callable[[int], bytes]) -> Header:
    """Read a header with ``readline(limit)``, which returns one line with its newline, or
    less (no newline) at the end of the stream or at ``limit`` bytes."""
    consumed = bytearray()

    def line() -> bytes:
        text = readline(MAX_LINE)
        if not text.endswith(b"\n"):
            raise HeaderInvalid("the header ends early or has an overlong line")
        consumed.extend(text)
        if len(consumed) > MAX_HEADER:
            raise HeaderInvalid("the header is too large")
        return text[:-1]

    first = line()
    if first + b"\n" != VERSION_LINE:
        if first.startswith(VERSION_PREFIX):
            raise HeaderInvalid("unsupported age version")
        raise HeaderInvalid("not an age file")
    stanzas: list[Stanza] = []
    current = line()
    while current.startswith(b"-> "):
        if len(stanzas) == MAX_STANZAS:
            raise HeaderInvalid("too many stanzas")
        args = _arguments(current[3:])
        chunks = []
        while True:
            body_line = line()
            if len(body_line) > _COLUMNS or not _B64.issuperset(body_line):
                raise HeaderInvalid("a stanza body line is not base64 of at most 64 columns")
            chunks.append(body_line)
            if len(body_line) < _COLUMNS:
                break
        stanzas.append(Stanza(args, b64decode(b"".join(chunks))))
        current = line()
    if not stanzas:
        raise HeaderInvalid("the header has no stanza")
    if not current.startswith(b"--- "):
        raise HeaderInvalid("the header does not end with a MAC line")
    encoded = current[4:]
    mac = b64decode(encoded)
    if len(mac) != _MAC_SIZE:
        raise HeaderInvalid("the header MAC is not 32 bytes")
    mac_input = bytes(consumed[: -len(encoded) - 2])  # without " " + MAC + "\n"
    return Header(tuple(stanzas), mac, mac_input)


def _arguments(text: bytes) -> tuple[str, ...]:
    parts = text.split(b" ")
    for part in parts:
        if not part or any(not 0x21 <= b <= 0x7E for b in part):
            raise HeaderInvalid("a stanza argument is one or more visible ASCII characters")
    return tuple(p.decode("ascii") for p in parts)
