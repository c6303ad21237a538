"""Errors of backups and restores.

    MailslotError
    └── BackupError                 a backup or restore cannot go ahead (the message is for people)
        ├── ArchiveUnreadable       wrong passphrase, or the archive is damaged, altered, cut short
        │                           or of another schema: one opaque error, on purpose
        ├── NotEncodable            the instance holds a value the format cannot carry, or the
        │                           passphrase is too long
        ├── BlobMismatch            a blob's size is not the one its item row records, or the blob
        │                           changed while it was copied
        ├── RestoreTargetNotEmpty   the data directory or the database already holds something
        └── RestoreConflict         restoring an organisation into an install would take a slug
                                    or host name that another organisation holds

The crypto core's errors never leave this package: a ``crypto.DecryptionError`` becomes
:class:`ArchiveUnreadable` (without its cause, which must stay opaque) and a
``crypto.EncodingError`` becomes :class:`NotEncodable`. As with the crypto core, an unreadable
archive is not told apart further: "wrong passphrase" and "altered" look the same to the
cipher, and "which rule failed" would help only someone crafting archives.
"""

from __future__ import annotations

from mailslot.errors import MailslotError


class BackupError(MailslotError):
    """A backup or restore cannot go ahead; the message says why, for people."""


class ArchiveUnreadable(BackupError):
    """The archive cannot be opened or does not follow the format; nothing tells which."""

    def __init__(self) -> None:
        super().__init__("decryption failed")


class NotEncodable(BackupError):
    """Something cannot be written in the format (a NULL where the schema allows none, a
    number that is not finite, a frame over the size limit, a passphrase that is too long)."""


class BlobMismatch(BackupError):
    """A blob does not match its item row; the backup stops rather than archive it."""


class RestoreTargetNotEmpty(BackupError):
    """Restoring would mix the archive with data that is there already."""


class RestoreConflict(BackupError):
    """An organisation's archive cannot go into this install as asked: its slug is taken
    (and not to be replaced), or a host name is another organisation's."""
