"""A real ``mailslot serve`` whose blobs live in an S3 bucket (moto's server mode over HTTP,
tests/s3.py): a source's files go up as objects holding only ciphertext and come back whole;
a refused upload leaves neither an object nor an unfinished upload; deleting the case empties
the bucket; and ``mailslot backup`` and ``restore`` move the instance into another bucket,
where a new server reads it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import conftest
from tests.conftest import LiveServer, start_server, stop_server
from tests.databases import TEST_DATABASE
from tests.functional.helpers import find_case, login, new_source, submit
from tests.functional.test_backup import PASSPHRASE, Target, cli, read_case
from tests.s3 import MotoServer

pytestmark = pytest.mark.timeout(600)

MiB = 1 << 20
# Past one part (5 MiB): this file goes up as a multipart upload.
LARGE = os.urandom(7 * MiB) + b"the end of the large file"
SMALL = b"name,amount\nledger,12\n"


@pytest.fixture(scope="module")
def bucket(moto_server: MotoServer) -> str:
    return moto_server.new_bucket()


@pytest.fixture(scope="module")
def s3_server(
    moto_server: MotoServer, bucket: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = {**moto_server.env(bucket), "MAILSLOT_MAX_FILE_SIZE": "10MiB"}
    live = start_server(tmp_path_factory.mktemp("s3"), env)
    yield live
    stop_server(live)


def test_files_go_to_the_bucket_come_back_whole_and_leave_with_their_case(
    s3_server: LiveServer, moto_server: MotoServer, bucket: str
) -> None:
    account = s3_server.add_user("recipient")
    message = s3_server.unique("Objects only, please ")
    with httpx.Client(base_url=s3_server.source_url, timeout=120) as source:
        new_source(source)
        response = submit(
            source,
            message,
            files=[("large.bin", LARGE, "application/octet-stream"), ("s.csv", SMALL, "text/csv")],
        )
        assert response.status_code == 303, response.text
    objects = moto_server.objects(bucket)
    assert len(objects) == 3  # the message and two files
    assert all(key.startswith("blobs/") for key in objects)
    assert moto_server.uploads(bucket) == []
    for data in objects.values():
        assert data.startswith(b"MSLI")  # ciphertext in the item format, nothing else
        assert LARGE[:64] not in data
        assert SMALL not in data
        assert message.encode() not in data
    assert max(len(data) for data in objects.values()) > len(LARGE)  # padded, not exact
    assert not (s3_server.data_dir / "blobs").exists() or not any(
        p.is_file() for p in (s3_server.data_dir / "blobs").rglob("*")
    )

    with s3_server.api_client(account) as api:
        case = find_case(api, message)
        contents = read_case(api, case["id"])
        assert sorted(contents.values(), key=len) == sorted(
            [message.encode(), SMALL, LARGE], key=len
        )
        assert api.delete(f"/cases/{case['id']}").status_code == 204
    assert moto_server.keys(bucket) == []
    assert moto_server.uploads(bucket) == []


def test_a_refused_upload_leaves_nothing_in_the_bucket(
    s3_server: LiveServer, moto_server: MotoServer, bucket: str
) -> None:
    before = set(moto_server.keys(bucket))
    too_large = os.urandom(11 * MiB)  # past MAILSLOT_MAX_FILE_SIZE, after two parts went up
    with httpx.Client(base_url=s3_server.source_url, timeout=120) as source:
        new_source(source)
        response = submit(source, "too large", files=[("big.bin", too_large, "x/y")])
        assert response.status_code == 413, response.text
    assert set(moto_server.keys(bucket)) == before
    assert moto_server.uploads(bucket) == []  # its multipart upload was aborted


def test_backup_and_restore_into_another_bucket(
    s3_server: LiveServer, moto_server: MotoServer, tmp_path: Path
) -> None:
    account = s3_server.add_user("recipient")
    message = s3_server.unique("Backed up from a bucket ")
    with httpx.Client(base_url=s3_server.source_url, timeout=120) as source:
        codename = new_source(source)
        response = submit(source, message, files=[("large.bin", LARGE, "x/y")])
        assert response.status_code == 303, response.text
    with s3_server.api_client(account) as api:
        case = find_case(api, message)
        contents = read_case(api, case["id"])

    secret = tmp_path / "passphrase.txt"
    secret.write_text(PASSPHRASE + "\n")
    archive = tmp_path / "instance.msla"
    made = cli(["backup", "--out", str(archive), "--passphrase-file", str(secret)], s3_server.env)
    assert made.returncode == 0, made.stderr
    assert LARGE[:64] not in archive.read_bytes()

    other = moto_server.new_bucket()
    target = Target(tmp_path / "target", TEST_DATABASE)
    try:
        env = {**target.env(s3_server.env), **moto_server.env(other, "restored")}
        result = cli(["restore", str(archive), "--passphrase-file", str(secret)], env)
        assert result.returncode == 0, result.stderr
        keys = moto_server.keys(other)
        assert keys
        assert all(key.startswith("restored/") for key in keys)
        # A second restore into the same prefix is refused: it is not empty any more.
        again = cli(["restore", str(archive), "--passphrase-file", str(secret)], env)
        assert again.returncode == 1
        with pytest.MonkeyPatch.context() as patch:
            # start_server would make (and, given our URL, never drop) a database of its own.
            patch.setattr(conftest, "fresh_database", lambda: None)
            live = start_server(
                target.base,
                {"MAILSLOT_DATABASE_URL": target.url, **moto_server.env(other, "restored")},
            )
        live.totp = s3_server.totp  # the restored accounts remember which codes were used
        try:
            with live.api_client(account) as api:
                assert read_case(api, case["id"]) == contents
            with httpx.Client(base_url=live.source_url, timeout=60) as source:
                assert login(source, codename).status_code == 303
        finally:
            stop_server(live)
    finally:
        target.close()


def test_demo_data_goes_to_the_bucket(
    s3_server: LiveServer, moto_server: MotoServer, bucket: str
) -> None:
    s3_server.add_user("recipient")  # demo cases need a channel with recipients
    before = set(moto_server.keys(bucket))
    made = cli(["demo-data", "--cases", "5", "--seed", "1"], s3_server.env)
    assert made.returncode == 0, made.stderr
    added = set(moto_server.keys(bucket)) - before
    assert len(added) >= 5  # at least each case's first message
    assert not any(p.is_file() for p in (s3_server.data_dir / "blobs").rglob("*"))
