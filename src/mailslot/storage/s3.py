"""Blobs in an S3-compatible object store: uploaded in parts as the ciphertext is produced,
read back as a stream.

Each blob is one object, ``<prefix><blob id>``; the id is random (``secrets``), so an object's
name says nothing about what it holds. Objects hold ciphertext only: the store sees sizes
(padded), counts and times, never content.

Writing and memory: see :mod:`mailslot.storage.s3_parts` (parts spooled to a file without a
name, ciphertext only, so that many slow uploads hold no part in memory).

Reading. One streamed ``GetObject`` per blob; if the connection breaks part-way, the read
resumes from where it was with a ranged ``GetObject`` that must match the object's ETag.

After a crash. Multipart uploads that were never completed are listed and aborted by
:meth:`S3BlobStore.cleanup_incomplete`, once they are older than ``stale_after`` (several
processes may share a bucket: one starting up must not abort another's uploads in
progress). A bucket lifecycle rule (``AbortIncompleteMultipartUpload``) is the backstop;
see docs/deployment.md.

boto3 is imported only when an object store is configured (``pip install 'mailslot[s3]'``).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from mailslot.config import S3_MISSING
from mailslot.errors import ConfigError, StorageError
from mailslot.storage.s3_parts import (
    MAX_PARTS,
    PART_SIZE,
    SPOOL_DIR,
    S3Writer,
    code,
    failure,
    part_size,
)

if TYPE_CHECKING:
    from mailslot.config import Config

# An upload still unfinished after this long is taken for the leftover of a crash. Sources on
# Tor send slowly: 2 GiB at 50 KB/s takes about 12 hours.
STALE_AFTER: Final = 24 * 3600.0
# A broken download is resumed this many times in a row before it fails.
READ_RETRIES: Final = 3
# Every thread that streams a blob in or out holds a connection while it does.
MAX_CONNECTIONS: Final = 64

_BLOB_ID: Final = re.compile(r"[0-9a-f]{64}")
_MISSING: Final = frozenset({"404", "NoSuchKey", "NotFound"})


def _check_id(blob_id: str) -> None:
    # Never trust a value read back from a database: it becomes part of a key.
    if not _BLOB_ID.fullmatch(blob_id):
        raise StorageError("invalid blob id")


def make_client(endpoint_url: str = "") -> Any:
    """An S3 client from the usual AWS settings (credentials, region, ``AWS_ENDPOINT_URL``),
    with ``endpoint_url`` for services other than AWS. Clients are thread-safe: one serves
    every store of the process."""
    try:
        import boto3  # noqa: PLC0415 - only when an object store is configured
        from botocore.config import Config as BotoConfig  # noqa: PLC0415 - as above
    except ImportError:
        raise ConfigError(S3_MISSING) from None
    settings = BotoConfig(
        max_pool_connections=MAX_CONNECTIONS,
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        # S3 may take minutes to join the parts of a large object (and keeps the connection
        # alive meanwhile; moto does not).
        read_timeout=300,
        # Path-style addresses (endpoint/bucket/key) are what S3-compatible services share;
        # AWS itself takes either.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        # Transport checksums add nothing here: every 64 KiB chunk of a blob is
        # authenticated (AEAD) when it is read, and several S3-compatible services refuse
        # the newer checksum headers.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url or None, config=settings)


def _transient() -> tuple[type[Exception], ...]:
    """What a broken connection raises while a body is read."""
    from botocore.exceptions import (  # noqa: PLC0415 - loaded with boto3, see make_client
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )
    from urllib3.exceptions import ProtocolError  # noqa: PLC0415 - as above

    return (
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
        ProtocolError,
        OSError,
    )


@dataclass(frozen=True, eq=False)
class S3BlobStore:
    """Blobs as objects ``<prefix><id>`` in ``bucket``. ``prefix`` is empty or ends in ``/``;
    :meth:`child` gives a store under a longer prefix (one per organisation) that shares the
    client."""

    client: Any = field(repr=False)
    bucket: str
    prefix: str = ""
    stale_after: float = STALE_AFTER
    now: Callable[[], float] = field(default=time.time, repr=False)
    spool_dir: Path | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.prefix and (not self.prefix.endswith("/") or self.prefix.startswith("/")):
            raise StorageError("an object-store prefix must end with '/' and not start with it")

    @classmethod
    def from_config(cls, config: Config, prefix: str = "") -> S3BlobStore:
        location = config.s3_location
        if location is None:
            raise ConfigError("MAILSLOT_BLOB_URL is not an s3:// URL")
        bucket, base = location
        client = make_client(config.s3_endpoint_url)
        return cls(client, bucket, base, spool_dir=config.data_dir / SPOOL_DIR).child(prefix)

    def child(self, prefix: str) -> S3BlobStore:
        """The store under ``<this prefix><prefix>/`` (the same store for an empty one)."""
        if not prefix:
            return self
        segments = [s for s in prefix.split("/") if s]
        if not segments or any(s in (".", "..") or "\\" in s for s in segments):
            raise StorageError("invalid object-store prefix")
        return S3BlobStore(
            self.client,
            self.bucket,
            self.prefix + "".join(f"{s}/" for s in segments),
            self.stale_after,
            self.now,
            self.spool_dir,
        )

    def spool(self) -> IO[bytes]:
        """A new private, unnamed file for a writer's part (in ``spool_dir``, made 0700 if
        missing; without one, the system's temporary directory)."""
        if self.spool_dir is not None:
            self.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            return tempfile.TemporaryFile(dir=self.spool_dir)
        except OSError as exc:
            raise StorageError("object store: could not make a spool file") from exc

    def key(self, blob_id: str) -> str:
        _check_id(blob_id)
        return self.prefix + blob_id

    def create(self) -> S3Writer:
        return S3Writer(self, secrets.token_hex(32))

    def _get(self, key: str, offset: int, etag: str | None) -> tuple[Any, str]:
        """The object's body from ``offset`` on, and its ETag."""
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset:
            request["Range"] = f"bytes={offset}-"
        if etag is not None:
            request["IfMatch"] = etag  # a resumed read must continue the same object
        try:
            response = self.client.get_object(**request)
        except Exception as exc:
            if code(exc) in _MISSING:
                raise StorageError("blob not found") from exc
            raise failure("read a blob", exc) from exc
        return response["Body"], str(response.get("ETag", ""))

    def open(self, blob_id: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        key = self.key(blob_id)
        body, etag = self._get(key, 0, None)  # a missing blob fails here, not when read
        return self._read(key, body, etag, chunk_size)

    def _read(self, key: str, body: Any, etag: str, chunk_size: int) -> Iterator[bytes]:
        broken = _transient()
        offset = 0
        failures = 0
        try:
            while True:
                try:
                    piece = body.read(chunk_size)
                except broken as exc:
                    failures += 1
                    if failures > READ_RETRIES:
                        raise failure("read a blob", exc) from exc
                    with contextlib.suppress(Exception):
                        body.close()
                    body, _ = self._get(key, offset, etag or None)
                    continue
                if not piece:
                    return
                failures = 0
                offset += len(piece)
                yield piece
        finally:
            with contextlib.suppress(Exception):
                body.close()

    def head(self, blob_id: str) -> dict[str, Any] | None:
        key = self.key(blob_id)
        try:
            response: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if code(exc) in _MISSING:
                return None
            raise failure("look up a blob", exc) from exc
        return response

    def size(self, blob_id: str) -> int:
        found = self.head(blob_id)
        if found is None:
            raise StorageError("blob not found")
        return int(found["ContentLength"])

    def exists(self, blob_id: str) -> bool:
        return self.head(blob_id) is not None

    def delete(self, blob_id: str) -> None:
        key = self.key(blob_id)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if code(exc) not in _MISSING:
                raise failure("delete a blob", exc) from exc

    def _pages(self, operation: str, **request: Any) -> Iterator[dict[str, Any]]:
        try:
            yield from self.client.get_paginator(operation).paginate(
                Bucket=self.bucket, Prefix=self.prefix, **request
            )
        except Exception as exc:
            raise failure("list the bucket", exc) from exc

    def incomplete(self) -> Iterator[tuple[str, str, datetime]]:
        """Multipart uploads never completed under this prefix: (key, upload id, started)."""
        for page in self._pages("list_multipart_uploads", Delimiter="/"):
            for upload in page.get("Uploads", ()):
                key = str(upload["Key"])
                if _BLOB_ID.fullmatch(key.removeprefix(self.prefix)):
                    yield key, str(upload["UploadId"]), upload["Initiated"]

    def cleanup_incomplete(self) -> int:
        removed = 0
        cutoff = self.now() - self.stale_after
        for key, upload_id, started in list(self.incomplete()):
            if started.timestamp() > cutoff:
                continue  # perhaps another process's upload in progress
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception as exc:
                if code(exc) != "NoSuchUpload":  # gone meanwhile: someone else did it
                    raise failure("abort an upload", exc) from exc
            removed += 1
        return removed

    def blob_ids(self) -> Iterator[str]:
        """Every committed blob under this prefix (not under longer prefixes)."""
        for page in self._pages("list_objects_v2", Delimiter="/"):
            for entry in page.get("Contents", ()):
                blob_id = str(entry["Key"]).removeprefix(self.prefix)
                if _BLOB_ID.fullmatch(blob_id):
                    yield blob_id

    def probe(self) -> None:
        """Write, read back and delete a small object, and list uploads: what the server does
        with the bucket, done once. Raises StorageError naming the step that failed."""
        data = secrets.token_bytes(32)
        writer = self.create()
        writer.write(data)
        writer.commit()
        try:
            if b"".join(self.open(writer.blob_id)) != data:
                raise StorageError("object store: a blob read back differs from what was written")
        finally:
            self.delete(writer.blob_id)
        for _ in self.incomplete():
            break

    def versioning(self) -> str:
        """The bucket's versioning status: "Enabled", "Suspended", or "" (never enabled)."""
        try:
            response = self.client.get_bucket_versioning(Bucket=self.bucket)
        except Exception as exc:
            raise failure("read the bucket's versioning", exc) from exc
        return str(response.get("Status", ""))


# The part sizes are the writer's; tests and the contract suite read them here.
__all__ = ["MAX_PARTS", "PART_SIZE", "S3BlobStore", "make_client", "part_size"]
