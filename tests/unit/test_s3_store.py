"""The S3 blob store against a real S3 server over HTTP (moto's server mode, tests/s3.py):
multipart parts as the ciphertext arrives, nothing visible before commit, aborts, stale
uploads, prefixes that keep organisations apart, resumed reads, the memory bound, and the
configuration (including a missing boto3). The contract every store keeps is in
test_blob_store_contract.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from mailslot.config import Config, load_config, split_blob_url
from mailslot.errors import ConfigError, StorageError
from mailslot.storage import FilesystemBlobStore, open_blob_store
from mailslot.storage.s3 import MAX_PARTS, PART_SIZE, S3BlobStore, part_size
from tests.s3 import AWS_ENV, MotoServer

pytestmark = [pytest.mark.no_database, pytest.mark.timeout(300)]

MiB = 1 << 20
CHUNK = 65536 + 16  # one sealed chunk of the item format, as uploads write them


@pytest.fixture
def bucket(moto_server: MotoServer) -> str:
    return moto_server.new_bucket()


@pytest.fixture
def store(moto_server: MotoServer, bucket: str) -> S3BlobStore:
    return S3BlobStore(moto_server.client(), bucket, "blobs/")


def pattern(size: int, seed: int = 0) -> bytes:
    block = bytes((seed + i) % 251 for i in range(CHUNK))
    return (block * (size // CHUNK + 1))[:size]


def test_a_large_blob_goes_up_in_parts_while_it_is_written(
    moto_server: MotoServer, bucket: str, store: S3BlobStore
) -> None:
    data = pattern(13 * MiB)
    writer = store.create()
    key = f"blobs/{writer.blob_id}"
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    for index, piece in enumerate(pieces):
        writer.write(piece)
        if index == 0:
            assert moto_server.uploads(bucket) == []  # less than a part: spooled only
    # Two full parts have gone up while writing; the object is not visible.
    assert moto_server.uploads(bucket) == [key]
    assert moto_server.keys(bucket) == []
    assert not store.exists(writer.blob_id)
    client = moto_server.client()
    upload_id = client.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["UploadId"]
    parts = client.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    assert len(parts) == 2
    assert all(PART_SIZE <= p["Size"] < PART_SIZE + CHUNK for p in parts)

    assert writer.commit() == len(data)
    assert moto_server.uploads(bucket) == []
    assert moto_server.keys(bucket) == [key]
    assert store.size(writer.blob_id) == len(data)
    assert b"".join(store.open(writer.blob_id, MiB)) == data


def test_a_small_blob_is_one_put_at_commit(
    moto_server: MotoServer, bucket: str, store: S3BlobStore
) -> None:
    writer = store.create()
    writer.write(b"x" * 1000)
    assert moto_server.uploads(bucket) == []
    assert moto_server.keys(bucket) == []
    writer.commit()
    assert moto_server.objects(bucket) == {f"blobs/{writer.blob_id}": b"x" * 1000}


def test_abort_aborts_the_multipart_upload(
    moto_server: MotoServer, bucket: str, store: S3BlobStore
) -> None:
    writer = store.create()
    writer.write(bytes(PART_SIZE + 10))
    assert len(moto_server.uploads(bucket)) == 1
    writer.abort()
    writer.abort()
    assert moto_server.uploads(bucket) == []
    assert moto_server.keys(bucket) == []
    with pytest.raises(StorageError):
        writer.write(b"more")


def open_files(directory: Path) -> list[str]:
    """The files this process has open under ``directory``."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the listing's own descriptor, closed since
            continue
        if target.startswith(f"{directory}/"):
            found.append(target)
    return found


