"""The chunked, padded item format (``MSLI``) and sealed item metadata (``MSLM``).

Specified byte for byte in ``docs/spec/format.md``. Memory use is bounded by two chunks
whatever the item size: the sealer holds back at most one chunk of data (it cannot mark a
chunk final before it knows no more data follows) and the opener at most one chunk of
ciphertext (for the same reason).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator, Mapping
from typing import Final, TypeAlias, cast

from mailslot.crypto import _hazmat
from mailslot.crypto.errors import DecryptionError, EncodingError
from mailslot.crypto.random import RandomSource, system_random

ITEM_MAGIC: Final = b"MSLI\x01"
META_MAGIC: Final = b"MSLM\x01"
ITEM_ID_SIZE: Final = 16
SALT_SIZE: Final = 16
HEADER_SIZE: Final = len(ITEM_MAGIC) + ITEM_ID_SIZE + SALT_SIZE
CHUNK_PLAINTEXT_SIZE: Final = 64 * 1024
CHUNK_DATA_CAPACITY: Final = CHUNK_PLAINTEXT_SIZE - 4
CHUNK_CIPHERTEXT_SIZE: Final = CHUNK_PLAINTEXT_SIZE + _hazmat.AEAD_TAG_SIZE
MIN_FINAL_CHUNK_SIZE: Final = 4 + _hazmat.AEAD_TAG_SIZE
MIN_PADDED_LENGTH: Final = 1024
META_BLOCK: Final = 256
MAX_META_SIZE: Final = 64 * 1024
# 11-byte counter in the nonce; one more than this and the nonce would wrap.
_MAX_CHUNKS: Final = 1 << 88
_ZERO_CHUNK: Final = bytes(CHUNK_PLAINTEXT_SIZE)

# What the standard library's JSON decoder makes: the values sealed metadata can hold.
JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"


def padded_length(length: int) -> int:
    """Padmé (Nikitin et al., PETS 2019) over a 1 KiB floor: leaks O(log log n) bits of size."""
    n = max(length, MIN_PADDED_LENGTH)
    e = n.bit_length() - 1
    s = e.bit_length()
    last_bits = e - s
    mask = (1 << last_bits) - 1
    return (n + mask) & ~mask


def sealed_size(length: int) -> int:
    """The exact number of bytes :class:`ItemSealer` writes for ``length`` bytes of data."""
    content = padded_length(length)
    chunks = max(1, -(-content // CHUNK_DATA_CAPACITY))
    return HEADER_SIZE + content + chunks * (4 + _hazmat.AEAD_TAG_SIZE)


def _nonce(counter: int, final: bool) -> bytes:
    if counter >= _MAX_CHUNKS:
        raise EncodingError("item too large")
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _payload_key(data_key: bytes, salt: bytes) -> _hazmat.AeadKey:
    if len(data_key) != _hazmat.KEY_SIZE:
        raise EncodingError("data keys are 32 bytes")
    return _hazmat.AeadKey(_hazmat.hkdf(data_key, salt=salt, info=b"mailslot/v1/item/payload"))


def _check_item_id(item_id: bytes) -> None:
    if len(item_id) != ITEM_ID_SIZE:
        raise EncodingError("item ids are 16 bytes")


class ItemSealer:
    """Encrypts one item as it streams in. Call :meth:`header`, then :meth:`update`, then
    :meth:`finish`; concatenate everything returned, in order."""

    def __init__(self, item_id: bytes, data_key: bytes, rng: RandomSource = system_random) -> None:
        _check_item_id(item_id)
        self._header = ITEM_MAGIC + item_id + rng(SALT_SIZE)
        self._key = _payload_key(data_key, self._header[-SALT_SIZE:])
        # The next chunk's plaintext, built in place: u32(len) || data || zeros. Data waits
        # here (``_fill`` bytes) and is sealed once more data is known to follow it.
        self._plaintext = bytearray(CHUNK_PLAINTEXT_SIZE)
        self._fill = 0
        self._counter = 0
        self._length = 0
        self._finished = False

    @property
    def length(self) -> int:
        """Plaintext bytes accepted so far."""
        return self._length

    def header(self) -> bytes:
        return self._header

    def _seal_plaintext(self, size: int, final: bool, content: int) -> bytes:
        """Seal the chunk whose ``size`` data bytes are already in ``_plaintext[4:]``."""
        plaintext = self._plaintext
        struct.pack_into(">I", plaintext, 0, size)
        if content > size:
            plaintext[4 + size : 4 + content] = _ZERO_CHUNK[: content - size]
        ciphertext = self._key.seal(
            _nonce(self._counter, final), memoryview(plaintext)[: 4 + content], self._header
        )
        self._counter += 1
        return ciphertext

    def _chunk(self, data: bytes | bytearray | memoryview, final: bool, content: int) -> bytes:
        self._plaintext[4 : 4 + len(data)] = data
        return self._seal_plaintext(len(data), final, content)

    def update_chunks(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Take more plaintext; return the chunks it completed, in order (often none).

        Each byte is copied once, into the chunk being built, and sealed from there.
        """
        if self._finished:
            raise EncodingError("sealer already finished")
        view = memoryview(data).cast("B")
        self._length += len(view)
        plaintext = self._plaintext
        out: list[bytes] = []
        fill = self._fill
        while view:
            if fill == CHUNK_DATA_CAPACITY:  # full, and more data follows: seal it
                out.append(self._seal_plaintext(fill, False, fill))
                fill = 0
            take = min(CHUNK_DATA_CAPACITY - fill, len(view))
            plaintext[4 + fill : 4 + fill + take] = view[:take]
            fill += take
            view = view[take:]
        self._fill = fill
        return out

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        """As :meth:`update_chunks`, the chunks joined."""
        out = self.update_chunks(data)
        return out[0] if len(out) == 1 else b"".join(out)

    def finish(self) -> Iterator[bytes]:
        """Return the remaining chunks: the tail of the data, then padding, the last one final.

        The sealer is finished at once; the chunks are made as the iterator is consumed, so
        that padding (up to an eighth of the item) is never held in memory.
        """
        if self._finished:
            raise EncodingError("sealer already finished")
        self._finished = True
        written = self._length - self._fill
        remaining = padded_length(self._length) - written
        data = bytes(self._plaintext[4 : 4 + self._fill])
        self._fill = 0
        return self._tail(data, remaining)

    def _tail(self, data: bytes, remaining: int) -> Iterator[bytes]:
        while True:
            content = min(remaining, CHUNK_DATA_CAPACITY)
            final = content == remaining
            yield self._chunk(data[:content], final, content)
            data = data[content:]
            remaining -= content
            if final:
                return


