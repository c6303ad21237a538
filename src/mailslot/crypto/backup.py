"""Backup archives (``MSLA``): a whole instance under a passphrase, as one item stream.

Layout (``docs/spec/format.md``, "Backups")::

    header  = "MSLA" 0x01 || u8(len(cost)) || cost || salt(16) || archive_id(16)
    archive = header || MSLI item stream (item_id = archive_id, data key = K)
    K       = HKDF(Argon2id(NFC(passphrase), salt, cost), info = "mailslot/v1/backup/key")

The header is not associated data of the stream, and needs not be: the cost and salt make the
key (any change gives another key and the first chunk fails), and the archive id must equal the
stream's item id, which is authenticated. This module only derives keys and parses the header;
:mod:`mailslot.backup` frames the payload.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import IO, Final

from mailslot.crypto import _hazmat
from mailslot.crypto.derive import MAX_SECRET_BYTES, SALT_SIZE, KdfParams, _argon2
from mailslot.crypto.errors import DecryptionError, EncodingError
from mailslot.crypto.random import RandomSource, system_random
from mailslot.crypto.stream import ITEM_ID_SIZE, ItemOpener, ItemSealer

BACKUP_MAGIC: Final = b"MSLA\x01"
# As for key files: an archive may be stolen with its disk, and opening one is a rare,
# deliberate act on a machine that has the memory to spare.
BACKUP_KDF: Final = KdfParams(memory_kib=256 * 1024, iterations=3, lanes=1)
ARCHIVE_ID_SIZE: Final = ITEM_ID_SIZE
_KEY_LABEL: Final = b"mailslot/v1/backup/key"


@dataclass(frozen=True, slots=True, repr=False)
class BackupHeader:
    """What an archive says in clear: its cost, salt and id (and the header's bytes)."""

    params: KdfParams
    salt: bytes
    archive_id: bytes

    def encode(self) -> bytes:
        cost = self.params.encode().encode("ascii")
        return BACKUP_MAGIC + bytes([len(cost)]) + cost + self.salt + self.archive_id


def backup_key(passphrase: str, header: BackupHeader) -> bytes:
    """The archive's 32-byte data key (one Argon2id run at the header's cost)."""
    secret = unicodedata.normalize("NFC", passphrase).encode()
    if len(secret) > MAX_SECRET_BYTES:
        raise EncodingError("passphrase too long")
    return _hazmat.hkdf(_argon2(secret, header.salt, header.params), info=_KEY_LABEL)


def new_backup_header(
    params: KdfParams = BACKUP_KDF, rng: RandomSource = system_random
) -> BackupHeader:
    salt = rng(SALT_SIZE)
    return BackupHeader(params=params, salt=salt, archive_id=rng(ARCHIVE_ID_SIZE))


def backup_sealer(
    header: BackupHeader, key: bytes, rng: RandomSource = system_random
) -> ItemSealer:
    """The payload's sealer; write ``header.encode()`` first, then everything it returns."""
    return ItemSealer(header.archive_id, key, rng)


def backup_opener(header: BackupHeader, key: bytes) -> ItemOpener:
    return ItemOpener(header.archive_id, key)


def _read_exact(source: IO[bytes], n: int) -> bytes:
    data = source.read(n)
    if len(data) != n:
        raise DecryptionError()
    return data


def read_backup_header(source: IO[bytes]) -> BackupHeader:
    """Read and check the clear header from the start of ``source``; raises
    :class:`DecryptionError` for anything wrong, before any Argon2id work."""
    if _read_exact(source, len(BACKUP_MAGIC)) != BACKUP_MAGIC:
        raise DecryptionError()
    cost_size = _read_exact(source, 1)[0]
    try:
        text = _read_exact(source, cost_size).decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError() from None
    params = KdfParams.decode(text)
    salt = _read_exact(source, SALT_SIZE)
    return BackupHeader(params=params, salt=salt, archive_id=_read_exact(source, ARCHIVE_ID_SIZE))
