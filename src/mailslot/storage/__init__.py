"""The encrypted blob store: a protocol and its implementations (filesystem for now)."""

from mailslot.storage.base import BlobStore, BlobWriter
from mailslot.storage.filesystem import FilesystemBlobStore

__all__ = ["BlobStore", "BlobWriter", "FilesystemBlobStore"]
