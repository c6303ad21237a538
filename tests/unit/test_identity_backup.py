"""Sources' identities beyond their case's tables: an archive carries each identity's blob
(restored, the allowed recipient and the custodian still open it), shredding an
organisation names the identities' blobs and destroys their keys first, and quotas count
their bytes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from mailslot import backup as backups
from mailslot.cases.models import Item
from mailslot.config import Config, load_config
from mailslot.context import OrgContext, Quotas
from mailslot.crypto import TEST_KDF
from mailslot.identity import requests, services
from mailslot.identity.models import Identity, IdentityRequest
from mailslot.orgs import operator
from mailslot.orgs.errors import QuotaReached
from mailslot.orgs.quotas import check, usage
from mailslot.recipients.models import Role, User
from mailslot.runtime import Runtime, open_runtime
from tests.databases import drop_database, empty_database
from tests.unit.test_identity import IDENTITY, send
from tests.unit.test_services import NOW, add_user, log_in

PASSPHRASE = "several unrelated words for the backup"


@pytest.fixture
def ctx(runtime: Runtime) -> OrgContext:
    return dataclasses.replace(runtime.default, clock=lambda: float(NOW))


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Config]:
    database = empty_database()
    overrides = {"database_url": database} if database else {}
    yield load_config({}, data_dir=tmp_path / "restored", kdf=TEST_KDF, **overrides)
    drop_database(database)


def user(ctx: OrgContext, user_id: str) -> User:
    with ctx.db() as db:
        found = db.get(User, user_id)
        assert found is not None
        db.expunge(found)
        return found


def archive(ctx: OrgContext, path: Path) -> backups.BackupSummary:
    with path.open("wb") as out:
        return backups.write_backup(
            ctx.engine, ctx.blobs, out, PASSPHRASE, now=NOW, params=TEST_KDF
        )


def test_a_restored_identity_opens_for_its_recipient_and_custodian(
    ctx: OrgContext, runtime: Runtime, target: Config, tmp_path: Path
) -> None:
    alice, cora = add_user(runtime, "alice"), add_user(runtime, "cora", Role.CUSTODIAN, ())
    alice_seed, cora_seed = log_in(runtime, alice), log_in(runtime, cora)
    case_id = send(ctx, identity=IDENTITY)
    asked = requests.request_access(ctx, user(ctx, alice.id), case_id, "To protect her.")
    requests.decide(ctx, user(ctx, cora.id), cora_seed, asked.id, approve=True)

    summary = archive(ctx, tmp_path / "org.msla")
    assert summary.rows["identities"] == 1
    assert summary.rows["identity_key_wraps"] == 2  # the custodian's and alice's
    assert summary.rows["identity_requests"] == 1
    assert summary.blobs == summary.rows["items"] + 1
    backups.restore(target, tmp_path / "org.msla", PASSPHRASE)

    restored = open_runtime(target)
    try:
        there = dataclasses.replace(restored.default, clock=lambda: float(NOW))
        opened = requests.read(there, user(there, alice.id), alice_seed, case_id)
        assert opened.text == IDENTITY
        with there.db() as db:  # the custodian holds no case: the data functions
            identity = db.scalars(select(Identity)).one()
            key_pair = services.identity_key(db, identity, user(there, cora.id), cora_seed)
            assert services.open_identity(db, there.blobs, identity, key_pair).text == IDENTITY
    finally:
        restored.close()

    # An identity whose blob vanished during a backup (its case was deleted) is left out
    # with its key wraps and requests, as an item is.
    with ctx.db() as db:
        blob_id = db.scalars(select(Identity.blob_id)).one()
    ctx.blobs.delete(blob_id)
    summary = archive(ctx, tmp_path / "later.msla")
    assert summary.dropped == 1
    assert summary.rows["identities"] == summary.rows["identity_key_wraps"] == 0
    assert summary.rows["identity_requests"] == 0
    assert backups.verify_archive(tmp_path / "later.msla", PASSPHRASE).rows == summary.rows


def test_shredding_names_identity_blobs_and_destroys_their_keys_first(
    ctx: OrgContext, runtime: Runtime
) -> None:
    alice = add_user(runtime, "alice")
    add_user(runtime, "cora", Role.CUSTODIAN, ())
    case_id = send(ctx, identity=IDENTITY)
    requests.request_access(ctx, user(ctx, alice.id), case_id, "To protect her.")
    with ctx.db() as db:
        identity_blob = db.scalars(select(Identity.blob_id)).one()
        item_blobs = set(db.scalars(select(Item.blob_id)))
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(" ".join(str(args[2]).split()[:3]))

    event.listen(ctx.engine, "before_cursor_execute", seen)
    try:
        blob_ids = operator.shred(ctx.engine)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", seen)
    assert set(blob_ids) == item_blobs | {identity_blob}
    writes = [s for s in statements if s.startswith(("DELETE", "UPDATE"))]
    # In the key pass, which ends with the users' key wraps, before any row goes.
    keys_gone = writes.index("UPDATE users SET")
    assert writes.index("DELETE FROM identity_key_wraps") < keys_gone
    assert writes.index("UPDATE identity_requests SET") < keys_gone
    assert keys_gone < writes.index("DELETE FROM identities")
    with ctx.db() as db:
        assert db.scalar(select(func.count()).select_from(IdentityRequest)) == 0


def test_quotas_count_the_bytes_of_identities(ctx: OrgContext, runtime: Runtime) -> None:
    add_user(runtime, "alice")
    add_user(runtime, "cora", Role.CUSTODIAN, ())
    send(ctx, identity=IDENTITY)
    with ctx.db() as db:
        items = int(db.scalar(select(func.sum(Item.stored_size))) or 0)
        identity = int(db.scalars(select(Identity.stored_size)).one())
        assert identity > 0
        assert usage(db).stored_bytes == items + identity
        check(db, Quotas(storage=items + identity), new_case=False, adding=0)
        with pytest.raises(QuotaReached):
            check(db, Quotas(storage=items + identity), new_case=False, adding=1)
