"""The encrypted blob store: a protocol and its implementations (files, or an S3-compatible
object store), chosen by the configuration in :func:`open_blob_store`."""

from mailslot.storage.base import BlobStore, BlobWriter
from mailslot.storage.factory import open_blob_store
from mailslot.storage.filesystem import FilesystemBlobStore

__all__ = ["BlobStore", "BlobWriter", "FilesystemBlobStore", "open_blob_store"]
