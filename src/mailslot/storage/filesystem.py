"""Blobs as files: written under a temporary name, fsynced, then renamed into place.

A seized directory should show no more time than the database does: every blob file and
every directory here gets the time of its last change rounded down to the hour (the rounding
of the clear times in the database, ``db.base.coarse``), a bucket directory (``ab/``) is
removed as soon as its last blob goes, and reading a blob leaves its access time alone
(``O_NOATIME``). The kernel's inode change time (ctime) cannot be set by any program and
stays exact (docs/threat-model.md says what that shows).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from mailslot.db.base import coarse
from mailslot.errors import StorageError

_BLOB_ID: Final = re.compile(r"[0-9a-f]{64}")
_PARTIAL_SUFFIX: Final = ".partial"
# Sealed chunks (64 KiB + 16 bytes) are gathered and written about 1 MiB at a time with one
# ``writev``: no copy, and a sixteenth of the system calls (the page cache absorbed 64 KiB
# writes at half the speed of 1 MiB ones). At most this much ciphertext waits in memory.
WRITE_BLOCK: Final = 1 << 20
_MAX_PIECES: Final = 64  # well under IOV_MAX (1024 on Linux)
# Reading a blob must not record when it was read (the owner of a file may ask for this).
_NOATIME: Final = getattr(os, "O_NOATIME", 0)
_OPEN_ATTEMPTS: Final = 5


def _coarse_times() -> tuple[int, int]:
    """(atime, mtime) for anything written now: the current hour."""
    hour = coarse(int(time.time()))
    return hour, hour


def _settle(directory: str, root: str) -> None:
    """After a change in ``directory`` (a bucket): remove it if it is empty, and round down
    the times the change left on it, or on the root once the bucket is gone."""
    try:
        os.rmdir(directory)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
            raise
        with contextlib.suppress(FileNotFoundError):
            os.utime(directory, _coarse_times())
    else:
        os.utime(root, _coarse_times())


def _make_bucket(directory: str, root: str) -> None:
    """Make a bucket directory, and the store's root if it is missing, but nothing above the
    root: the folder of an organisation that was removed meanwhile must not come back
    (FileNotFoundError then)."""
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        return
    except FileNotFoundError:
        with contextlib.suppress(FileExistsError):
            os.mkdir(root, 0o700)
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)


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
        self._root = store.root_str
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                self._fd = os.open(self._partial, flags, 0o600)
                break
            except FileNotFoundError:
                # The first blob under this prefix: make its directory (the common case, an
                # existing directory, costs no mkdir). Another writer's clean-up may remove
                # an empty bucket between the two calls: then try again.
                if attempt + 1 == _OPEN_ATTEMPTS:
                    raise
                _make_bucket(directory, self._root)
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
            self.flush()

    def flush(self) -> None:
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
            self.flush()
            os.utime(self._fd, _coarse_times())
            os.fsync(self._fd)
            self._close()
            os.replace(self._partial, self._final)
            os.utime(self._directory, _coarse_times())
            os.utime(self._root, _coarse_times())
            _fsync_dir(self._directory)
        except OSError as exc:
            self.abort()
            raise StorageError("could not store blob") from exc
        return self._size

    def abort(self) -> None:
        self._done = True
        self._close()
        try:
            os.unlink(self._partial)
        except FileNotFoundError:
            return
        _settle(self._directory, self._root)


def _scan(path: str | Path) -> list[tuple[str, bool]]:
    """A directory's entries as (full path, is a directory), read without setting its access
    time (``O_NOATIME``): the time of the last listing (at start, by a backup) is nobody's
    business."""
    flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | _NOATIME)
    except PermissionError:
        fd = os.open(path, flags)
    try:
        with os.scandir(fd) as entries:
            return [
                (os.path.join(path, entry.name), entry.is_dir(follow_symlinks=False))
                for entry in entries
            ]
    finally:
        os.close(fd)


def _round_times(path: Path) -> None:
    """Round a file's or directory's times down to the hour they fall in (no newer)."""
    info = path.stat(follow_symlinks=False)
    atime, mtime = int(info.st_atime), int(info.st_mtime)
    if coarse(atime) != info.st_atime or coarse(mtime) != info.st_mtime:
        os.utime(path, (coarse(atime), coarse(mtime)), follow_symlinks=False)


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
    """Blobs under ``root/ab/abcdef…`` with mode 0600; directories 0700. With
    ``create=False`` (an organisation's store) opening makes nothing: the root is made by the
    first write, and only if the directory it sits in still exists."""

    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = root.resolve()
        if create:
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
        flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
        try:
            try:
                fd = os.open(path, flags | _NOATIME)
            except PermissionError:
                fd = os.open(path, flags)  # O_NOATIME needs the file's owner
        except FileNotFoundError as exc:
            raise StorageError("blob not found") from exc
        return _read(os.fdopen(fd, "rb"), chunk_size)

    def size(self, blob_id: str) -> int:
        try:
            return self.path_for(blob_id).stat().st_size
        except FileNotFoundError as exc:
            raise StorageError("blob not found") from exc

    def exists(self, blob_id: str) -> bool:
        return self.path_for(blob_id).exists()

    def delete(self, blob_id: str) -> None:
        path = self.path_for(blob_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        _settle(str(path.parent), self.root_str)

    def cleanup_incomplete(self) -> int:
        """Remove the writes a crash left (returns how many), and tidy what older versions
        left: empty bucket directories, and exact times on blobs and directories."""
        removed = 0
        if not self.root.is_dir():  # nothing written yet (``create=False``)
            return removed
        for path, is_dir in _scan(self.root):
            if not is_dir:
                continue
            bucket = Path(path)
            for blob, _ in _scan(bucket):
                if blob.endswith(_PARTIAL_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(blob)
                        removed += 1
                else:
                    _round_times(Path(blob))
            try:
                bucket.rmdir()
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                _round_times(bucket)
        _round_times(self.root)
        return removed

    def blob_ids(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for bucket, is_dir in _scan(self.root):
            if is_dir:
                for blob, _ in _scan(bucket):
                    name = os.path.basename(blob)
                    if _BLOB_ID.fullmatch(name):
                        yield name
