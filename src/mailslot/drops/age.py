"""Encrypting and decrypting age v1 files (c2sp.org/age) as streams.

Sealing writes one ``mlkem768x25519`` stanza per recipient (Mailslot seals to nothing
else), the header MAC, then the STREAM payload in 64 KiB chunks. Opening takes binary or
armored files, any identities (:mod:`mailslot.drops.recipients`), and releases plaintext
chunk by chunk; a payload that ends without a valid final chunk raises
:class:`PayloadDamaged` at the end, after the chunks before it were released (as age
specifies: callers that must not act on partial data wait for the end).

Memory is bounded whatever the file size: the header (at most 1 MiB), two payload chunks
and one read piece.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import BinaryIO, Final

from mailslot.crypto import age as agecrypto
from mailslot.crypto.errors import DecryptionError
from mailslot.crypto.random import RandomSource, system_random
from mailslot.drops.armor import ArmorReader
from mailslot.drops.errors import (
    HeaderInvalid,
    HeaderMacInvalid,
    NoMatchingKey,
    PayloadDamaged,
    RecipientInvalid,
)
from mailslot.drops.header import Header, encode_header, read_header
from mailslot.drops.recipients import Identity, PqRecipient

READ_SIZE: Final = 64 * 1024
MAGIC: Final = b"age-encryption.org/"
_ARMOR_START: Final = b"-----"
_WHITESPACE: Final = b" \t\r\n"


class _Source:
    """Buffered ``read``/``readline``/``peek`` over a ``read(n)`` function."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._buffer = bytearray()
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._read(READ_SIZE)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def peek(self, n: int) -> bytes:
        while len(self._buffer) < n and self._fill():
            pass
        return bytes(self._buffer[:n])

    def readline(self, limit: int) -> bytes:
        start = 0
        while True:
            end = self._buffer.find(b"\n", start, limit)
            if end >= 0:
                return self.read(end + 1)
            start = len(self._buffer)
            if start >= limit or not self._fill():
                return self.read(limit)

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n and self._fill():
            pass
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out


def _iterable_reader(chunks: Iterable[bytes]) -> Callable[[int], bytes]:
    pieces = iter(chunks)

    def read(_: int) -> bytes:
        for piece in pieces:
            if piece:
                return bytes(piece)
        return b""

    return read


def encrypt_header(recipients: Sequence[PqRecipient], file_key: bytes) -> bytes:
    if not recipients:
        raise RecipientInvalid("an age file needs at least one recipient")
    stanzas = [recipient.wrap(file_key) for recipient in recipients]
    return encode_header(stanzas, lambda data: agecrypto.header_mac(file_key, data))


class DropWriter:
    """A writable file object that encrypts to ``sink`` as it goes (for ``tarfile``'s
    streaming mode too). :meth:`close` writes the final chunk; the sink stays open."""

    def __init__(
        self,
        recipients: Sequence[PqRecipient],
        sink: BinaryIO,
        rng: RandomSource = system_random,
    ) -> None:
        file_key = agecrypto.new_file_key(rng)
        self._sink = sink
        self._sealer = agecrypto.PayloadSealer(file_key, rng)
        sink.write(encrypt_header(recipients, file_key) + self._sealer.nonce())
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.closed:
            raise ValueError("write to a closed DropWriter")
        out = self._sealer.update(data)
        if out:
            self._sink.write(out)
        return len(memoryview(data))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._sink.write(self._sealer.finish())

    def __enter__(self) -> DropWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.closed = True  # an unfinished file has no final chunk: readers reject it


def seal_stream(
    recipients: Sequence[PqRecipient],
    chunks: Iterable[bytes],
    rng: RandomSource = system_random,
) -> Iterator[bytes]:
    """The age file of ``chunks``, in pieces (the header first)."""
    file_key = agecrypto.new_file_key(rng)
    sealer = agecrypto.PayloadSealer(file_key, rng)
    yield encrypt_header(recipients, file_key) + sealer.nonce()
    for chunk in chunks:
        out = sealer.update(chunk)
        if out:
            yield out
    yield sealer.finish()


