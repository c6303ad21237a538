"""The filesystem blob store: atomic commits, clean aborts, containment and permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mailslot.errors import StorageError
from mailslot.storage import FilesystemBlobStore
from mailslot.storage.filesystem import _scan

pytestmark = pytest.mark.no_database


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_write_commit_open_size_delete(store: FilesystemBlobStore) -> None:
    writer = store.create()
    writer.write(b"first part, ")
    writer.write(b"")
    writer.write(b"second part" * 1000)
    assert not store.exists(writer.blob_id)
    size = writer.commit()
    expected = b"first part, " + b"second part" * 1000
    assert size == len(expected)
    assert store.exists(writer.blob_id)
    assert store.size(writer.blob_id) == len(expected)
    chunks = list(store.open(writer.blob_id, chunk_size=1000))
    assert b"".join(chunks) == expected
    assert max(len(c) for c in chunks) <= 1000
    assert list(store.blob_ids()) == [writer.blob_id]
    store.delete(writer.blob_id)
    assert not store.exists(writer.blob_id)
    assert files_under(store.root) == []
    store.delete(writer.blob_id)  # deleting a missing blob is not an error


def test_nothing_is_visible_until_commit(store: FilesystemBlobStore) -> None:
    writer = store.create()
    writer.write(b"half written")
    partials = files_under(store.root)
    assert [p.name for p in partials] == [writer.blob_id + ".partial"]
    assert list(store.blob_ids()) == []
    with pytest.raises(StorageError):
        store.size(writer.blob_id)
    with pytest.raises(StorageError):
        list(store.open(writer.blob_id))
    writer.abort()


def test_abort_leaves_nothing(store: FilesystemBlobStore) -> None:
    writer = store.create()
    writer.write(b"secret" * 100)
    writer.abort()
    writer.abort()  # safe to repeat
    assert files_under(store.root) == []
    assert not store.exists(writer.blob_id)
    with pytest.raises(StorageError):
        writer.write(b"more")
    with pytest.raises(StorageError):
        writer.commit()


def test_a_committed_blob_cannot_be_written_again(store: FilesystemBlobStore) -> None:
    writer = store.create()
    writer.write(b"done")
    writer.commit()
    with pytest.raises(StorageError):
        writer.write(b"late")
    with pytest.raises(StorageError):
        writer.commit()
    assert b"".join(store.open(writer.blob_id)) == b"done"


def test_ids_are_random_and_distinct(store: FilesystemBlobStore) -> None:
    writers = [store.create() for _ in range(20)]
    ids = {w.blob_id for w in writers}
    assert len(ids) == 20
    for writer in writers:
        assert len(writer.blob_id) == 64
        writer.abort()


def test_cleanup_incomplete_removes_only_partials(store: FilesystemBlobStore) -> None:
    kept = store.create()
    kept.write(b"keep me")
    kept.commit()
    crashed = [store.create() for _ in range(3)]
    for writer in crashed:
        writer.write(b"interrupted")
        writer._close()  # what a crash does to the handle; the partial file stays
    assert store.cleanup_incomplete() == 3
    assert files_under(store.root) == [store.path_for(kept.blob_id)]
    assert b"".join(store.open(kept.blob_id)) == b"keep me"
    assert store.cleanup_incomplete() == 0


@pytest.mark.parametrize(
    "blob_id",
    [
        "",
        "../../etc/passwd",
        "0" * 63,
        "0" * 65,
        "A" * 64,
        "g" * 64,
        "../" + "0" * 61,
        "0" * 62 + "/.",
        "0" * 64 + "\n",
        "0" * 63 + "\x00",
    ],
)
def test_invalid_ids_are_rejected(store: FilesystemBlobStore, blob_id: str) -> None:
    with pytest.raises(StorageError):
        store.path_for(blob_id)
    with pytest.raises(StorageError):
        store.open(blob_id)
    with pytest.raises(StorageError):
        store.size(blob_id)
    with pytest.raises(StorageError):
        store.exists(blob_id)
    with pytest.raises(StorageError):
        store.delete(blob_id)


def test_a_symlinked_shard_cannot_escape_the_store(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:

    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "ab").symlink_to(outside)
    with pytest.raises(StorageError):
        store.path_for("ab" + "0" * 62)


def test_modes(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "new" / "blobs")
    writer = store.create()
    writer.write(b"x")
    assert stat.S_IMODE(store.path_for(writer.blob_id).with_suffix(".partial").stat().st_mode) == (
        0o600
    )
    writer.commit()
    path = store.path_for(writer.blob_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700


# -- what a seized blob directory shows (issue 18) ------------------------------------------------


def everything_under(root: Path) -> list[Path]:
    """Listed without touching the directories' access times (as the store lists them)."""
    found = [root]
    for path, is_dir in _scan(root):
        found.append(Path(path))
        if is_dir:
            found.extend(Path(child) for child, _ in _scan(path))
    return found


def exact_times(root: Path) -> list[tuple[str, float]]:
    """Every access or modification time under ``root`` that is not on the hour."""
    found = []
    for path in everything_under(root):
        info = path.stat()
        found += [
            (f"{path.name} {kind}", t)
            for kind, t in (("atime", info.st_atime), ("mtime", info.st_mtime))
            if t % 3600
        ]
    return found


def test_no_empty_bucket_is_left_after_deletes_and_aborts(store: FilesystemBlobStore) -> None:
    kept = store.create()
    kept.write(b"kept")
    kept.commit()
    for _ in range(20):
        gone = store.create()
        gone.write(b"deleted later")
        gone.commit()
        store.delete(gone.blob_id)
        refused = store.create()
        refused.write(b"refused upload")
        refused.abort()
    buckets = [p for p in store.root.iterdir() if p.is_dir()]
    assert buckets == [store.path_for(kept.blob_id).parent]
    store.delete(kept.blob_id)
    assert list(store.root.iterdir()) == []


def test_blobs_and_directories_carry_only_the_hour(store: FilesystemBlobStore) -> None:
    writers = [store.create() for _ in range(5)]
    for writer in writers:
        writer.write(b"content")
        writer.commit()
    store.delete(writers[0].blob_id)
    aborted = store.create()
    aborted.write(b"x")
    aborted.abort()
    for writer in writers[1:]:
        assert b"".join(store.open(writer.blob_id)) == b"content"  # reading sets no atime
    assert exact_times(store.root) == []


def test_cleanup_rounds_old_times_and_removes_empty_buckets(store: FilesystemBlobStore) -> None:
    kept = store.create()
    kept.write(b"from an older version")
    kept.commit()
    path = store.path_for(kept.blob_id)
    os.utime(path, (1_764_165_601.5, 1_764_165_777.25))  # as an older version left it
    os.utime(path.parent, (1_764_165_601, 1_764_165_601))
    (store.root / "ff").mkdir(mode=0o700)  # an empty bucket left by an older version
    assert exact_times(store.root) != []
    assert store.cleanup_incomplete() == 0
    assert exact_times(store.root) == []
    assert path.stat().st_mtime == 1_764_165_600  # rounded down, never forward
    assert list(store.root.iterdir()) == [path.parent]
    assert b"".join(store.open(kept.blob_id)) == b"from an older version"
