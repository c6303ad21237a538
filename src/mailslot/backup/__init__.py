"""Backups: the whole instance (every table and every blob) in one encrypted archive.

Layout (``docs/spec/format.md``, "Backups (MSLA)")::

    archive = MSLA header || MSLI item stream of the payload (see mailslot.crypto.backup)
    payload = manifest frame || for each table: table frame, row frames || end frame

The modules:

- :mod:`~mailslot.backup.format`: the payload's frames and typed values, encoded and decoded;
- :mod:`~mailslot.backup.write`: an online backup, from one database snapshot;
- :mod:`~mailslot.backup.read`: decrypting and checking an archive as it streams in;
- :mod:`~mailslot.backup.restore`: a verified restore into an empty target;
- :mod:`~mailslot.backup.errors`: :class:`BackupError` and its subclasses (the tree is drawn
  there); the crypto core's errors are mapped to these where its calls are made.
"""

from mailslot.backup.errors import (
    ArchiveUnreadable,
    BackupError,
    BlobMismatch,
    NotEncodable,
    RestoreTargetNotEmpty,
)
from mailslot.backup.format import (
    FORMAT_VERSION,
    MAX_FRAME_SIZE,
    BackupSummary,
    Codec,
    Manifest,
    TableSpec,
    encode_frame,
    table_specs,
)
from mailslot.backup.read import Blob, Entry, Row, open_archive, read_payload, verify_archive
from mailslot.backup.restore import RestoreSummary, check_target, restore
from mailslot.backup.write import write_backup

__all__ = [
    "FORMAT_VERSION",
    "MAX_FRAME_SIZE",
    "ArchiveUnreadable",
    "BackupError",
    "BackupSummary",
    "Blob",
    "BlobMismatch",
    "Codec",
    "Entry",
    "Manifest",
    "NotEncodable",
    "RestoreSummary",
    "RestoreTargetNotEmpty",
    "Row",
    "TableSpec",
    "check_target",
    "encode_frame",
    "open_archive",
    "read_payload",
    "restore",
    "table_specs",
    "verify_archive",
    "write_backup",
]
