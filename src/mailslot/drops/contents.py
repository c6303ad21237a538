"""What is inside a sealed drop made by Mailslot: a tar stream (POSIX pax format) with an
optional ``note.txt`` (UTF-8) and the files under ``files/``. A drop is always a tar, even
with one file, so that every drop made by Mailslot is handled one way and the file's name
travels with it; a file sealed by the stock ``age`` tool is whatever its sender chose.

Writing scrubs what a tar records about the sender's machine: owner and group names and ids,
modification times and permissions. Names are the files' own base names (a second file with
the same name gets `` (2)`` before its extension). Reading streams too, and accepts only
regular files at those paths.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Final, Protocol

from mailslot.drops.errors import DropContentsInvalid

NOTE_NAME: Final = "note.txt"
FILES_DIR: Final = "files"
MAX_NOTE: Final = 1024 * 1024
TAR_MAGIC_OFFSET: Final = 257


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


def _entry(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def unique_names(paths: Sequence[Path]) -> list[str]:
    """Each file's base name, a repeated one made unique (``a.txt``, ``a (2).txt``)."""
    names: list[str] = []
    taken: set[str] = set()
    for path in paths:
        stem, suffix = path.stem, path.suffix
        name = path.name
        n = 2
        while name in taken:
            name = f"{stem} ({n}){suffix}"
            n += 1
        taken.add(name)
        names.append(name)
    return names


def write_drop(sink: _Writable, paths: Sequence[Path], note: str | None) -> None:
    """Write the drop's tar stream to ``sink``, reading each file as it goes."""
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        if note is not None:
            data = note.encode("utf-8")
            if len(data) > MAX_NOTE:
                raise DropContentsInvalid("the note is longer than 1 MiB")
            tar.addfile(_entry(NOTE_NAME, len(data)), _BytesReader(data))
        for path, name in zip(paths, unique_names(paths), strict=True):
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                tar.addfile(_entry(f"{FILES_DIR}/{name}", size), handle)


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def read(self, n: int = -1) -> bytes:
        n = len(self._data) if n < 0 else n
        out, self._data = bytes(self._data[:n]), self._data[n:]
        return out


@dataclass(frozen=True, slots=True)
class DropEntry:
    """One member of a drop: the note (``name`` is ``note.txt``) or a file. ``stream`` must
    be read before the next entry is asked for (the tar is read as a stream)."""

    is_note: bool
    name: str
    size: int
    stream: IO[bytes]


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def looks_like_tar(prefix: bytes) -> bool:
    """Whether a payload starting with ``prefix`` (512 bytes or more) is a POSIX tar."""
    return prefix[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + 5] == b"ustar"


def read_drop(source: _Readable) -> Iterator[DropEntry]:
    """The entries of a drop's tar stream, in order; raises :class:`DropContentsInvalid` for
    a member that is not a regular file at ``note.txt`` or ``files/NAME``."""
    try:
        with tarfile.open(fileobj=source, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                yield _checked(member, tar)
    except tarfile.TarError:
        raise DropContentsInvalid("the drop is not a valid tar stream") from None


def _checked(member: tarfile.TarInfo, tar: tarfile.TarFile) -> DropEntry:
    if not member.isreg():
        raise DropContentsInvalid("a drop holds regular files only")
    path = PurePosixPath(member.name)
    if member.name == NOTE_NAME:
        if member.size > MAX_NOTE:
            raise DropContentsInvalid("the note is longer than 1 MiB")
        is_note = True
    elif len(path.parts) == 2 and path.parts[0] == FILES_DIR and path.name not in ("", ".", ".."):
        is_note = False
    else:
        raise DropContentsInvalid("a drop member outside note.txt and files/")
    stream = tar.extractfile(member)
    if stream is None:  # pragma: no cover - regular files always have a stream
        raise DropContentsInvalid("a drop member without data")
    return DropEntry(is_note=is_note, name=path.name, size=member.size, stream=stream)
