"""Choosing the blob store from the configuration: files under the data directory, or an
S3-compatible object store when ``MAILSLOT_BLOB_URL`` is an ``s3://`` URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailslot.errors import StorageError
from mailslot.storage.base import BlobStore
from mailslot.storage.filesystem import FilesystemBlobStore

if TYPE_CHECKING:
    from mailslot.config import Config


def open_blob_store(
    config: Config, prefix: str = "", *, shared: BlobStore | None = None
) -> BlobStore:
    """The configured store; ``prefix`` (say, an organisation's) is a folder under the blob
    directory, or a longer key prefix in the bucket. An S3 store made with ``shared`` (an
    earlier result of this function) reuses its client, so that many organisations share one
    connection pool. boto3 is loaded only when an object store is configured."""
    segments = [s for s in prefix.split("/") if s]
    if any(s in (".", "..") or "\\" in s for s in segments):
        raise StorageError("invalid blob store prefix")
    if config.s3_location is None:
        return FilesystemBlobStore(config.blob_dir.joinpath(*segments))
    from mailslot.storage.s3 import S3BlobStore  # noqa: PLC0415 - boto3 only when needed

    if isinstance(shared, S3BlobStore):
        bucket, base = config.s3_location
        return S3BlobStore(
            shared.client, bucket, base, shared.stale_after, spool_dir=shared.spool_dir
        ).child(prefix)
    return S3BlobStore.from_config(config, prefix)
