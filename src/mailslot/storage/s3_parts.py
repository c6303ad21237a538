"""Writing a blob to an S3-compatible store: parts spooled to a file, then uploaded.

Writing. A writer spools what it is given to a private temporary file until it has a part
(5 MiB, S3's smallest part but the last), and uploads it from there (``UploadPart``) before
it takes more. A blob that never reaches one part is sent with one ``PutObject`` at commit; a
larger one starts a multipart upload with its first part and is completed
(``CompleteMultipartUpload``) at commit. Until then nothing exists under the blob's key.
``abort`` drops what is spooled and aborts the multipart upload, whose parts S3 then discards.
Past every 1,000 parts the part size grows by 5 MiB, so S3's limit of 10,000 parts allows
objects of about 270 GiB.

Memory. What waits for its part waits on disk, not in memory: 200 sources uploading slowly at
once would otherwise hold up to 200 parts (1 GiB). The spool holds exactly what the object
will: the sealed chunks of the item format, ciphertext only (``web/uploads.py`` seals before
it writes). It is a file without a name (``O_TMPFILE`` where the file system has it, else
removed as soon as it is made: a crash leaves nothing behind, and no other process can open
it by name) in ``DATA_DIR/spool``, mode 0600, emptied after each part and closed at commit or
abort. A part is streamed from the file to S3 in small pieces, so a writer holds a file
buffer and the piece being sent, and a reader the piece it was asked for: a 2 GiB upload or
download grows the process by less than a few parts, whatever its size, and 200 slow
uploads by their buffers only (``tests/unit/test_s3_store.py`` checks both bounds).
"""

from __future__ import annotations

import contextlib
from typing import IO, TYPE_CHECKING, Any, Final

from mailslot.errors import StorageError

if TYPE_CHECKING:
    from mailslot.storage.s3 import S3BlobStore

MiB: Final = 1 << 20
PART_SIZE: Final = 5 * MiB
PARTS_PER_STEP: Final = 1000
MAX_PARTS: Final = 10_000
# Where writers spool their part, under the data directory (not /tmp, often a RAM disk).
SPOOL_DIR: Final = "spool"


def part_size(parts_sent: int) -> int:
    """The size a part must reach before it is sent, after ``parts_sent`` parts."""
    return PART_SIZE * (1 + parts_sent // PARTS_PER_STEP)


def code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def failure(action: str, exc: Exception) -> StorageError:
    """A client error as a StorageError that names the action and S3's error code (never a
    key, a bucket policy or a credential)."""
    named = code(exc) or type(exc).__name__
    return StorageError(f"object store: could not {action} ({named})")


class S3Writer:
    """One blob on its way into the bucket: spooled, sent part by part, completed at commit."""

    def __init__(self, store: S3BlobStore, blob_id: str) -> None:
        self.blob_id = blob_id
        self._store = store
        self._key = store.key(blob_id)
        self._spool: IO[bytes] | None = None
        self._pending_size = 0
        self._size = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._done = False
        self._committed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._done:
            raise StorageError("blob already closed")
        try:
            if self._spool is None:
                self._spool = self._store.spool()
            self._spool.write(data)
            self._pending_size += len(data)
            self._size += len(data)
            if self._pending_size >= part_size(len(self._parts)):
                self._send_part()
        except BaseException:
            self.abort()
            raise

    def flush(self) -> None:
        """Nothing to do: every part but the last must hold at least 5 MiB (S3's rule), so
        the spooled data waits for its part."""

    def _body(self) -> IO[bytes] | bytes:
        """What is spooled, as a request body read from the start of the file."""
        if self._spool is None:
            return b""
        self._spool.flush()
        self._spool.seek(0)
        return self._spool

    def _emptied(self) -> None:
        if self._spool is not None:
            self._spool.seek(0)
            self._spool.truncate()
        self._pending_size = 0

    def _send_part(self) -> None:
        client, bucket = self._store.client, self._store.bucket
        if len(self._parts) >= MAX_PARTS:
            raise StorageError("object store: the blob is too large (10,000 parts)")
        try:
            if self._upload_id is None:
                started = client.create_multipart_upload(Bucket=bucket, Key=self._key)
                self._upload_id = str(started["UploadId"])
            number = len(self._parts) + 1
            sent = client.upload_part(
                Bucket=bucket,
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=self._body(),
            )
        except Exception as exc:
            raise failure("upload a part", exc) from exc
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})
        self._emptied()

    def commit(self) -> int:
        if self._done:
            raise StorageError("blob already closed")
        self._done = True
        client, bucket = self._store.client, self._store.bucket
        try:
            if self._upload_id is None:
                client.put_object(Bucket=bucket, Key=self._key, Body=self._body())
            else:
                if self._pending_size:
                    self._send_part()
                self._complete()
        except StorageError:
            self.abort()
            raise
        except Exception as exc:
            self.abort()
            raise failure("store a blob", exc) from exc
        self._committed = True
        self._close_spool()
        return self._size

    def __del__(self) -> None:
        # A writer dropped without commit or abort (its request died with it): its spool
        # file goes now, not whenever the collector finds the file object.
        if getattr(self, "_spool", None) is not None:
            self._close_spool()

    def _close_spool(self) -> None:
        spool, self._spool = self._spool, None
        self._pending_size = 0
        if spool is not None:
            with contextlib.suppress(OSError):
                spool.close()

    def _complete(self) -> None:
        store = self._store
        try:
            store.client.complete_multipart_upload(
                Bucket=store.bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        except Exception:
            # Joining a large object's parts can outlast the client's wait; its retry then
            # finds the upload gone because the first request completed it. The id is fresh
            # and random, so an object under it with this size is this one.
            found = store.head(self.blob_id)
            if found is None or int(found["ContentLength"]) != self._size:
                raise

    def abort(self) -> None:
        self._done = True
        self._close_spool()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None or self._committed:
            return
        # An abort that fails (the store unreachable) must not hide the error that led to
        # it; the upload is then aborted by cleanup_incomplete or the lifecycle rule.
        with contextlib.suppress(Exception):
            self._store.client.abort_multipart_upload(
                Bucket=self._store.bucket, Key=self._key, UploadId=upload_id
            )
