"""The cryptography of age v1 files (c2sp.org/age) for sealed drops: file keys, the two
stanza types Mailslot reads (``mlkem768x25519``, and ``X25519`` so that the age test kit's
format vectors run), the header MAC and the STREAM payload.

The text format (header lines, Bech32, armor) lives in :mod:`mailslot.drops`; this module
only turns bytes into bytes. Memory use is bounded by two chunks whatever the file size:
the sealer holds back at most one chunk of plaintext (a chunk is marked final only once no
more data follows) and the opener at most one chunk of ciphertext (for the same reason).

Unlike Mailslot's own formats, age tells some failures apart (a stanza not for this key, a
bad header MAC, a damaged payload): the format's test kit requires it, and age files are
opened by their own holders, where an oracle buys an attacker nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from mailslot.crypto import _hazmat
from mailslot.crypto.errors import DecryptionError, EncodingError
from mailslot.crypto.keys import kem_seeds
from mailslot.crypto.random import RandomSource, system_random

FILE_KEY_SIZE: Final = 16
NONCE_SIZE: Final = 16
CHUNK_SIZE: Final = 64 * 1024
TAG_SIZE: Final = 16
CHUNK_CIPHERTEXT_SIZE: Final = CHUNK_SIZE + TAG_SIZE
IDENTITY_SIZE: Final = 32
PQ_RECIPIENT_SIZE: Final = _hazmat.MLKEM768_PUBLIC_SIZE + _hazmat.X25519_SIZE
PQ_ENC_SIZE: Final = _hazmat.HPKE_ENC_SIZE
X25519_SIZE: Final = _hazmat.X25519_SIZE
WRAPPED_FILE_KEY_SIZE: Final = FILE_KEY_SIZE + TAG_SIZE
_PQ_INFO: Final = b"age-encryption.org/mlkem768x25519"
_X25519_INFO: Final = b"age-encryption.org/v1/X25519"
_MAX_CHUNKS: Final = 1 << 88  # an 11-byte counter


def new_file_key(rng: RandomSource = system_random) -> bytes:
    return rng(FILE_KEY_SIZE)


class PqPrivateKey:
    """An ``mlkem768x25519`` private key: age's 32-byte identity expanded with SHAKE256, as
    the MLKEM768-X25519 KEM (X-Wing) specifies, or a Mailslot key's expanded components."""

    __slots__ = ("_key",)

    def __init__(self, mlkem_seed: bytes, x25519_private: bytes) -> None:
        self._key = _hazmat.KemPrivateKey(mlkem_seed, x25519_private)

    def __repr__(self) -> str:
        return "PqPrivateKey(<secret>)"

    @classmethod
    def from_identity(cls, identity: bytes) -> PqPrivateKey:
        if len(identity) != IDENTITY_SIZE:
            raise EncodingError("an mlkem768x25519 identity is 32 bytes")
        expanded = _hazmat.shake256(identity, _hazmat.MLKEM768_SEED_SIZE + _hazmat.X25519_SIZE)
        return cls(expanded[: _hazmat.MLKEM768_SEED_SIZE], expanded[_hazmat.MLKEM768_SEED_SIZE :])

    @classmethod
    def from_mailslot_seed(cls, seed: bytes) -> PqPrivateKey:
        """A Mailslot key pair's private key (``KeyPair.seed``): the same KEM, but its seed
        expands with HKDF, so it has no age identity string."""
        return cls(*kem_seeds(seed))

    @property
    def public_bytes(self) -> bytes:
        """The recipient: the ML-KEM-768 encapsulation key, then the X25519 public key."""
        return self._key.public_bytes

    def unwrap(self, enc: bytes, body: bytes) -> bytes:
        """Open a stanza's file key; raises :class:`DecryptionError` if it is not for this key.

        Call :meth:`check_share` first: a low-order X25519 share makes a malformed stanza, not
        merely one for someone else.
        """
        if len(enc) != PQ_ENC_SIZE or len(body) != WRAPPED_FILE_KEY_SIZE:
            raise DecryptionError()
        file_key = self._key.age_open(enc + body, _PQ_INFO)
        if len(file_key) != FILE_KEY_SIZE:  # pragma: no cover - the body length fixes it
            raise DecryptionError()
        return file_key

    def check_share(self, enc: bytes) -> None:
        """Raise :class:`DecryptionError` if ``enc``'s X25519 half is a low-order point."""
        if len(enc) != PQ_ENC_SIZE:
            raise DecryptionError()
        self._key.check_x25519_share(enc[-X25519_SIZE:])


def pq_wrap(recipient: bytes, file_key: bytes) -> tuple[bytes, bytes]:
    """Wrap a file key to an ``mlkem768x25519`` recipient: ``(enc, body)`` for the stanza."""
    if len(file_key) != FILE_KEY_SIZE:
        raise EncodingError("age file keys are 16 bytes")
    try:
        sealed = _hazmat.age_hpke_seal(recipient, file_key, _PQ_INFO)
    except ValueError:
        raise EncodingError("not an mlkem768x25519 recipient") from None
    return sealed[:PQ_ENC_SIZE], sealed[PQ_ENC_SIZE:]


def check_pq_recipient(recipient: bytes) -> None:
    """Raise :class:`EncodingError` unless the bytes are a valid hybrid public key."""
    try:
        _hazmat.check_public_key(recipient)
    except DecryptionError:
        raise EncodingError("not an mlkem768x25519 recipient") from None