def test_slow_writers_wait_for_their_part_on_disk_not_in_memory(
    moto_server: MotoServer, bucket: str, tmp_path: Path
) -> None:
    """Many uploads each short of a part (sources on Tor, at once) hold their pending
    ciphertext in unnamed 0600 files under the spool directory, not in memory; committed or
    aborted, the files are gone."""
    spool = tmp_path / "spool"
    store = S3BlobStore(moto_server.client(), bucket, "blobs/", spool_dir=spool)
    chunk = pattern(CHUNK)
    tracemalloc.start()
    try:
        writers = [store.create() for _ in range(100)]
        for _ in range(16):  # about 1 MiB each, 100 MiB in all
            for writer in writers:
                writer.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, peak
    assert moto_server.uploads(bucket) == []  # no part yet: nothing sent
    assert spool.stat().st_mode & 0o777 == 0o700
    assert list(spool.iterdir()) == []  # unnamed: nothing to find or open by name
    assert len(open_files(spool)) == 100
    for writer in writers[:50]:
        writer.commit()
    for writer in writers[50:]:
        writer.abort()
    assert open_files(spool) == []
    assert len(moto_server.keys(bucket)) == 50
    body = b"".join(store.open(writers[0].blob_id))
    assert body == chunk * 16


def test_the_part_size_grows_so_that_10000_parts_hold_any_file() -> None:
    assert part_size(0) == part_size(999) == PART_SIZE
    assert part_size(1000) == 2 * PART_SIZE
    assert sum(part_size(n) for n in range(MAX_PARTS)) > 250 * (1 << 30)


def test_only_stale_uploads_are_cleaned_up(moto_server: MotoServer, bucket: str) -> None:
    """Several processes may share a bucket: one starting up leaves uploads in progress
    alone, and aborts those older than ``stale_after``."""
    client = moto_server.client()
    writer = S3BlobStore(client, bucket, "blobs/").create()
    writer.write(bytes(PART_SIZE))
    ((_, _, started),) = S3BlobStore(client, bucket, "blobs/").incomplete()
    at = started.timestamp()
    young = S3BlobStore(client, bucket, "blobs/", stale_after=3600, now=lambda: at + 60)
    assert young.cleanup_incomplete() == 0
    assert len(moto_server.uploads(bucket)) == 1
    old = S3BlobStore(client, bucket, "blobs/", stale_after=3600, now=lambda: at + 3601)
    assert old.cleanup_incomplete() == 1
    assert moto_server.uploads(bucket) == []
    with pytest.raises(StorageError):
        writer.commit()  # its upload is gone: the commit fails and leaves nothing
    assert moto_server.keys(bucket) == []


def test_prefixes_keep_stores_apart(moto_server: MotoServer, bucket: str) -> None:
    base = S3BlobStore(moto_server.client(), bucket, "mailslot/", stale_after=0)
    one, two = base.child("orgs/one"), base.child("orgs/two")
    assert (one.prefix, two.prefix) == ("mailslot/orgs/one/", "mailslot/orgs/two/")
    ids = {}
    for name, store in (("base", base), ("one", one), ("two", two)):
        writer = store.create()
        writer.write(name.encode())
        writer.commit()
        ids[name] = writer.blob_id
    pending = two.create()
    pending.write(bytes(PART_SIZE))
    assert list(base.blob_ids()) == [ids["base"]]
    assert list(one.blob_ids()) == [ids["one"]]
    assert not one.exists(ids["two"])
    assert not base.exists(ids["one"])
    assert base.cleanup_incomplete() == 0
    assert one.cleanup_incomplete() == 0
    assert two.cleanup_incomplete() == 1
    pending.abort()  # its spool file, closed like any writer's
    assert sorted(moto_server.keys(bucket)) == sorted(
        [
            f"mailslot/{ids['base']}",
            f"mailslot/orgs/one/{ids['one']}",
            f"mailslot/orgs/two/{ids['two']}",
        ]
    )
    for bad in ("..", "a/../b", "./x"):
        with pytest.raises(StorageError):
            base.child(bad)


