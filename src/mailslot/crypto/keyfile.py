"""Offline key files (``MSLR``): a recipient's key seed under a passphrase.

Layout (``docs/spec/format.md``, "Key files")::

    header  = "MSLR" 0x01 || u8(len(cost)) || cost || salt(16) || public_key(1221, MSLK)
    keyfile = header || secret wrap (65, MSLP) of the seed, context = header

The passphrase goes through Argon2id with the stored cost and salt, then HKDF with its own label.
The whole header is the wrap's context, so the cost, salt and public key cannot be changed
without failing authentication; after opening, the key pair rebuilt from the seed must match the
stored public key.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

from mailslot.crypto import _hazmat
from mailslot.crypto.derive import MAX_SECRET_BYTES, SALT_SIZE, KdfParams, _argon2, digest
from mailslot.crypto.errors import DecryptionError, EncodingError
from mailslot.crypto.keys import (
    PUBLIC_KEY_SIZE,
    SECRET_WRAP_SIZE,
    KeyPair,
    check_public_key,
    open_secret,
    seal_secret,
)
from mailslot.crypto.random import RandomSource, system_random

KEYFILE_MAGIC: Final = b"MSLR\x01"
# Four times the login cost: a key file may be stolen with its USB stick, and opening it is a
# rare, deliberate act on a machine that has the memory to spare.
KEYFILE_KDF: Final = KdfParams(memory_kib=256 * 1024, iterations=3, lanes=1)
# The cost string's length is one byte; the longest valid cost string is far shorter.
MAX_KEYFILE_SIZE: Final = (
    len(KEYFILE_MAGIC) + 1 + 255 + SALT_SIZE + PUBLIC_KEY_SIZE + SECRET_WRAP_SIZE
)
_KEK_LABEL: Final = b"mailslot/v1/keyfile/kek"


def key_fingerprint(public_key: bytes) -> bytes:
    """32 bytes that name a public key: what bundles use to say whom a wrap is for."""
    return digest(b"fingerprint", public_key)


def format_fingerprint(fingerprint: bytes) -> str:
    """The fingerprint as people compare it: lower-case hex in groups of four."""
    text = fingerprint.hex()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _kek(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    secret = unicodedata.normalize("NFC", passphrase).encode()
    if len(secret) > MAX_SECRET_BYTES:
        raise EncodingError("passphrase too long")
    return _hazmat.hkdf(_argon2(secret, salt, params), info=_KEK_LABEL)


def _header(params: KdfParams, salt: bytes, public_key: bytes) -> bytes:
    cost = params.encode().encode("ascii")
    return KEYFILE_MAGIC + bytes([len(cost)]) + cost + salt + public_key


def seal_keyfile(
    seed: bytes,
    passphrase: str,
    params: KdfParams = KEYFILE_KDF,
    rng: RandomSource = system_random,
) -> bytes:
    """Encrypt a recipient's 32-byte key seed under a passphrase, as a key file."""
    pair = KeyPair.from_seed(seed)
    salt = rng(SALT_SIZE)
    header = _header(params, salt, pair.public_key)
    return header + seal_secret(_kek(passphrase, salt, params), seed, header, rng)


@dataclass(frozen=True, slots=True, repr=False)
class KeyFileInfo:
    """What a key file says in clear, readable without the passphrase."""

    params: KdfParams
    salt: bytes
    public_key: bytes

    @property
    def fingerprint(self) -> bytes:
        return key_fingerprint(self.public_key)


def _parse(data: bytes) -> tuple[KeyFileInfo, bytes, bytes]:
    if len(data) < len(KEYFILE_MAGIC) + 1 or not data.startswith(KEYFILE_MAGIC):
        raise DecryptionError()
    cost_size = data[len(KEYFILE_MAGIC)]
    start = len(KEYFILE_MAGIC) + 1
    header_size = start + cost_size + SALT_SIZE + PUBLIC_KEY_SIZE
    if len(data) != header_size + SECRET_WRAP_SIZE:
        raise DecryptionError()
    try:
        text = data[start : start + cost_size].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError() from None
    params = KdfParams.decode(text)
    salt = data[start + cost_size : start + cost_size + SALT_SIZE]
    public_key = data[start + cost_size + SALT_SIZE : header_size]
    check_public_key(public_key)
    return KeyFileInfo(params, salt, public_key), data[:header_size], data[header_size:]


def read_keyfile_info(data: bytes) -> KeyFileInfo:
    """Check the layout and return the clear parts; raises :class:`DecryptionError`."""
    return _parse(data)[0]


def open_keyfile(data: bytes, passphrase: str) -> KeyPair:
    """Open a key file: the recipient's key pair, or :class:`DecryptionError` for anything
    wrong (layout, cost, wrong passphrase, tampering, a seed that is not the stored key's)."""
    info, header, wrapped = _parse(data)
    try:
        kek = _kek(passphrase, info.salt, info.params)
    except EncodingError:
        raise DecryptionError() from None
    pair = KeyPair.from_seed(open_secret(kek, wrapped, header))
    if not _hazmat.equal(pair.public_key, info.public_key):
        raise DecryptionError()
    return pair
