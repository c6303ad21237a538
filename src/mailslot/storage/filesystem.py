"""Blobs as files: written under a temporary name, fsynced, then renamed into place."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from mailslot.errors import StorageError

_BLOB_ID: Final = re.compile(r"[0-9a-f]{64}")
_PARTIAL_SUFFIX: Final = ".partial"
# Sealed chunks (64 KiB + 16 bytes) are gathered and written about 1 MiB at a time with one
# ``writev``: no copy, and a sixteenth of the system calls (the page cache absorbed 64 KiB
# writes at half the speed of 1 MiB ones). At most this much ciphertext waits in memory.
WRITE_BLOCK: Final = 1 << 20
_MAX_PIECES: Final = 64  # well under IOV_MAX (1024 on Linux)


def _check_id(blob_id: str) -> None:
    # Containment: ids are generated here, but never trust a value read back from a database.
    if not _BLOB_ID.fullmatch(blob_id):
        raise StorageError("invalid blob id")


class _FileWriter:
    def __init__(self, store: FilesystemBlobStore, blob_id: str) -> None:
        self.blob_id = blob_id
        # The id was made by the store (``create``), so its path needs no containment check.
        directory = os.path.join(store.root_str, blob_id[:2])
        self._directory = directory
        self._final = os.path.join(directory, blob_id)
        self._partial = self._final + _PARTIAL_SUFFIX
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            self._fd = os.open(self._partial, flags, 0o600)
        except FileNotFoundError:
            # The first blob under this prefix: make its directory (the common case, an
            # existing directory, costs no mkdir).
            os.makedirs(directory, mode=0o700, exist_ok=True)
            self._fd = os.open(self._partial, flags, 0o600)
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._size = 0
        self._done = False
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._done:
            raise StorageError("blob already closed")
        # Kept by reference until written, so a mutable buffer is copied first.
        piece = data if isinstance(data, bytes) else bytes(data)
        self._pending.append(piece)
        self._pending_size += len(piece)
        self._size += len(piece)
        if self._pending_size >= WRITE_BLOCK or len(self._pending) >= _MAX_PIECES:
            self._flush()

    def _flush(self) -> None:
        """Write every pending piece with as few ``writev`` calls as the kernel allows."""
        pending = self._pending
        while pending:
            written = os.writev(self._fd, pending)
            while pending and written >= len(pending[0]):
                written -= len(pending.pop(0))
            if written:  # a short write ended inside this piece
                pending[0] = pending[0][written:]
        self._pending_size = 0

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending.clear()
            os.close(self._fd)

    def commit(self) -> int:
        if self._done:
            raise StorageError("blob already closed")
        self._done = True
        try:
            self._flush()
            os.fsync(self._fd)
            self._close()
            os.replace(self._partial, self._final)
            _fsync_dir(self._directory)
        except OSError as exc:
            self.abort()
            raise StorageError("could not store blob") from exc
        return self._size

    def abort(self) -> None:
        self._done = True
        self._close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._partial)


def _read(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def _fsync_dir(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemBlobStore:
    """Blobs under ``root/ab/abcdef…`` with mode 0600; directories 0700."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root_str = str(self.root)

    def path_for(self, blob_id: str) -> Path:
        _check_id(blob_id)
        path = (self.root / blob_id[:2] / blob_id).resolve()
        if path.parent.parent != self.root:
            raise StorageError("blob path escapes the store")
        return path

    def create(self) -> _FileWriter:
        return _FileWriter(self, secrets.token_hex(32))

    def open(self, blob_id: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        path = self.path_for(blob_id)
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise StorageError("blob not found") from exc
        return _read(handle, chunk_size)

    def size(self, blob_id: str) -> int:
        try:
            return self.path_for(blob_id).stat().st_size
        except FileNotFoundError as exc:
            raise StorageError("blob not found") from exc

    def exists(self, blob_id: str) -> bool:
        return self.path_for(blob_id).exists()

    def delete(self, blob_id: str) -> None:
        path = self.path_for(blob_id)
        path.unlink(missing_ok=True)

    def cleanup_incomplete(self) -> int:
        removed = 0
        for partial in self.root.glob(f"*/*{_PARTIAL_SUFFIX}"):
            partial.unlink(missing_ok=True)
            removed += 1
        return removed

    def blob_ids(self) -> Iterator[str]:
        for path in self.root.glob("*/*"):
            if _BLOB_ID.fullmatch(path.name):
                yield path.name
