"""The ``BlobStore`` boundary. Blobs hold ciphertext only; names are random, never user input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class BlobWriter(Protocol):
    """An in-progress blob: nothing is visible under ``blob_id`` until :meth:`commit`."""

    blob_id: str

    def write(self, data: bytes) -> None: ...

    def flush(self) -> None:
        """Pass on what ``write`` gathered so far, where the store can (an upload calls it
        after each step, so that a slow sender's data does not wait in memory)."""
        ...

    def commit(self) -> int:
        """Make the blob durable and visible; returns its size in bytes."""
        ...

    def abort(self) -> None:
        """Discard everything written; safe to call more than once or after commit fails."""
        ...


class BlobStore(Protocol):
    def create(self) -> BlobWriter: ...

    def open(self, blob_id: str, chunk_size: int = 1 << 16) -> Iterator[bytes]: ...

    def size(self, blob_id: str) -> int: ...

    def delete(self, blob_id: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""
        ...

    def exists(self, blob_id: str) -> bool: ...

    def cleanup_incomplete(self) -> int:
        """Remove writes that never committed (after a crash); returns how many."""
        ...
