"""An organisation's signing key: Ed25519 and ML-DSA-65 together, each signature made by
both, and valid only if both verify (so it holds while either scheme does).

One 32-byte seed is stored; HKDF gives each scheme its own seed. The public key's
fingerprint hashes both public keys with a label, so a fingerprint names the pair.
Used for the key manifests of sealed drops (``docs/spec/sealed-drops.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mailslot.crypto import _hazmat
from mailslot.crypto.errors import BadSignature, DecryptionError, EncodingError
from mailslot.crypto.random import RandomSource, system_random

SEED_SIZE: Final = 32
ED25519_PUBLIC_SIZE: Final = 32
ED25519_SIGNATURE_SIZE: Final = _hazmat.ED25519_SIGNATURE_SIZE
MLDSA65_PUBLIC_SIZE: Final = _hazmat.MLDSA65_PUBLIC_SIZE
MLDSA65_SIGNATURE_SIZE: Final = _hazmat.MLDSA65_SIGNATURE_SIZE
FINGERPRINT_SIZE: Final = 20
_FINGERPRINT_LABEL: Final = b"mailslot/v1/signing-key-fingerprint\x00"


def _prefixed(context: bytes, message: bytes) -> bytes:
    if not context or len(context) > 255:
        raise EncodingError("a signing context is 1 to 255 bytes")
    return bytes([len(context)]) + context + message


@dataclass(frozen=True, slots=True)
class SigningPublicKey:
    ed25519: bytes
    ml_dsa_65: bytes

    def __post_init__(self) -> None:
        if len(self.ed25519) != ED25519_PUBLIC_SIZE or len(self.ml_dsa_65) != MLDSA65_PUBLIC_SIZE:
            raise EncodingError("bad signing public key length")

    def fingerprint(self) -> bytes:
        """The first 160 bits of SHA-256 over a label and both public keys."""
        return _hazmat.sha256(_FINGERPRINT_LABEL + self.ed25519 + self.ml_dsa_65)[:FINGERPRINT_SIZE]

    def verify(self, signature: Signature, message: bytes, context: bytes) -> None:
        """Raise :class:`BadSignature` unless both signatures verify over ``message``."""
        try:
            _hazmat.ed25519_verify(self.ed25519, signature.ed25519, _prefixed(context, message))
            _hazmat.mldsa65_verify(self.ml_dsa_65, signature.ml_dsa_65, message, context)
        except DecryptionError:
            raise BadSignature() from None


@dataclass(frozen=True, slots=True)
class Signature:
    ed25519: bytes
    ml_dsa_65: bytes

    def __post_init__(self) -> None:
        sizes = (len(self.ed25519), len(self.ml_dsa_65))
        if sizes != (ED25519_SIGNATURE_SIZE, MLDSA65_SIGNATURE_SIZE):
            raise EncodingError("bad signature length")


@dataclass(frozen=True, slots=True, repr=False)
class SigningKey:
    """The private signing key, rebuilt from its seed (which is all that is ever stored)."""

    seed: bytes

    def __repr__(self) -> str:
        return "SigningKey(<secret>)"

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_SIZE:
            raise EncodingError("a signing key seed is 32 bytes")

    @classmethod
    def generate(cls, rng: RandomSource = system_random) -> SigningKey:
        return cls(rng(SEED_SIZE))

    def _ed25519_seed(self) -> bytes:
        return _hazmat.hkdf(self.seed, info=b"mailslot/v1/signing/ed25519")

    def _mldsa_seed(self) -> bytes:
        return _hazmat.hkdf(self.seed, info=b"mailslot/v1/signing/ml-dsa-65")

    @property
    def public_key(self) -> SigningPublicKey:
        return SigningPublicKey(
            ed25519=_hazmat.ed25519_public(self._ed25519_seed()),
            ml_dsa_65=_hazmat.mldsa65_public(self._mldsa_seed()),
        )

    def sign(self, message: bytes, context: bytes) -> Signature:
        """Both signatures over ``message``: ML-DSA with ``context`` as its context string,
        Ed25519 over ``u8(len(context)) || context || message`` (it has no context of its
        own)."""
        return Signature(
            ed25519=_hazmat.ed25519_sign(self._ed25519_seed(), _prefixed(context, message)),
            ml_dsa_65=_hazmat.mldsa65_sign(self._mldsa_seed(), message, context),
        )
