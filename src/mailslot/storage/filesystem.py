"""Blobs as files: written under a temporary name, fsynced, then renamed into place."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from mailslot.errors import StorageError

_BLOB_ID: Final = re.compile(r"[0-9a-f]{64}")
_PARTIAL_SUFFIX: Final = ".partial"


def _check_id(blob_id: str) -> None:
    # Containment: ids are generated here, but never trust a value read back from a database.
    if not _BLOB_ID.fullmatch(blob_id):
        raise StorageError("invalid blob id")


class _FileWriter:
    def __init__(self, store: FilesystemBlobStore, blob_id: str) -> None:
        self.blob_id = blob_id
        self._final = store.path_for(blob_id)
        self._final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._partial = self._final.with_name(self._final.name + _PARTIAL_SUFFIX)
        fd = os.open(self._partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._size = 0
        self._done = False

    def write(self, data: bytes) -> None:
        if self._done:
            raise StorageError("blob already closed")
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            if written is None:  # pragma: no cover - only non-blocking files return None
                raise StorageError("short write")
            view = view[written:]
        self._size += len(data)

    def commit(self) -> int:
        if self._done:
            raise StorageError("blob already closed")
        self._done = True
        try:
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._partial, self._final)
            _fsync_dir(self._final.parent)
        except OSError as exc:
            self.abort()
            raise StorageError("could not store blob") from exc
        return self._size

    def abort(self) -> None:
        self._done = True
        if not self._file.closed:
            self._file.close()
        self._partial.unlink(missing_ok=True)


def _read(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def _fsync_dir(path: Path) -> None:
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