def _decoded_source(source: _Source, armored: bool | None) -> _Source:
    if armored is None:
        armored = source.peek(READ_SIZE).lstrip(_WHITESPACE).startswith(_ARMOR_START)
    if not armored:
        return source
    return _Source(ArmorReader(source.readline).read)


def _file_key(header: Header, identities: Sequence[Identity]) -> bytes:
    for identity in identities:
        for stanza in header.stanzas:
            file_key = identity.unwrap(stanza)
            if file_key is not None:
                return file_key
    raise NoMatchingKey("no identity given opens this file")


class DropReader:
    """An age file being opened: the header is read and checked when it is made (raising
    :class:`HeaderInvalid`, :class:`NoMatchingKey` or :class:`HeaderMacInvalid`); the
    payload is decrypted as it is read, with :meth:`read` (a file object for ``tarfile``'s
    streaming mode) or by iterating."""

    def __init__(
        self,
        identities: Sequence[Identity],
        read: Callable[[int], bytes],
        *,
        armored: bool | None = None,
    ) -> None:
        self._source = _decoded_source(_Source(read), armored)
        self.header = read_header(self._source.readline)
        file_key = _file_key(self.header, identities)
        try:
            agecrypto.check_header_mac(file_key, self.header.mac_input, self.header.mac)
        except DecryptionError:
            raise HeaderMacInvalid("the header was changed") from None
        nonce = self._source.read(agecrypto.NONCE_SIZE)
        if len(nonce) != agecrypto.NONCE_SIZE:
            raise HeaderInvalid("the file ends before its payload nonce")
        self._opener = agecrypto.PayloadOpener(file_key, nonce)
        self._plaintext = bytearray()
        self._done = False

    def _next_piece(self) -> bytes:
        try:
            data = self._source.read(READ_SIZE)
            if data:
                return self._opener.update(data)
            self._done = True
            return self._opener.finish()
        except DecryptionError:
            self._done = True
            raise PayloadDamaged("the payload is damaged or truncated") from None

    def __iter__(self) -> Iterator[bytes]:
        if self._plaintext:
            yield bytes(self._plaintext)
            self._plaintext.clear()
        while not self._done:
            piece = self._next_piece()
            if piece:
                yield piece

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of plaintext (all that is left for ``n < 0``); ``b""`` at the
        end, which is reached only after the final chunk verified."""
        while (n < 0 or len(self._plaintext) < n) and not self._done:
            self._plaintext += self._next_piece()
        if n < 0:
            n = len(self._plaintext)
        out = bytes(self._plaintext[:n])
        del self._plaintext[:n]
        return out


def open_file(
    identities: Sequence[Identity], source: BinaryIO, *, armored: bool | None = None
) -> DropReader:
    """Open an age file read from ``source`` (binary or armored, detected unless given)."""
    return DropReader(identities, source.read, armored=armored)


def open_stream(
    identities: Sequence[Identity], chunks: Iterable[bytes], *, armored: bool | None = None
) -> Iterator[bytes]:
    """The plaintext of the age file arriving as ``chunks``, in pieces."""
    return iter(DropReader(identities, _iterable_reader(chunks), armored=armored))


def parse_header(source: BinaryIO) -> Header:
    """Read and check an age header without any key (for recognising an upload): raises
    :class:`HeaderInvalid` for anything that is not a binary age v1 header."""
    return read_header(_Source(source.read).readline)


def looks_like_age(prefix: bytes) -> bool:
    """Whether data starting with ``prefix`` claims to be an age file (binary or armored)."""
    return prefix.startswith(MAGIC) or prefix.lstrip(_WHITESPACE).startswith(b"-----BEGIN AGE")
