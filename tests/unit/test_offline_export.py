"""Exporting bundles from a real (temporary SQLite) database and blob store, then decrypting
them as an offline recipient would: the server's bytes, untouched, open with the key alone."""

from __future__ import annotations

import io
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from mailslot import crypto
from mailslot.cases import access, sealing
from mailslot.cases.errors import CaseNotFound
from mailslot.cases.models import Case, ItemKind
from mailslot.channels import services as channels
from mailslot.offline import export as exporting
from mailslot.offline.bundle import CaseRecord, ItemRecord, read_all
from mailslot.offline.decrypt import decrypt_bundle
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role, User
from mailslot.runtime import Runtime

NOW = 1_800_000_000
PASSWORD = "correct horse battery staple"


def add_recipient(runtime: Runtime, username: str) -> crypto.KeyPair:
    with runtime.default.db() as db:
        account = recipients.create_user(
            db,
            username=username,
            role=Role.RECIPIENT,
            password=PASSWORD,
            kdf=crypto.TEST_KDF,
            now=NOW,
            channel_names=("default",),
        )
        keys = recipients.derive_for(account.user, PASSWORD, crypto.TEST_KDF)
        code = str(pyotp.TOTP(account.totp_secret).at(NOW))
        auth = recipients.authenticate(db, account.user, keys, code, NOW)
        assert auth.private_seed is not None
        return crypto.KeyPair.from_seed(auth.private_seed)


def new_case(runtime: Runtime, message: str, document: bytes) -> Case:
    text = sealing.seal_text(runtime.default.blobs, message)
    upload = sealing.ItemUpload(runtime.default.blobs, limit=1 << 30)
    upload.write(document)
    upload.close()
    with runtime.default.db() as db:
        case = sealing.open_case(db, channels.get_channel_by_name(db, "default"), None, NOW)
        sealing.record_items(
            db,
            case,
            [
                sealing.SealedItem(text, ItemKind.MESSAGE, {}),
                sealing.SealedItem(
                    upload, ItemKind.FILE, {"filename": "leak.pdf", "content_type": "x/y"}
                ),
            ],
            now=NOW,
        )
        return case


@pytest.fixture
def alice(runtime: Runtime) -> crypto.KeyPair:
    return add_recipient(runtime, "alice")


def test_export_one_case_and_decrypt(
    runtime: Runtime, alice: crypto.KeyPair, tmp_path: Path
) -> None:
    document = bytes(range(256)) * 700
    case = new_case(runtime, "hello from inside", document)
    other = new_case(runtime, "another case", b"x")
    out = io.BytesIO()
    with runtime.default.db() as db:
        found = exporting.find_case(db, case.pseudonym)
        assert found.id == case.id
        assert exporting.find_case(db, case.id.upper()).id == case.id
        summary = exporting.export_cases(db, runtime.default.blobs, [found], out)
    assert (summary.cases, summary.items, summary.left_out) == (1, 2, 0)
    records = read_all(io.BytesIO(out.getvalue()))
    assert [type(r) for r in records] == [CaseRecord, ItemRecord, ItemRecord]
    assert all(r.id != bytes.fromhex(other.id) for r in records)
    report = decrypt_bundle(io.BytesIO(out.getvalue()), alice, tmp_path, echo=print, now=NOW)
    assert report.failures == 0
    folder = tmp_path / case.pseudonym
    assert (folder / "001-message.txt").read_text() == "hello from inside"
    assert (folder / "leak.pdf").read_bytes() == document


def test_export_all_and_unknown_case(
    runtime: Runtime, alice: crypto.KeyPair, tmp_path: Path
) -> None:
    new_case(runtime, "one", b"1")
    new_case(runtime, "two", b"2")
    out = io.BytesIO()
    with runtime.default.db() as db:
        with pytest.raises(CaseNotFound):
            exporting.find_case(db, "no such case")
        summary = exporting.export_cases(db, runtime.default.blobs, exporting.all_cases(db), out)
    assert (summary.cases, summary.items) == (2, 4)
    report = decrypt_bundle(io.BytesIO(out.getvalue()), alice, tmp_path, echo=print, now=NOW)
    assert report.failures == 0
    assert len(report.opened) == 2


def test_recipient_added_later_is_not_a_reader(
    runtime: Runtime, alice: crypto.KeyPair, tmp_path: Path
) -> None:
    new_case(runtime, "before bob", b"")
    bob = add_recipient(runtime, "bob")
    out = io.BytesIO()
    with runtime.default.db() as db:
        exporting.export_cases(db, runtime.default.blobs, exporting.all_cases(db), out)
    report = decrypt_bundle(io.BytesIO(out.getvalue()), bob, tmp_path, echo=print, now=NOW)
    assert report.opened == []
    assert len(report.skipped) == 1
    del alice


def test_a_rotated_case_exports_and_decrypts_across_key_versions(
    runtime: Runtime, alice: crypto.KeyPair, tmp_path: Path
) -> None:
    """Alice revokes Carol: the bundle opens both the items from before and those after for
    Alice, and nothing new for Carol, who kept her key file."""
    carol = add_recipient(runtime, "carol")
    case = new_case(runtime, "before the revocation", b"old document")
    with runtime.default.db() as db:
        users = {u.username: u for u in db.scalars(select(User))}
        row = db.get(Case, case.id)
        assert row is not None
        access.revoke(db, row, users["alice"], users["carol"].id, now=NOW)
        later = sealing.seal_text(runtime.default.blobs, "after the revocation")
        sealing.record_items(db, row, [sealing.SealedItem(later, ItemKind.MESSAGE, {})], now=NOW)
    out = io.BytesIO()
    with runtime.default.db() as db:
        exporting.export_cases(db, runtime.default.blobs, exporting.all_cases(db), out)
    records = read_all(io.BytesIO(out.getvalue()))
    assert [r.key_version for r in records if isinstance(r, ItemRecord)] == [0, 0, 1]
    (tmp_path / "a").mkdir()
    (tmp_path / "c").mkdir()
    report = decrypt_bundle(io.BytesIO(out.getvalue()), alice, tmp_path / "a", echo=print, now=NOW)
    assert report.failures == 0
    folder = tmp_path / "a" / case.pseudonym
    assert (folder / "001-message.txt").read_text() == "before the revocation"
    assert (folder / "leak.pdf").read_bytes() == b"old document"
    assert (folder / "003-message.txt").read_text() == "after the revocation"
    # Carol's key is no longer addressed at all: the case is skipped, nothing is written.
    report = decrypt_bundle(io.BytesIO(out.getvalue()), carol, tmp_path / "c", echo=print, now=NOW)
    assert report.opened == []
    assert list((tmp_path / "c").iterdir()) == []
