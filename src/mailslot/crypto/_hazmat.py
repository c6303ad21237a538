"""The only module of Mailslot that touches cryptographic primitives.

Everything here is a thin, typed wrapper over pyca/cryptography; constructions on top
(stream format, key wraps, derivations) live in the sibling modules and are specified in
``docs/spec/format.md``. A ruff ``banned-api`` rule keeps ``cryptography.hazmat`` out of
every other module.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Final

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa, mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mailslot.crypto.errors import DecryptionError

KEY_SIZE: Final = 32
AEAD_NONCE_SIZE: Final = 12
AEAD_TAG_SIZE: Final = 16
MLKEM768_PUBLIC_SIZE: Final = 1184
MLKEM768_SEED_SIZE: Final = 64
X25519_SIZE: Final = 32
HPKE_ENC_SIZE: Final = 1088 + 32

_SUITE: Final = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
# age's mlkem768x25519 stanza (c2sp.org/age): the same KEM, with ChaCha20-Poly1305.
_AGE_SUITE: Final = hpke.Suite(
    hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305
)


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a, b)


def hkdf(ikm: bytes, *, info: bytes, salt: bytes | None = None, length: int = KEY_SIZE) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def argon2id(
    secret: bytes, *, salt: bytes, memory_kib: int, iterations: int, lanes: int, length: int
) -> bytes:
    return Argon2id(
        salt=salt, length=length, iterations=iterations, lanes=lanes, memory_cost=memory_kib
    ).derive(secret)


def aead_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM; the 16-byte tag is appended."""
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError):
        raise DecryptionError() from None


class AeadKey:
    """An AES-256-GCM key bound once, for the many chunks of one stream."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, nonce: bytes, plaintext: bytes | bytearray | memoryview, aad: bytes) -> bytes:
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, ciphertext: bytes | bytearray | memoryview, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except (InvalidTag, ValueError):
            raise DecryptionError() from None


class KemPrivateKey:
    """A hybrid ML-KEM-768 + X25519 private key, built from its two component seeds."""

    __slots__ = ("_key", "_x25519", "public_bytes")

    def __init__(self, mlkem_seed: bytes, x25519_private: bytes) -> None:
        mk = mlkem.MLKEM768PrivateKey.from_seed_bytes(mlkem_seed)
        xk = x25519.X25519PrivateKey.from_private_bytes(x25519_private)
        self._key = hpke.MLKEM768X25519PrivateKey(mk, xk)
        self._x25519 = xk
        self.public_bytes: bytes = (
            mk.public_key().public_bytes_raw() + xk.public_key().public_bytes_raw()
        )

    def hpke_open(self, ciphertext: bytes, info: bytes) -> bytes:
        try:
            return _SUITE.decrypt(ciphertext, self._key, info=info)
        except Exception:
            raise DecryptionError() from None

    def age_open(self, ciphertext: bytes, info: bytes) -> bytes:
        """HPKE base mode with age's suite (ChaCha20-Poly1305): ``enc || ciphertext``."""
        try:
            return _AGE_SUITE.decrypt(ciphertext, self._key, info=info)
        except Exception:
            raise DecryptionError() from None

    def check_x25519_share(self, share: bytes) -> None:
        """Raise :class:`DecryptionError` if the X25519 half of an ``enc`` gives the all-zero
        shared secret (a low-order point): age rejects such a stanza as malformed."""
        x25519_exchange(self._x25519.private_bytes_raw(), share)


def hpke_seal(public_bytes: bytes, plaintext: bytes, info: bytes) -> bytes:
    """HPKE base mode, single shot: returns ``enc || ciphertext``."""
    if len(public_bytes) != MLKEM768_PUBLIC_SIZE + X25519_SIZE:
        raise ValueError("bad public key length")
    mk = mlkem.MLKEM768PublicKey.from_public_bytes(public_bytes[:MLKEM768_PUBLIC_SIZE])
    xk = x25519.X25519PublicKey.from_public_bytes(public_bytes[MLKEM768_PUBLIC_SIZE:])
    return _SUITE.encrypt(plaintext, hpke.MLKEM768X25519PublicKey(mk, xk), info=info)