def test_a_read_resumes_where_the_connection_broke(
    moto_server: MotoServer, bucket: str, store: S3BlobStore
) -> None:
    from botocore.exceptions import ReadTimeoutError

    data = pattern(3 * MiB, seed=7)
    writer = store.create()
    writer.write(data)
    writer.commit()
    real_get = store.client.get_object
    calls: list[dict[str, Any]] = []

    class Breaking:
        """The real response body, cut once after a megabyte (as a dropped connection)."""

        def __init__(self, body: Any) -> None:
            self.body, self.read_so_far = body, 0

        def read(self, amount: int) -> bytes:
            if len(calls) == 1 and self.read_so_far >= MiB:
                raise ReadTimeoutError(endpoint_url=moto_server.endpoint)
            piece: bytes = self.body.read(amount)
            self.read_so_far += len(piece)
            return piece

        def close(self) -> None:
            self.body.close()

    def get_object(**request: Any) -> dict[str, Any]:
        calls.append(request)
        response: dict[str, Any] = real_get(**request)
        response["Body"] = Breaking(response["Body"])
        return response

    object.__setattr__(store, "client", _Patched(store.client, get_object=get_object))
    assert b"".join(store.open(writer.blob_id, 256 * 1024)) == data
    assert len(calls) == 2
    assert calls[1]["Range"] == f"bytes={MiB}-"
    assert calls[1]["IfMatch"]  # the same object, or nothing

    # A blob replaced between the two requests is refused, not spliced.
    calls.clear()
    pieces = store.open(writer.blob_id, 256 * 1024)
    taken = b"".join(next(pieces) for _ in range(4))
    moto_server.client().put_object(Bucket=bucket, Key=store.key(writer.blob_id), Body=b"other")
    with pytest.raises(StorageError):
        taken += b"".join(pieces)


class _Patched:
    """A client with some methods replaced (the rest are the real client's)."""

    def __init__(self, client: Any, **methods: Any) -> None:
        self._client, self._methods = client, methods

    def __getattr__(self, name: str) -> Any:
        return self._methods.get(name) or getattr(self._client, name)


def test_a_completion_whose_answer_was_lost_still_commits(
    moto_server: MotoServer, bucket: str, store: S3BlobStore
) -> None:
    """Joining the parts of a large object may outlast the client's wait: the request is
    retried, and finds the upload gone because the first one completed it."""
    from botocore.exceptions import ReadTimeoutError

    real = store.client

    def complete_then_time_out(**request: Any) -> None:
        real.complete_multipart_upload(**request)
        raise ReadTimeoutError(endpoint_url=moto_server.endpoint)

    object.__setattr__(
        store, "client", _Patched(real, complete_multipart_upload=complete_then_time_out)
    )
    data = pattern(PART_SIZE + 100)
    writer = store.create()
    writer.write(data)
    assert writer.commit() == len(data)
    assert b"".join(store.open(writer.blob_id)) == data

    def never_complete(**request: Any) -> None:
        raise ReadTimeoutError(endpoint_url=moto_server.endpoint)

    object.__setattr__(store, "client", _Patched(real, complete_multipart_upload=never_complete))
    failing = store.create()
    failing.write(data)
    with pytest.raises(StorageError):
        failing.commit()
    assert not store.exists(failing.blob_id)
    assert moto_server.uploads(bucket) == []  # aborted


def test_errors_are_storage_errors_without_details(moto_server: MotoServer) -> None:
    missing = S3BlobStore(moto_server.client(), "mailslot-no-such-bucket", "blobs/")
    writer = missing.create()
    writer.write(b"x")
    with pytest.raises(
        StorageError, match=r"^object store: could not store a blob \(NoSuchBucket\)$"
    ):
        writer.commit()
    with pytest.raises(StorageError, match="NoSuchBucket"):
        missing.probe()
    present = S3BlobStore(moto_server.client(), moto_server.new_bucket(), "")
    with pytest.raises(StorageError, match=r"^blob not found$"):
        present.open("0" * 64)


