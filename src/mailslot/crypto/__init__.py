"""Mailslot's crypto core: the recipes the rest of the code calls.

Everything that touches a primitive lives in :mod:`mailslot.crypto._hazmat`; the formats
built on top are specified in ``docs/spec/format.md`` and pinned by ``tests/vectors/``.
"""

from mailslot.crypto.derive import (
    DEFAULT_KDF,
    TEST_KDF,
    KdfParams,
    PasswordKeys,
    SessionKeys,
    SourceKeys,
    derive_password_keys,
    derive_source_keys,
    digest,
    new_salt,
    new_secret,
    normalize_codename,
    open_session,
    recovery_kek,
    seal_session,
    session_keys,
    verify,
)
from mailslot.crypto.errors import CryptoError, DecryptionError, EncodingError
from mailslot.crypto.keys import (
    KeyPair,
    WrapPurpose,
    check_public_key,
    open_secret,
    seal_secret,
    wrap_key,
)
from mailslot.crypto.random import DeterministicRandom, RandomSource, system_random
from mailslot.crypto.stream import (
    ItemOpener,
    ItemSealer,
    open_item,
    open_item_stream,
    open_meta,
    padded_length,
    seal_item,
    seal_meta,
    sealed_size,
)

__all__ = [
    "DEFAULT_KDF",
    "TEST_KDF",
    "CryptoError",
    "DecryptionError",
    "DeterministicRandom",
    "EncodingError",
    "ItemOpener",
    "ItemSealer",
    "KdfParams",
    "KeyPair",
    "PasswordKeys",
    "RandomSource",
    "SessionKeys",
    "SourceKeys",
    "WrapPurpose",
    "check_public_key",
    "derive_password_keys",
    "derive_source_keys",
    "digest",
    "new_salt",
    "new_secret",
    "normalize_codename",
    "open_item",
    "open_item_stream",
    "open_meta",
    "open_secret",
    "open_session",
    "padded_length",
    "recovery_kek",
    "seal_item",
    "seal_meta",
    "seal_secret",
    "seal_session",
    "sealed_size",
    "session_keys",
    "system_random",
    "verify",
    "wrap_key",
]