def check_public_key(public_bytes: bytes) -> None:
    """Raise :class:`DecryptionError` unless the bytes parse as a hybrid public key."""
    if len(public_bytes) != MLKEM768_PUBLIC_SIZE + X25519_SIZE:
        raise DecryptionError()
    try:
        mlkem.MLKEM768PublicKey.from_public_bytes(public_bytes[:MLKEM768_PUBLIC_SIZE])
        x25519.X25519PublicKey.from_public_bytes(public_bytes[MLKEM768_PUBLIC_SIZE:])
    except ValueError:
        raise DecryptionError() from None


def x25519_key_pair() -> tuple[bytes, bytes]:
    """A fresh X25519 key pair as raw (private, public) bytes (Tor client authorisation)."""
    private = x25519.X25519PrivateKey.generate()
    return (
        private.private_bytes_raw(),
        private.public_key().public_bytes_raw(),
    )


# --- Sealed drops: age (c2sp.org/age) and signed key manifests (docs/spec/sealed-drops.md) ---

ED25519_SIGNATURE_SIZE: Final = 64
MLDSA65_PUBLIC_SIZE: Final = 1952
MLDSA65_SIGNATURE_SIZE: Final = 3309


def shake256(data: bytes, length: int) -> bytes:
    return hashlib.shake_256(data).digest(length)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def age_hpke_seal(public_bytes: bytes, plaintext: bytes, info: bytes) -> bytes:
    """HPKE base mode with age's suite, single shot: returns ``enc || ciphertext``."""
    if len(public_bytes) != MLKEM768_PUBLIC_SIZE + X25519_SIZE:
        raise ValueError("bad public key length")
    mk = mlkem.MLKEM768PublicKey.from_public_bytes(public_bytes[:MLKEM768_PUBLIC_SIZE])
    xk = x25519.X25519PublicKey.from_public_bytes(public_bytes[MLKEM768_PUBLIC_SIZE:])
    return _AGE_SUITE.encrypt(plaintext, hpke.MLKEM768X25519PublicKey(mk, xk), info=info)


def x25519_public(private: bytes) -> bytes:
    return x25519.X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def x25519_exchange(private: bytes, public: bytes) -> bytes:
    """X25519; raises :class:`DecryptionError` for a low-order point (all-zero secret)."""
    try:
        key = x25519.X25519PrivateKey.from_private_bytes(private)
        secret = key.exchange(x25519.X25519PublicKey.from_public_bytes(public))
    except ValueError:
        raise DecryptionError() from None
    if secret == bytes(len(secret)):  # pragma: no cover - the library refuses these first
        raise DecryptionError()
    return secret


class ChaChaKey:
    """A ChaCha20-Poly1305 key bound once, for the many chunks of one age payload."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)

    def seal(self, nonce: bytes, plaintext: bytes | bytearray | memoryview) -> bytes:
        return self._aead.encrypt(nonce, plaintext, None)

    def open(self, nonce: bytes, ciphertext: bytes | bytearray | memoryview) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, None)
        except (InvalidTag, ValueError):
            raise DecryptionError() from None


def ed25519_public(seed: bytes) -> bytes:
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_verify(public: bytes, signature: bytes, message: bytes) -> None:
    """Raise :class:`DecryptionError` unless the signature verifies."""
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise DecryptionError() from None


def mldsa65_public(seed: bytes) -> bytes:
    return mldsa.MLDSA65PrivateKey.from_seed_bytes(seed).public_key().public_bytes_raw()


def mldsa65_sign(seed: bytes, message: bytes, context: bytes) -> bytes:
    return mldsa.MLDSA65PrivateKey.from_seed_bytes(seed).sign(message, context)


def mldsa65_verify(public: bytes, signature: bytes, message: bytes, context: bytes) -> None:
    """Raise :class:`DecryptionError` unless the signature verifies."""
    try:
        mldsa.MLDSA65PublicKey.from_public_bytes(public).verify(signature, message, context)
    except (InvalidSignature, ValueError):
        raise DecryptionError() from None