def test_the_memory_of_a_large_upload_and_download_stays_bounded(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    """256 MiB through the store in sealed-chunk pieces, then read back 1 MiB at a time, in a
    fresh process: its peak resident memory grows by a few parts, not by the blob's size (the
    same bound holds for 2 GiB; bench/throughput.py --s3 measures that)."""
    bucket = moto_server.new_bucket()
    script = tmp_path / "measure.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os
            from mailslot.storage.s3 import S3BlobStore
            from tests.s3 import MotoServer

            def peak_kib():
                with open("/proc/self/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            return int(line.split()[1])

            store = S3BlobStore(MotoServer({moto_server.endpoint!r}, None, None).client(),
                                {bucket!r}, "blobs/")
            chunk = os.urandom({CHUNK})
            warm = store.create()  # a small blob (one put, no part): imports, pools
            for _ in range(8):
                warm.write(chunk)
            warm.commit()
            for _ in store.open(warm.blob_id, 1 << 20):
                pass
            before = peak_kib()
            writer = store.create()
            for _ in range({256 * MiB} // len(chunk)):
                writer.write(chunk)
            writer.commit()
            after_upload = peak_kib()
            total = sum(len(piece) for piece in store.open(writer.blob_id, 1 << 20))
            print(before, after_upload, peak_kib(), total)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
        env={**os.environ, **AWS_ENV, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    before, after_upload, after_download, total = map(int, result.stdout.split())
    assert total >= 256 * MiB - CHUNK
    # Bounded by a few parts (5 MiB each): nowhere near the 256 MiB that went through.
    assert (after_upload - before) * 1024 < 4 * PART_SIZE, (before, after_upload)
    assert (after_download - before) * 1024 < 4 * PART_SIZE, (before, after_download)


# Configuration.


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://mailslot-blobs", ("mailslot-blobs", "")),
        ("s3://mailslot-blobs/", ("mailslot-blobs", "")),
        ("s3://mailslot-blobs/tips", ("mailslot-blobs", "tips/")),
        ("s3://my.bucket-1/a/b_c/", ("my.bucket-1", "a/b_c/")),
    ],
)
def test_blob_urls(url: str, expected: tuple[str, str]) -> None:
    assert split_blob_url(url) == expected
    assert load_config({"MAILSLOT_BLOB_URL": url}).s3_location == expected


@pytest.mark.parametrize(
    "url",
    [
        "mailslot-blobs",
        "file:///srv/blobs",
        "s3://",
        "s3://ab",
        "s3://Upper-Case",
        "s3://-dash",
        "s3://bucket/../other",
        "s3://bucket/a/./b",
        "s3://bucket/sp ace",
        "s3://bucket/q?x=1",
    ],
)
def test_bad_blob_urls_stop_start_up(url: str) -> None:
    with pytest.raises(ConfigError, match="MAILSLOT_BLOB_URL"):
        load_config({"MAILSLOT_BLOB_URL": url})


def test_the_endpoint_is_checked_and_masked() -> None:
    with pytest.raises(ConfigError, match="MAILSLOT_S3_ENDPOINT_URL"):
        load_config({"MAILSLOT_S3_ENDPOINT_URL": "minio:9000"})
    config = load_config(
        {"MAILSLOT_BLOB_URL": "s3://b1b/x", "MAILSLOT_S3_ENDPOINT_URL": "https://u:pw@s3.example"}
    )
    assert "pw" not in repr(config)


def test_the_store_is_chosen_by_the_configuration(tmp_path: Path, s3_env: dict[str, str]) -> None:
    files = open_blob_store(load_config({}, data_dir=tmp_path))
    assert isinstance(files, FilesystemBlobStore)
    assert files.root == (tmp_path / "blobs").resolve()
    nested = open_blob_store(load_config({}, data_dir=tmp_path), "orgs/one")
    assert isinstance(nested, FilesystemBlobStore)
    assert nested.root == (tmp_path / "blobs" / "orgs" / "one").resolve()
    config: Config = load_config(s3_env, data_dir=tmp_path)
    store = open_blob_store(config)
    assert isinstance(store, S3BlobStore)
    assert store.prefix == "blobs/"
    shared = open_blob_store(config, "orgs/one", shared=store)
    assert isinstance(shared, S3BlobStore)
    assert shared.prefix == "blobs/orgs/one/"
    assert shared.client is store.client
    with pytest.raises(StorageError):
        open_blob_store(config, "../x")


def test_a_missing_boto3_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    # A module set to None in sys.modules cannot be imported: as if boto3 were not installed.
    code = "import sys; sys.modules['boto3'] = None; from mailslot.cli.main import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            **os.environ,
            "MAILSLOT_DATA_DIR": str(tmp_path),
            "MAILSLOT_BLOB_URL": "s3://mailslot-blobs/tips",
        },
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: MAILSLOT_BLOB_URL is an s3:// URL, which needs the S3 client: "
        "pip install 'mailslot[s3]'"
    ]
