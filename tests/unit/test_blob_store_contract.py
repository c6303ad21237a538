"""The ``BlobStore`` contract: what every implementation must do, whatever it stores on.

Only the protocol is used here (no paths, no files), so an implementation joins by adding a
factory to ``IMPLEMENTATIONS``: files in a temporary directory, and objects in a new bucket of
a real S3 server (moto's server mode, over HTTP; tests/s3.py). Implementation details (file
modes, containment of paths, multipart parts) are tested next to each implementation
(tests/unit/test_storage.py, tests/unit/test_s3_store.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mailslot.errors import StorageError
from mailslot.storage import BlobStore, FilesystemBlobStore
from mailslot.storage.s3 import PART_SIZE, S3BlobStore

pytestmark = pytest.mark.no_database


def _s3(request: pytest.FixtureRequest, tmp: Path) -> BlobStore:
    moto = request.getfixturevalue("moto_server")
    # Every unfinished upload counts as stale here, as after a crash.
    return S3BlobStore(moto.client(), moto.new_bucket(), "blobs/", stale_after=0)


IMPLEMENTATIONS: dict[str, Callable[[pytest.FixtureRequest, Path], BlobStore]] = {
    "filesystem": lambda request, tmp: FilesystemBlobStore(tmp / "blobs"),
    "s3": _s3,
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return IMPLEMENTATIONS[request.param](request, tmp_path)


def put(store: BlobStore, data: bytes) -> str:
    writer = store.create()
    writer.write(data)
    writer.commit()
    return writer.blob_id


def test_round_trip_in_any_chunk_size(store: BlobStore) -> None:
    data = bytes(range(256)) * 5000
    blob_id = put(store, data)
    assert store.exists(blob_id)
    assert store.size(blob_id) == len(data)
    for chunk_size in (1, 1000, 1 << 16, 1 << 20):
        pieces = list(store.open(blob_id, chunk_size))
        assert b"".join(pieces) == data
        assert all(len(p) <= chunk_size for p in pieces)


def test_empty_blob(store: BlobStore) -> None:
    blob_id = put(store, b"")
    assert store.size(blob_id) == 0
    assert b"".join(store.open(blob_id)) == b""


def test_invisible_until_commit_and_gone_after_abort(store: BlobStore) -> None:
    writer = store.create()
    writer.write(b"half")
    assert not store.exists(writer.blob_id)
    writer.abort()
    writer.abort()  # twice is fine
    assert not store.exists(writer.blob_id)
    with pytest.raises(StorageError):
        writer.commit()


def test_committed_blobs_are_immutable(store: BlobStore) -> None:
    writer = store.create()
    writer.write(b"final")
    writer.commit()
    with pytest.raises(StorageError):
        writer.write(b"more")
    with pytest.raises(StorageError):
        writer.commit()
    assert b"".join(store.open(writer.blob_id)) == b"final"


def test_delete_is_idempotent(store: BlobStore) -> None:
    blob_id = put(store, b"x")
    store.delete(blob_id)
    store.delete(blob_id)
    assert not store.exists(blob_id)
    with pytest.raises(StorageError):
        list(store.open(blob_id))


def test_ids_are_fresh_and_never_reused(store: BlobStore) -> None:
    ids = {store.create().blob_id for _ in range(200)}
    assert len(ids) == 200


@pytest.mark.parametrize("blob_id", ["", "../x", "a/b", "Z" * 64, "0" * 31, "0" * 33])
def test_foreign_ids_are_refused(store: BlobStore, blob_id: str) -> None:
    with pytest.raises(StorageError):
        store.size(blob_id)


def test_cleanup_removes_only_what_never_committed(store: BlobStore) -> None:
    kept = put(store, b"kept")
    unfinished = store.create()
    unfinished.write(b"lost in a crash")
    # Past S3's smallest part, so that an object store has begun an upload too (a smaller
    # write may still be only in the writer's memory, which a crash takes with it).
    larger = store.create()
    larger.write(bytes(PART_SIZE + 1))
    assert store.cleanup_incomplete() >= 1
    assert store.exists(kept)
    assert not store.exists(unfinished.blob_id)
    assert not store.exists(larger.blob_id)
    assert store.cleanup_incomplete() == 0


def test_concurrent_writers_do_not_mix(store: BlobStore) -> None:
    results: dict[str, bytes] = {}
    lock = threading.Lock()

    def write(n: int) -> None:
        data = bytes([n]) * 100_000
        blob_id = put(store, data)
        with lock:
            results[blob_id] = data

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    for blob_id, data in results.items():
        assert b"".join(store.open(blob_id)) == data