class X25519PrivateKey:
    """An age ``X25519`` identity (read-only support: Mailslot never seals to one)."""

    __slots__ = ("_identity", "public_bytes")

    def __init__(self, identity: bytes) -> None:
        if len(identity) != IDENTITY_SIZE:
            raise EncodingError("an X25519 identity is 32 bytes")
        self._identity = identity
        self.public_bytes: bytes = _hazmat.x25519_public(identity)

    def __repr__(self) -> str:
        return "X25519PrivateKey(<secret>)"

    def shared_secret(self, share: bytes) -> bytes:
        """The X25519 secret; raises :class:`DecryptionError` for a low-order share."""
        if len(share) != X25519_SIZE:
            raise DecryptionError()
        return _hazmat.x25519_exchange(self._identity, share)

    def unwrap(self, share: bytes, secret: bytes, body: bytes) -> bytes:
        if len(body) != WRAPPED_FILE_KEY_SIZE:
            raise DecryptionError()
        key = _hazmat.hkdf(secret, salt=share + self.public_bytes, info=_X25519_INFO)
        return _hazmat.ChaChaKey(key).open(bytes(12), body)


def header_mac(file_key: bytes, header: bytes) -> bytes:
    """HMAC-SHA-256 of the header up to and including ``---``, under HKDF(file key)."""
    return _hazmat.hmac_sha256(_hazmat.hkdf(file_key, salt=b"", info=b"header"), header)


def check_header_mac(file_key: bytes, header: bytes, mac: bytes) -> None:
    if not _hazmat.equal(header_mac(file_key, header), mac):
        raise DecryptionError()


def _payload_key(file_key: bytes, nonce: bytes) -> _hazmat.ChaChaKey:
    if len(file_key) != FILE_KEY_SIZE or len(nonce) != NONCE_SIZE:
        raise EncodingError("age file keys and payload nonces are 16 bytes")
    return _hazmat.ChaChaKey(_hazmat.hkdf(file_key, salt=nonce, info=b"payload"))


def _chunk_nonce(counter: int, final: bool) -> bytes:
    if counter >= _MAX_CHUNKS:
        raise EncodingError("payload too large")
    return counter.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


def _take(pending: bytearray, size: int, process: Callable[[memoryview], bytes]) -> list[bytes]:
    """Process every ``size``-byte chunk of ``pending`` that more bytes follow, then drop them
    from ``pending`` in one move."""
    out = []
    done = 0
    with memoryview(pending) as view:
        while len(pending) - done > size:
            out.append(process(view[done : done + size]))
            done += size
    del pending[:done]
    return out


class PayloadSealer:
    """Encrypts an age payload as it streams in: :meth:`nonce` first, then everything
    :meth:`update` and :meth:`finish` return, in order."""

    def __init__(self, file_key: bytes, rng: RandomSource = system_random) -> None:
        self._nonce = rng(NONCE_SIZE)
        self._key = _payload_key(file_key, self._nonce)
        self._pending = bytearray()
        self._counter = 0
        self._finished = False

    def nonce(self) -> bytes:
        return self._nonce

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        """Take more plaintext; return the chunks it completed (a full chunk is sealed only
        once more data is known to follow it, since the last chunk is marked final)."""
        if self._finished:
            raise EncodingError("sealer already finished")
        self._pending += data
        return b"".join(_take(self._pending, CHUNK_SIZE, lambda c: self._seal(c, final=False)))

    def finish(self) -> bytes:
        """The final chunk (empty only if the whole payload is)."""
        if self._finished:
            raise EncodingError("sealer already finished")
        self._finished = True
        last = self._seal(self._pending, final=True)
        self._pending = bytearray()
        return last

    def _seal(self, plaintext: bytearray | memoryview, *, final: bool) -> bytes:
        sealed = self._key.seal(_chunk_nonce(self._counter, final), plaintext)
        self._counter += 1
        return sealed


class PayloadOpener:
    """Decrypts an age payload (after its 16-byte nonce) as it streams in; raises
    :class:`DecryptionError` on a damaged chunk, on data after the final chunk, or from
    :meth:`finish` if the payload does not end with exactly one valid final chunk.

    As in age's reference implementation, a full-size chunk is opened as soon as it is
    complete: as a middle chunk, or failing that as the final one (which nothing may follow).
    Plaintext that verified is returned before an error about what follows it is raised.
    """

    def __init__(self, file_key: bytes, nonce: bytes) -> None:
        self._key = _payload_key(file_key, nonce)
        self._pending = bytearray()
        self._counter = 0
        self._last_seen = False
        self._finished = False

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        if self._finished or (self._last_seen and data):
            raise DecryptionError()  # data after the final chunk
        self._pending += data
        out = []
        done = 0
        with memoryview(self._pending) as view:
            while len(self._pending) - done >= CHUNK_CIPHERTEXT_SIZE and not self._last_seen:
                out.append(self._open_full(view[done : done + CHUNK_CIPHERTEXT_SIZE]))
                done += CHUNK_CIPHERTEXT_SIZE
        del self._pending[:done]
        return b"".join(out)

    def finish(self) -> bytes:
        if self._finished:
            raise DecryptionError()
        self._finished = True
        if self._last_seen:
            if self._pending:
                raise DecryptionError()  # data after the final chunk
            return b""
        if not self._pending:
            raise DecryptionError()  # truncated: no final chunk
        last = self._open(self._pending, final=True)
        if not last and self._counter > 1:
            raise DecryptionError()  # only an empty payload may end with an empty chunk
        self._pending = bytearray()
        return last

    def _open_full(self, ciphertext: memoryview) -> bytes:
        try:
            return self._open(ciphertext, final=False)
        except DecryptionError:
            plaintext = self._open(ciphertext, final=True)
            self._last_seen = True
            return plaintext

    def _open(self, ciphertext: bytearray | memoryview, *, final: bool) -> bytes:
        plaintext = self._key.open(_chunk_nonce(self._counter, final), ciphertext)
        self._counter += 1
        return plaintext