class ItemOpener:
    """Decrypts one item as its ciphertext streams in; raises :class:`DecryptionError` on any
    deviation from the format, including truncation (reported by :meth:`finish`)."""

    def __init__(self, item_id: bytes, data_key: bytes) -> None:
        _check_item_id(item_id)
        self._item_id = item_id
        self._data_key = data_key
        self._key: _hazmat.AeadKey | None = None
        self._header = b""
        self._buffer = bytearray()
        self._counter = 0
        self._length = 0
        self._content = 0
        self._padding_started = False
        self._finished = False

    @property
    def length(self) -> int:
        return self._length

    def _open(self, ciphertext: bytes | bytearray | memoryview, final: bool) -> memoryview:
        assert self._key is not None  # noqa: S101 - set once the header is parsed
        plaintext = memoryview(
            self._key.open(_nonce(self._counter, final), ciphertext, self._header)
        )
        self._counter += 1
        if not final and len(plaintext) != CHUNK_PLAINTEXT_SIZE:
            raise DecryptionError()
        data_len = int.from_bytes(plaintext[:4], "big")
        content = len(plaintext) - 4
        if data_len > content or (self._padding_started and data_len != 0):
            raise DecryptionError()
        if plaintext[4 + data_len :] != _ZERO_CHUNK[: content - data_len]:
            raise DecryptionError()
        if data_len < content:
            self._padding_started = True
        self._length += data_len
        self._content += content
        return plaintext[4 : 4 + data_len]

    def update(self, ciphertext: bytes | bytearray | memoryview) -> bytes:
        if self._finished:
            raise DecryptionError()
        view = memoryview(ciphertext).cast("B")
        buffer = self._buffer
        if self._key is None:
            buffer += view
            if len(buffer) < HEADER_SIZE:
                return b""
            header = bytes(buffer[:HEADER_SIZE])
            if not header.startswith(ITEM_MAGIC) or not _hazmat.equal(
                header[len(ITEM_MAGIC) : len(ITEM_MAGIC) + ITEM_ID_SIZE], self._item_id
            ):
                raise DecryptionError()
            self._header = header
            self._key = _payload_key(self._data_key, header[-SALT_SIZE:])
            view = memoryview(bytes(buffer[HEADER_SIZE:]))
            buffer.clear()
        out: list[memoryview] = []
        # A full chunk is opened as non-final only once more data is known to follow it.
        if buffer:
            take = min(CHUNK_CIPHERTEXT_SIZE - len(buffer), len(view))
            buffer += view[:take]
            view = view[take:]
            if not view:
                return b""
            out.append(self._open(buffer, final=False))
            buffer.clear()
        while len(view) > CHUNK_CIPHERTEXT_SIZE:
            out.append(self._open(view[:CHUNK_CIPHERTEXT_SIZE], final=False))
            view = view[CHUNK_CIPHERTEXT_SIZE:]
        buffer += view
        return b"".join(out)

    def finish(self) -> bytes:
        if self._finished:
            raise DecryptionError()
        self._finished = True
        if self._key is None or len(self._buffer) < MIN_FINAL_CHUNK_SIZE:
            raise DecryptionError()
        tail = bytes(self._open(self._buffer, final=True))
        self._buffer.clear()
        if self._content != padded_length(self._length):
            raise DecryptionError()
        return tail


