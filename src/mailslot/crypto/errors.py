"""Errors raised by the crypto core.

    MailslotError
    └── CryptoError
        ├── DecryptionError   any failure to open, unwrap or parse stored ciphertext (opaque on
        │                     purpose)
        ├── EncodingError     a caller handed the encoder something it must not encode
        └── BadSignature      a signature (Ed25519 with ML-DSA-65) does not verify

Decryption failures are deliberately not told apart: a distinct error for "bad tag" and
"truncated" would hand an attacker an oracle and the caller has nothing useful to do with it.

The root comes from :mod:`mailslot.errors`, the one module of Mailslot the crypto core imports:
it imports nothing itself (``tests/unit/test_errors.py`` keeps it so), so the island stays small.
"""

from __future__ import annotations

from mailslot.errors import MailslotError


class CryptoError(MailslotError):
    """Root of every error raised by :mod:`mailslot.crypto`."""


class DecryptionError(CryptoError):
    """The ciphertext could not be opened: wrong key, tampered, truncated or malformed."""

    def __init__(self) -> None:
        super().__init__("decryption failed")


class EncodingError(CryptoError):
    """The input cannot be encoded in the format (for example, it is too large)."""


class BadSignature(CryptoError):
    """A signature does not verify (either half of it; which one is not said)."""

    def __init__(self) -> None:
        super().__init__("bad signature")
