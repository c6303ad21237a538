"""Hybrid key pairs, HPKE key wraps and symmetric secret wraps (spec: docs/spec/format.md)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from mailslot.crypto import _hazmat
from mailslot.crypto.errors import DecryptionError, EncodingError
from mailslot.crypto.random import RandomSource, system_random

PUBLIC_KEY_MAGIC: Final = b"MSLK\x01"
WRAP_MAGIC: Final = b"MSLW\x01"
SECRET_WRAP_MAGIC: Final = b"MSLP\x01"
SEED_SIZE: Final = 32
PUBLIC_KEY_SIZE: Final = len(PUBLIC_KEY_MAGIC) + _hazmat.MLKEM768_PUBLIC_SIZE + _hazmat.X25519_SIZE
# HPKE enc + AEAD tag; the wrapped payloads are fixed at 32 bytes.
WRAP_SIZE: Final = len(WRAP_MAGIC) + _hazmat.HPKE_ENC_SIZE + SEED_SIZE + _hazmat.AEAD_TAG_SIZE
SECRET_WRAP_SIZE: Final = (
    len(SECRET_WRAP_MAGIC) + _hazmat.AEAD_NONCE_SIZE + SEED_SIZE + _hazmat.AEAD_TAG_SIZE
)


class WrapPurpose:
    """The ``purpose`` labels bound into every wrap, so a wrap can't be replayed elsewhere."""

    CASE_KEY: Final = b"case-key"
    ITEM_KEY: Final = b"item-key"
    DROP_KEY: Final = b"drop-key"  # a channel's drop key identity, to a recipient
    IDENTITY_KEY: Final = b"identity-key"  # a source's identity key pair, to a custodian


def case_key_context(case_id: bytes, version: int) -> bytes:
    """The context id of a case key wrap: the case id for the first version (0), the case
    id and the version (u32, big-endian) for each key made by a rotation after a revocation,
    so that no wrap of one version can pass for another's."""
    if not 0 <= version <= 0xFFFFFFFF:
        raise EncodingError("case key versions are u32")
    return case_id if version == 0 else case_id + struct.pack(">I", version)


def _context(label: bytes, context_id: bytes) -> bytes:
    if b"/" in label or len(context_id) > 0xFFFF:
        raise EncodingError("wrap purposes have no '/' and context ids are at most 65535 bytes")
    return b"mailslot/v1/wrap/" + label + b"/" + struct.pack(">H", len(context_id)) + context_id


@dataclass(frozen=True, slots=True, repr=False)
class KeyPair:
    """A hybrid ML-KEM-768 + X25519 key pair derived from a 32-byte seed.

    Only the seed is ever stored (wrapped); the expanded key is rebuilt when needed.
    """

    seed: bytes
    public_key: bytes

    def __repr__(self) -> str:
        return "KeyPair(<secret>)"

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        return cls(seed=seed, public_key=_private_key(seed)[1])

    @classmethod
    def generate(cls, rng: RandomSource = system_random) -> KeyPair:
        return cls.from_seed(rng(SEED_SIZE))

    def unwrap(self, wrapped: bytes, purpose: bytes, context_id: bytes) -> bytes:
        """Open a wrap made by :func:`wrap_key`; raises :class:`DecryptionError`."""
        if len(wrapped) != WRAP_SIZE or not wrapped.startswith(WRAP_MAGIC):
            raise DecryptionError()
        try:
            info = _context(purpose, context_id)
        except EncodingError:
            raise DecryptionError() from None  # every failure to open is the one error
        key, _ = _private_key(self.seed)
        secret = key.hpke_open(wrapped[len(WRAP_MAGIC) :], info)
        if len(secret) != SEED_SIZE:
            raise DecryptionError()
        return secret


def kem_seeds(seed: bytes) -> tuple[bytes, bytes]:
    """The ML-KEM-768 seed and the X25519 private key that a key seed expands to."""
    if len(seed) != SEED_SIZE:
        raise EncodingError("a key seed is 32 bytes")
    return (
        _hazmat.hkdf(seed, info=b"mailslot/v1/kem/mlkem768", length=_hazmat.MLKEM768_SEED_SIZE),
        _hazmat.hkdf(seed, info=b"mailslot/v1/kem/x25519", length=_hazmat.X25519_SIZE),
    )


def _private_key(seed: bytes) -> tuple[_hazmat.KemPrivateKey, bytes]:
    key = _hazmat.KemPrivateKey(*kem_seeds(seed))
    return key, PUBLIC_KEY_MAGIC + key.public_bytes


def check_public_key(public_key: bytes) -> None:
    """Raise :class:`DecryptionError` if ``public_key`` is not an encoded hybrid key."""
    if len(public_key) != PUBLIC_KEY_SIZE or not public_key.startswith(PUBLIC_KEY_MAGIC):
        raise DecryptionError()
    _hazmat.check_public_key(public_key[len(PUBLIC_KEY_MAGIC) :])


def wrap_key(public_key: bytes, secret: bytes, purpose: bytes, context_id: bytes) -> bytes:
    """Encrypt a 32-byte secret to a hybrid public key with HPKE (RFC 9180, base mode)."""
    if len(secret) != SEED_SIZE:
        raise EncodingError("only 32-byte secrets are wrapped")
    check_public_key(public_key)
    return WRAP_MAGIC + _hazmat.hpke_seal(
        public_key[len(PUBLIC_KEY_MAGIC) :], secret, _context(purpose, context_id)
    )


def seal_secret(
    kek: bytes, secret: bytes, context: bytes, rng: RandomSource = system_random
) -> bytes:
    """Wrap a 32-byte secret under a symmetric key-encryption key (AES-256-GCM)."""
    if len(secret) != SEED_SIZE or len(kek) != _hazmat.KEY_SIZE:
        raise EncodingError("secret wraps take 32-byte keys and secrets")
    nonce = rng(_hazmat.AEAD_NONCE_SIZE)
    aad = SECRET_WRAP_MAGIC + context
    return SECRET_WRAP_MAGIC + nonce + _hazmat.aead_seal(kek, nonce, secret, aad)


def open_secret(kek: bytes, wrapped: bytes, context: bytes) -> bytes:
    if len(wrapped) != SECRET_WRAP_SIZE or not wrapped.startswith(SECRET_WRAP_MAGIC):
        raise DecryptionError()
    body = wrapped[len(SECRET_WRAP_MAGIC) :]
    nonce, ciphertext = body[: _hazmat.AEAD_NONCE_SIZE], body[_hazmat.AEAD_NONCE_SIZE :]
    return _hazmat.aead_open(kek, nonce, ciphertext, SECRET_WRAP_MAGIC + context)
