"""An instance whose blobs live in an S3 bucket (a real S3 server over HTTP, tests/s3.py):
deleting a case, the retention purge, a backup and its restore into another bucket, a restore
that fails half-way, and `mailslot check`. Each runs the same code as on files; what is
checked is what the bucket holds afterwards."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from mailslot import backup as backups
from mailslot.cases import retention
from mailslot.cases import services as cases
from mailslot.cases.models import Case, Item
from mailslot.check import run_checks
from mailslot.config import Config, load_config
from mailslot.crypto import TEST_KDF
from mailslot.db.base import make_engine
from mailslot.errors import StorageError
from mailslot.recipients.models import User
from mailslot.runtime import Runtime, open_runtime
from mailslot.storage.s3 import S3BlobStore
from tests.databases import drop_database
from tests.databases import empty_database as fresh_database
from tests.s3 import MotoServer
from tests.unit.test_backup import PASSPHRASE, blob_contents, make_archive, populate, table_rows
from tests.unit.test_services import NOW, add_user, count, new_case

pytestmark = pytest.mark.timeout(300)


def bucket_of(config: Config) -> str:
    assert config.s3_location is not None
    return config.s3_location[0]


def on_s3(config: Config, env: dict[str, str]) -> Config:
    return dataclasses.replace(
        config, blob_url=env["MAILSLOT_BLOB_URL"], s3_endpoint_url=env["MAILSLOT_S3_ENDPOINT_URL"]
    )


@pytest.fixture
def s3_runtime(config: Config, s3_env: dict[str, str]) -> Iterator[Runtime]:
    runtime = open_runtime(on_s3(config, s3_env))
    yield runtime
    runtime.close()


@pytest.fixture
def s3_target(tmp_path: Path, moto_server: MotoServer) -> Iterator[Config]:
    """An empty place to restore into: a new data directory, database and bucket."""
    database = fresh_database()
    overrides = {"database_url": database} if database else {}
    env = moto_server.env(moto_server.new_bucket(), "restored")
    yield load_config(env, data_dir=tmp_path / "restored", kdf=TEST_KDF, **overrides)
    drop_database(database)


def item_blobs(runtime: Runtime, case_id: str) -> list[str]:
    with runtime.default.db() as db:
        return list(db.scalars(select(Item.blob_id).where(Item.case_id == case_id)))


def test_the_runtime_keeps_blobs_in_the_bucket(
    s3_runtime: Runtime, moto_server: MotoServer
) -> None:
    assert isinstance(s3_runtime.default.blobs, S3BlobStore)
    add_user(s3_runtime, "alice")
    case_id = new_case(s3_runtime)
    blobs = item_blobs(s3_runtime, case_id)
    bucket = bucket_of(s3_runtime.config)
    assert sorted(moto_server.keys(bucket)) == sorted(f"blobs/{b}" for b in blobs)
    assert not s3_runtime.config.blob_dir.exists()  # nothing on the local disk
    # Objects hold ciphertext only: the message and the document are nowhere in clear.
    for data in moto_server.objects(bucket).values():
        assert data.startswith(b"MSLI")
        assert b"hello" not in data
        assert b"%PDF" not in data


def test_deleting_a_case_empties_its_objects(s3_runtime: Runtime, moto_server: MotoServer) -> None:
    alice = add_user(s3_runtime, "alice")
    doomed, kept = new_case(s3_runtime), new_case(s3_runtime)
    with s3_runtime.default.db() as db:
        user = db.get(User, alice.id)
        assert user is not None
        case, _ = cases.case_for_user(db, user, doomed)
        returned = cases.delete_case(db, case)
    cases.delete_blobs(s3_runtime.default.blobs, returned)
    bucket = bucket_of(s3_runtime.config)
    assert sorted(moto_server.keys(bucket)) == sorted(
        f"blobs/{b}" for b in item_blobs(s3_runtime, kept)
    )


def test_the_purge_shreds_and_deletes_the_objects(
    s3_runtime: Runtime, moto_server: MotoServer
) -> None:
    add_user(s3_runtime, "alice")
    expired, kept = new_case(s3_runtime), new_case(s3_runtime)
    s3_runtime.default.transact(
        lambda db: db.execute(
            update(Case).where(Case.id == expired).values(last_activity_at=NOW - 100 * 86400)
        )
    )
    gone = item_blobs(s3_runtime, expired)
    assert retention.purge(s3_runtime.default, NOW) == [expired]
    assert count(s3_runtime, Case, Case.id == expired) == 0
    keys = moto_server.keys(bucket_of(s3_runtime.config))
    assert sorted(keys) == sorted(f"blobs/{b}" for b in item_blobs(s3_runtime, kept))
    assert not any(b in key for b in gone for key in keys)


def test_backup_and_restore_between_buckets(
    s3_runtime: Runtime, s3_target: Config, moto_server: MotoServer, tmp_path: Path
) -> None:
    contents = populate(s3_runtime)
    archive = tmp_path / "instance.msla"
    summary = make_archive(s3_runtime, archive)
    assert summary.blobs == len(contents)

    restored = backups.restore(s3_target, archive, PASSPHRASE)
    assert restored.blobs == len(contents)
    engine = make_engine(s3_target.resolved_database_url)
    try:
        assert table_rows(engine) == table_rows(s3_runtime.default.engine)
        store = S3BlobStore.from_config(s3_target)
        assert blob_contents(engine, store) == contents
    finally:
        engine.dispose()
    keys = moto_server.keys(bucket_of(s3_target))
    assert len(keys) == len(contents)
    assert all(key.startswith("restored/") for key in keys)
    assert not s3_target.blob_dir.exists()


def test_restore_refuses_a_bucket_prefix_that_holds_blobs(
    s3_runtime: Runtime, s3_target: Config, tmp_path: Path
) -> None:
    populate(s3_runtime)
    archive = tmp_path / "instance.msla"
    make_archive(s3_runtime, archive)
    occupant = S3BlobStore.from_config(s3_target).create()
    occupant.write(b"already here")
    occupant.commit()
    # Writing to the bucket made only the writers' empty spool folder in the data directory.
    before = sorted(s3_target.data_dir.rglob("*"))
    assert [p.name for p in before] == ["spool"]
    with pytest.raises(backups.RestoreTargetNotEmpty, match="object store"):
        backups.restore(s3_target, archive, PASSPHRASE)
    assert sorted(s3_target.data_dir.rglob("*")) == before  # nothing was changed


def test_a_restore_that_fails_half_way_leaves_the_bucket_empty(
    s3_runtime: Runtime,
    s3_target: Config,
    moto_server: MotoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    populate(s3_runtime)
    archive = tmp_path / "instance.msla"
    make_archive(s3_runtime, archive)
    calls = 0
    real_create = S3BlobStore.create

    def failing_create(self: S3BlobStore) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise StorageError("the store went away")
        return real_create(self)

    monkeypatch.setattr(S3BlobStore, "create", failing_create)
    with pytest.raises(StorageError):
        backups.restore(s3_target, archive, PASSPHRASE)
    assert calls == 3
    bucket = bucket_of(s3_target)
    assert moto_server.keys(bucket) == []
    assert moto_server.uploads(bucket) == []
    backups.check_target(s3_target)  # empty again: a second attempt may start
    monkeypatch.setattr(S3BlobStore, "create", real_create)  # (undo() would drop s3_env)
    backups.restore(s3_target, archive, PASSPHRASE)
    assert len(moto_server.keys(bucket)) == 4


def test_check_writes_reads_and_deletes_one_object(
    s3_runtime: Runtime, moto_server: MotoServer
) -> None:
    config = s3_runtime.config
    bucket = bucket_of(config)
    findings = {f.name: f for f in run_checks(config)}
    store = findings[f"object storage {config.blob_url}"]
    assert store.ok, store
    assert findings["object storage versioning"].ok
    assert moto_server.keys(bucket) == []  # the test object is gone again

    moto_server.client().put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    versioning = {f.name: f for f in run_checks(config)}["object storage versioning"]
    assert (versioning.ok, versioning.warn) == (False, True)
    assert "Enabled" in versioning.detail

    gone = dataclasses.replace(config, blob_url="s3://mailslot-no-such-bucket/blobs")
    failed = {f.name: f for f in run_checks(gone)}[
        "object storage s3://mailslot-no-such-bucket/blobs"
    ]
    assert failed.fails
    assert "NoSuchBucket" in failed.detail
