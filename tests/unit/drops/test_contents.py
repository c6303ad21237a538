"""A drop's tar layout: written as a stream with the sender's metadata scrubbed, and read
back accepting only ``note.txt`` and regular files under ``files/``."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from mailslot import drops
from mailslot.drops.contents import unique_names

pytestmark = pytest.mark.no_database


class Unseekable:
    """A sink that can only be written to, like a pipe or an age writer."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def make_files(tmp_path: Path) -> list[Path]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    paths = [tmp_path / "a" / "report.txt", tmp_path / "b" / "report.txt", tmp_path / "사진.jpg"]
    for i, path in enumerate(paths):
        path.write_bytes(bytes([i]) * (1000 + i))
        path.chmod(0o600)
    return paths


def test_round_trip_with_note_and_scrubbed_metadata(tmp_path: Path) -> None:
    paths = make_files(tmp_path)
    sink = Unseekable()
    drops.write_drop(sink, paths, "A note, 안녕.\n")
    with tarfile.open(fileobj=io.BytesIO(bytes(sink.data))) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [
        "note.txt",
        "files/report.txt",
        "files/report (2).txt",
        "files/사진.jpg",
    ]
    for member in members:
        assert (member.mtime, member.uid, member.gid) == (0, 0, 0)
        assert (member.uname, member.gname, member.mode) == ("", "", 0o644)
        assert member.isreg()
    entries = [
        (e.is_note, e.name, e.stream.read()) for e in drops.read_drop(io.BytesIO(bytes(sink.data)))
    ]
    assert entries == [
        (True, "note.txt", "A note, 안녕.\n".encode()),
        (False, "report.txt", b"\x00" * 1000),
        (False, "report (2).txt", b"\x01" * 1001),
        (False, "사진.jpg", b"\x02" * 1002),
    ]
    assert drops.looks_like_tar(bytes(sink.data[:512]))
    assert not drops.looks_like_tar(b"%PDF" + bytes(600))


def test_unique_names() -> None:
    names = unique_names([Path("x/a.txt"), Path("y/a.txt"), Path("a (2).txt"), Path("z/a.txt")])
    assert names == ["a.txt", "a (2).txt", "a (2) (2).txt", "a (3).txt"]


def tar_with(build: object) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        assert callable(build)
        build(tar)
    return buffer.getvalue()


def add_file(tar: tarfile.TarFile, name: str, data: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize(
    "build",
    [
        lambda tar: add_file(tar, "elsewhere.txt"),
        lambda tar: add_file(tar, "files/../../etc/passwd"),
        lambda tar: add_file(tar, "files/sub/deep.txt"),
        lambda tar: add_file(tar, "/files/abs.txt"),
        lambda tar: tar.addfile(_dir("files/dir")),
        lambda tar: tar.addfile(_link("files/link", "/etc/passwd")),
    ],
)
def test_members_outside_the_layout_are_refused(build: object) -> None:
    data = tar_with(build)
    with pytest.raises(drops.DropContentsInvalid):
        list(drops.read_drop(io.BytesIO(data)))


def test_the_layout_check_has_a_positive_control() -> None:
    def build(tar: tarfile.TarFile) -> None:
        add_file(tar, "note.txt")
        add_file(tar, "files/a.txt")

    data = tar_with(build)
    assert [e.name for e in drops.read_drop(io.BytesIO(data))] == ["note.txt", "a.txt"]


def test_not_a_tar_is_refused() -> None:
    with pytest.raises(drops.DropContentsInvalid):
        list(drops.read_drop(io.BytesIO(b"just a file, sealed by the stock age tool" * 20)))


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info
