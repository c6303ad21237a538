"""Argon2id derivations: staff passwords, source codenames, recovery keys and session secrets."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from mailslot.crypto import _hazmat
from mailslot.crypto.errors import DecryptionError, EncodingError
from mailslot.crypto.keys import KeyPair
from mailslot.crypto.random import RandomSource, system_random

SALT_SIZE: Final = 16
SESSION_MAGIC: Final = b"MSLS\x01"
MAX_SECRET_BYTES: Final = 1024
_PARAMS_RE: Final = re.compile(r"argon2id\$m=([1-9][0-9]{0,6}),t=([1-9][0-9]?),p=([1-9][0-9]?)")


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost. Bounded so that a stored or configured value cannot exhaust the server."""

    memory_kib: int
    iterations: int
    lanes: int = 1

    def __post_init__(self) -> None:
        if not (8 * self.lanes <= self.memory_kib <= 1024 * 1024):
            raise EncodingError("Argon2id memory must be between 8 KiB per lane and 1 GiB")
        if not (1 <= self.iterations <= 16 and 1 <= self.lanes <= 8):
            raise EncodingError("Argon2id iterations must be 1-16 and lanes 1-8")

    def encode(self) -> str:
        return f"argon2id$m={self.memory_kib},t={self.iterations},p={self.lanes}"

    @classmethod
    def decode(cls, text: str) -> KdfParams:
        match = _PARAMS_RE.fullmatch(text)
        if match is None:
            raise DecryptionError()
        try:
            return cls(int(match[1]), int(match[2]), int(match[3]))
        except EncodingError:
            raise DecryptionError() from None


# 64 MiB, 3 passes: about 0.15 s on one core of the reference machine (docs/performance.md).
DEFAULT_KDF: Final = KdfParams(memory_kib=64 * 1024, iterations=3, lanes=1)
# For tests only: the same code paths at a fraction of the cost.
TEST_KDF: Final = KdfParams(memory_kib=64, iterations=1, lanes=1)


def _argon2(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    if len(secret) > MAX_SECRET_BYTES:
        raise EncodingError("secret too long")
    if len(salt) != SALT_SIZE:
        raise EncodingError("salts are 16 bytes")
    return _hazmat.argon2id(
        secret,
        salt=salt,
        memory_kib=params.memory_kib,
        iterations=params.iterations,
        lanes=params.lanes,
        length=32,
    )


def new_salt(rng: RandomSource = system_random) -> bytes:
    return rng(SALT_SIZE)


def new_secret(rng: RandomSource = system_random) -> bytes:
    """A fresh 32-byte key: data keys, case key seeds, session and recovery secrets."""
    return rng(32)


@dataclass(frozen=True, slots=True, repr=False)
class PasswordKeys:
    verifier: bytes
    kek: bytes


def derive_password_keys(password: str, salt: bytes, params: KdfParams) -> PasswordKeys:
    """One Argon2id run gives both the stored verifier and the key that wraps the private key."""
    root = _argon2(unicodedata.normalize("NFC", password).encode(), salt, params)
    return PasswordKeys(
        verifier=_hazmat.hkdf(root, info=b"mailslot/v1/password/verifier"),
        kek=_hazmat.hkdf(root, info=b"mailslot/v1/password/kek"),
    )


def verify(expected: bytes, actual: bytes) -> None:
    """Constant-time check; raises :class:`DecryptionError` on mismatch."""
    if not _hazmat.equal(expected, actual):
        raise DecryptionError()


def normalize_codename(codename: str) -> str:
    # NFKC again after lower(): lower-casing can leave a decomposed pair NFKC would compose.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", codename).lower())
    return " ".join(folded.split())


@dataclass(frozen=True, slots=True, repr=False)
class SourceKeys:
    lookup: bytes
    key_pair: KeyPair


def derive_source_keys(codename: str, instance_salt: bytes, params: KdfParams) -> SourceKeys:
    """Stretch a codename into the source's lookup tag and key pair (nothing else is kept)."""
    root = _argon2(normalize_codename(codename).encode(), instance_salt, params)
    return SourceKeys(
        lookup=_hazmat.hkdf(root, info=b"mailslot/v1/source/lookup"),
        key_pair=KeyPair.from_seed(_hazmat.hkdf(root, info=b"mailslot/v1/source/seed")),
    )


def recovery_kek(recovery_secret: bytes, user_id: bytes) -> bytes:
    """Recovery secrets are 256 random bits, so HKDF suffices (no stretching needed)."""
    if len(recovery_secret) != 32:
        raise DecryptionError()
    return _hazmat.hkdf(recovery_secret, salt=user_id, info=b"mailslot/v1/recovery/kek")


def digest(label: bytes, data: bytes) -> bytes:
    """SHA-256 with a domain label: for one-time tokens that are random, not guessable."""
    if b"\x00" in label:
        raise EncodingError("digest labels cannot contain NUL (it ends the label)")
    return _hazmat.sha256(b"mailslot/v1/" + label + b"\x00" + data)


def content_sha256(data: bytes) -> str:
    """The plain SHA-256 of public data (a questionnaire definition, say), in hex, as anyone's
    ``sha256sum`` computes it; never of a source's content (use :func:`content_digest`)."""
    return _hazmat.sha256(data).hex()


def content_digest(item_key: bytes, data: bytes) -> str:
    """A file's fingerprint that only holders of its item key can compute, in hex:
    HMAC-SHA-256, under a key derived from the item's data key, of the file's SHA-256.

    The audit trail names sanitised copies by it, so that a recipient of the case can tell
    which copy surfaced, while someone holding only the database cannot confirm that a
    document they have was received (a plain hash would let them)."""
    key = _hazmat.hkdf(item_key, info=b"mailslot/v1/content-digest")
    return _hazmat.hmac_sha256(key, _hazmat.sha256(data)).hex()


@dataclass(frozen=True, slots=True, repr=False)
class SessionKeys:
    session_id: str
    key: bytes


def session_keys(token: bytes) -> SessionKeys:
    """The server stores ``session_id``; ``key`` encrypts the session data and is never stored."""
    return SessionKeys(
        session_id=_hazmat.hkdf(token, info=b"mailslot/v1/session/id").hex(),
        key=_hazmat.hkdf(token, info=b"mailslot/v1/session/key"),
    )


def seal_session(keys: SessionKeys, data: bytes, rng: RandomSource = system_random) -> bytes:
    nonce = rng(_hazmat.AEAD_NONCE_SIZE)
    aad = SESSION_MAGIC + keys.session_id.encode()
    return SESSION_MAGIC + nonce + _hazmat.aead_seal(keys.key, nonce, data, aad)


def open_session(keys: SessionKeys, sealed: bytes) -> bytes:
    prefix = len(SESSION_MAGIC) + _hazmat.AEAD_NONCE_SIZE
    if not sealed.startswith(SESSION_MAGIC) or len(sealed) < prefix + _hazmat.AEAD_TAG_SIZE:
        raise DecryptionError()
    aad = SESSION_MAGIC + keys.session_id.encode()
    return _hazmat.aead_open(keys.key, sealed[len(SESSION_MAGIC) : prefix], sealed[prefix:], aad)