def seal_item(
    item_id: bytes, data_key: bytes, data: bytes, rng: RandomSource = system_random
) -> bytes:
    sealer = ItemSealer(item_id, data_key, rng)
    return sealer.header() + sealer.update(data) + b"".join(sealer.finish())


def open_item(item_id: bytes, data_key: bytes, ciphertext: bytes) -> bytes:
    opener = ItemOpener(item_id, data_key)
    return opener.update(ciphertext) + opener.finish()


def open_item_stream(
    item_id: bytes, data_key: bytes, ciphertext: Iterable[bytes]
) -> Iterator[bytes]:
    """Yield plaintext as ciphertext arrives; the last step raises if the item is incomplete."""
    opener = ItemOpener(item_id, data_key)
    for piece in ciphertext:
        plaintext = opener.update(piece)
        if plaintext:
            yield plaintext
    tail = opener.finish()
    if tail:
        yield tail


def _meta_key(data_key: bytes, item_id: bytes) -> bytes:
    _check_item_id(item_id)
    return _hazmat.hkdf(data_key, salt=item_id, info=b"mailslot/v1/item/meta")


def seal_meta(
    item_id: bytes, data_key: bytes, meta: Mapping[str, object], rng: RandomSource = system_random
) -> bytes:
    """Encrypt an item's metadata, a JSON object, padded to 256-byte blocks.

    Which keys it holds is the caller's choice (Mailslot's: :mod:`mailslot.cases.meta`).
    """
    try:
        text = json.dumps(meta, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        raise EncodingError("metadata must be a JSON object") from None
    encoded = text.encode()
    if len(encoded) > MAX_META_SIZE - 4:
        raise EncodingError("metadata too large")
    body = struct.pack(">I", len(encoded)) + encoded
    body += bytes(-len(body) % META_BLOCK)
    nonce = rng(_hazmat.AEAD_NONCE_SIZE)
    key = _meta_key(data_key, item_id)
    return META_MAGIC + nonce + _hazmat.aead_seal(key, nonce, body, META_MAGIC + item_id)


def open_meta(item_id: bytes, data_key: bytes, sealed: bytes) -> dict[str, JsonValue]:
    """Open sealed metadata: the JSON object, with whatever keys and values it holds."""
    prefix = len(META_MAGIC) + _hazmat.AEAD_NONCE_SIZE
    if not sealed.startswith(META_MAGIC) or len(sealed) > prefix + MAX_META_SIZE + 16:
        raise DecryptionError()
    nonce = sealed[len(META_MAGIC) : prefix]
    body = _hazmat.aead_open(
        _meta_key(data_key, item_id), nonce, sealed[prefix:], META_MAGIC + item_id
    )
    if len(body) < 4 or len(body) % META_BLOCK:
        raise DecryptionError()
    size = int.from_bytes(body[:4], "big")
    if size > len(body) - 4 or any(body[4 + size :]):
        raise DecryptionError()
    return _json_object(body[4 : 4 + size])


def _json_object(encoded: bytes) -> dict[str, JsonValue]:
    try:
        decoded: object = json.loads(encoded.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DecryptionError() from None
    if not isinstance(decoded, dict):
        raise DecryptionError()
    # The standard decoder makes nothing but JSON values, and an object's keys are strings.
    return cast("dict[str, JsonValue]", decoded)
