"""Backup archives (MSLA): round trip through a real database and blob store, the consistency
rule for vanished blobs, every way an archive can be wrong (one opaque error), the frame
parser's limits, refusal of a non-empty target, and random input to the parser."""

from __future__ import annotations

import contextlib
import io
import json
import re
import struct
import tracemalloc
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mailslot import backup as backups
from mailslot import crypto
from mailslot.backup import ArchiveUnreadable
from mailslot.cases.models import Case, Item, ItemKeyWrap
from mailslot.channels.models import Channel
from mailslot.config import Config, load_config
from mailslot.crypto import TEST_KDF
from mailslot.db import migrate
from mailslot.db.base import make_engine
from mailslot.db.models import Base
from mailslot.errors import StorageError
from mailslot.limits.models import RateBucket
from mailslot.runtime import Runtime
from mailslot.sources.models import Source
from mailslot.storage import FilesystemBlobStore
from tests.conftest import drop_database, fresh_database
from tests.unit.crypto.test_vectors import load, stored

pytestmark = pytest.mark.timeout(300)

PASSPHRASE = "several unrelated words for the backup"
SIZES = (0, 1, 70_000, 200_000)


def _blob(runtime: Runtime, data: bytes) -> tuple[str, int]:
    writer = runtime.default.blobs.create()
    writer.write(data)
    return writer.blob_id, writer.commit()


def populate(runtime: Runtime) -> dict[str, bytes]:
    """A channel, a source, a case with items of several sizes and their wraps, a float row."""
    contents: dict[str, bytes] = {}
    with runtime.default.db() as db:
        channel = Channel(name="tips", description="Ünïcode ✓", created_at=3600)
        source = Source(lookup=bytes(range(32)), public_key=b"\x00\xff" * 600, created_at=3600)
        db.add_all([channel, source])
        db.flush()
        case = Case(
            channel_id=channel.id,
            source_id=source.id,
            pseudonym="quiet heron",
            public_key=b"k" * 1221,
            created_at=7200,
            last_activity_at=7200,
            activity_seq=2**40,
            item_count=len(SIZES),
        )
        db.add(case)
        db.flush()
        for position, size in enumerate(SIZES):
            data = bytes((position * 7 + i) % 251 for i in range(size))
            blob_id, stored = _blob(runtime, data)
            item = Item(
                case_id=case.id,
                position=position,
                kind="file",
                blob_id=blob_id,
                stored_size=stored,
                sealed_meta=b"m" * (100 + position),
                created_at=7200,
            )
            db.add(item)
            db.flush()
            db.add(ItemKeyWrap(item_id=item.id, holder="case", wrapped=bytes([position]) * 1173))
            contents[item.id] = data
        db.add(RateBucket(name="submissions", tokens=12.375, updated_at=1_764_165_600.25))
    return contents


def table_rows(engine: Any) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary-key order (blob ids left out: they are remapped)."""
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [
                {k: v for k, v in row._mapping.items() if k != "blob_id"} for row in rows
            ]
    return out


def blob_contents(runtime_or_engine: Any, blobs: Any) -> dict[str, bytes]:
    with runtime_or_engine.connect() as connection:
        rows = connection.execute(select(Item.id, Item.blob_id)).all()
    return {item_id: b"".join(blobs.open(blob_id)) for item_id, blob_id in rows}


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Config]:
    database = fresh_database()
    overrides = {"database_url": database} if database else {}
    yield load_config({}, data_dir=tmp_path / "restored", kdf=TEST_KDF, **overrides)
    drop_database(database)


def make_archive(runtime: Runtime, path: Path) -> backups.BackupSummary:
    with path.open("wb") as out:
        return backups.write_backup(
            runtime.default.engine,
            runtime.default.blobs,
            out,
            PASSPHRASE,
            now=1_764_167_000,
            params=TEST_KDF,
        )


def test_round_trip(runtime: Runtime, target: Config, tmp_path: Path) -> None:
    contents = populate(runtime)
    archive = tmp_path / "instance.msla"
    summary = make_archive(runtime, archive)
    assert (summary.blobs, summary.dropped) == (len(SIZES), 0)
    assert summary.rows["items"] == summary.rows["item_key_wraps"] == len(SIZES)
    assert summary.created_at == 1_764_165_600  # to the hour
    assert archive.read_bytes()[:5] == b"MSLA\x01"

    checked = backups.verify_archive(archive, PASSPHRASE)
    assert (checked.rows, checked.bytes) == (summary.rows, summary.bytes)

    restored = backups.restore(target, archive, PASSPHRASE)
    assert restored.rows == summary.rows
    engine = make_engine(target.resolved_database_url)
    try:
        assert migrate.stored_revision(engine) == migrate.HEAD
        assert table_rows(engine) == table_rows(runtime.default.engine)
        store = FilesystemBlobStore(target.blob_dir)
        assert blob_contents(engine, store) == contents
    finally:
        engine.dispose()


def test_a_vanished_blob_drops_its_item_and_wraps(
    runtime: Runtime, target: Config, tmp_path: Path
) -> None:
    contents = populate(runtime)
    gone = sorted(contents)[1]
    with runtime.default.db() as db:
        blob_id = db.scalar(select(Item.blob_id).where(Item.id == gone))
    assert blob_id is not None
    runtime.default.blobs.delete(blob_id)  # as a case deletion does after its rows commit
    archive = tmp_path / "instance.msla"
    summary = make_archive(runtime, archive)
    assert summary.dropped == 1
    assert summary.rows["items"] == summary.rows["item_key_wraps"] == len(SIZES) - 1
    backups.restore(target, archive, PASSPHRASE)
    engine = make_engine(target.resolved_database_url)
    try:
        restored = table_rows(engine)
    finally:
        engine.dispose()
    assert gone not in {row["id"] for row in restored["items"]}
    assert gone not in {row["item_id"] for row in restored["item_key_wraps"]}
    assert len(restored["items"]) == len(SIZES) - 1


class _WritesDuringBackup:
    """A blob store that commits a new item and its wrap (elsewhere) when the backup first
    opens a blob: the archive must not see them, because its snapshot began earlier."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._store = runtime.default.blobs
        self.done = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def open(self, blob_id: str, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        if not self.done:
            self.done = True
            late_blob, size = _blob(self._runtime, b"late")
            with self._runtime.default.db() as db:
                case = db.scalars(select(Case)).one()
                item = Item(
                    case_id=case.id,
                    position=99,
                    kind="file",
                    blob_id=late_blob,
                    stored_size=size,
                    sealed_meta=b"m",
                    created_at=7200,
                )
                db.add(item)
                db.flush()
                db.add(ItemKeyWrap(item_id=item.id, holder="case", wrapped=b"w" * 1173))
        return self._store.open(blob_id, chunk_size)


def test_the_archive_is_one_snapshot(runtime: Runtime, tmp_path: Path) -> None:
    populate(runtime)
    store = _WritesDuringBackup(runtime)
    archive = tmp_path / "instance.msla"
    with archive.open("wb") as out:
        summary = backups.write_backup(
            runtime.default.engine, store, out, PASSPHRASE, now=0, params=TEST_KDF
        )
    assert store.done
    # Items are read before their wraps; without one snapshot the late wrap would be read.
    assert summary.rows["items"] == summary.rows["item_key_wraps"] == len(SIZES)
    assert backups.verify_archive(archive, PASSPHRASE).rows == summary.rows
    with runtime.default.db() as db:
        assert len(db.scalars(select(ItemKeyWrap)).all()) == len(SIZES) + 1


@pytest.fixture
def archive_bytes(runtime: Runtime, tmp_path: Path) -> bytes:
    populate(runtime)
    path = tmp_path / "good.msla"
    make_archive(runtime, path)
    return path.read_bytes()


def check(data: bytes, passphrase: str = PASSPHRASE) -> backups.BackupSummary:
    entries = backups.open_archive(io.BytesIO(data), passphrase)
    result = None
    for entry in entries:
        if isinstance(entry, backups.BackupSummary):
            result = entry
    assert result is not None
    return result


def header_size(data: bytes) -> int:
    return 5 + 1 + data[5] + 16 + 16


def test_wrong_passphrase_tamper_truncate_and_trailing_bytes(archive_bytes: bytes) -> None:
    good = archive_bytes
    check(good)
    with pytest.raises(ArchiveUnreadable, match=r"^decryption failed$"):
        check(good, "another passphrase entirely")
    start = header_size(good)
    positions = [0, 4, 5, 6, start - 20, start - 1, start, start + 5, start + 40, len(good) // 2]
    positions += [len(good) - 1]
    for index in positions:
        tampered = bytearray(good)
        tampered[index] ^= 0x01
        with pytest.raises(ArchiveUnreadable, match=r"^decryption failed$"):
            check(bytes(tampered))
    for cut in (0, 3, 5, start - 1, start, start + 37, start + 100, 65_552 + start, len(good) - 1):
        with pytest.raises(ArchiveUnreadable):
            check(good[:cut])
    with pytest.raises(ArchiveUnreadable):
        check(good + b"\x00")
    # A cost that would exhaust memory is refused before any Argon2id work.
    huge = b"argon2id$m=99999999,t=3,p=1"
    forged = b"MSLA\x01" + bytes([len(huge)]) + huge + good[6 + good[5] :]
    with pytest.raises(ArchiveUnreadable):
        check(forged)
    with pytest.raises(ArchiveUnreadable):
        check(b"MSLA\x02" + good[5:])


# -- crafted payloads: correctly encrypted, wrongly framed ----------------------------------------

HEADER = crypto.BackupHeader(params=TEST_KDF, salt=bytes(16), archive_id=bytes(range(16)))


@cache
def key() -> bytes:
    return crypto.backup_key(PASSPHRASE, HEADER)


def seal(payload: bytes) -> bytes:
    sealer = crypto.backup_sealer(HEADER, key())
    return HEADER.encode() + sealer.header() + sealer.update(payload) + b"".join(sealer.finish())


def frame(obj: Any) -> bytes:
    data = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack(">I", len(data)) + data


def manifest(**changes: Any) -> dict[str, Any]:
    base = {
        "type": "manifest",
        "format": 1,
        "mailslot": "0.1.0",
        "schema": migrate.HEAD,
        "created_at": 3600,
        "tables": [{"name": s.name, "columns": s.columns} for s in backups.table_specs()],
    }
    base.update(changes)
    return base


def empty_payload(
    *, end: dict[str, Any] | None = None, extra: bytes = b"", man: dict[str, Any] | None = None
) -> bytes:
    specs = backups.table_specs()
    out = frame(man or manifest())
    for spec in specs:
        out += frame({"type": "table", "name": spec.name})
    rows = {s.name: 0 for s in specs}
    out += frame(end or {"type": "end", "rows": rows, "blobs": 0, "bytes": 0, "dropped": 0})
    return out + extra


def test_a_crafted_empty_archive_parses() -> None:
    summary = check(seal(empty_payload()))
    assert (summary.blobs, set(summary.rows.values())) == (0, {0})


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(struct.pack(">I", backups.MAX_FRAME_SIZE + 1), id="frame-too-large"),
        pytest.param(empty_payload(extra=b"\x00"), id="plaintext-after-end"),
        pytest.param(
            empty_payload(extra=frame({"type": "table", "name": "x"})), id="frame-after-end"
        ),
        pytest.param(empty_payload()[:-3], id="end-cut"),
        pytest.param(empty_payload(man=manifest(schema="0001")), id="other-schema"),
        pytest.param(empty_payload(man=manifest(format=2)), id="other-format"),
        pytest.param(empty_payload(man=manifest(tables=[])), id="missing-tables"),
        pytest.param(empty_payload(man=manifest(created_at=1.5)), id="float"),
        pytest.param(empty_payload(man=manifest(extra=1)), id="unknown-key"),
        pytest.param(
            empty_payload(end={"type": "end", "rows": {}, "blobs": 0, "bytes": 0, "dropped": 0}),
            id="end-counts",
        ),
        pytest.param(
            frame(manifest()).replace(b'"format":1', b'"format":1,"format":1'),
            id="duplicate-key",
        ),
        pytest.param(frame([1, 2]), id="not-an-object"),
        pytest.param(b"\x00\x00\x00\x02\xff\xfe", id="not-utf8"),
        pytest.param(b"", id="empty"),
    ],
)
def test_malformed_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(ArchiveUnreadable, match=r"^decryption failed$"):
        check(seal(payload))


def row_archive(table: str, values: list[Any]) -> bytes:
    """An archive whose ``table`` holds one row with ``values`` (columns in schema order)."""
    specs = backups.table_specs()
    out = frame(manifest())
    rows = {s.name: 0 for s in specs}
    for spec in specs:
        out += frame({"type": "table", "name": spec.name})
        if spec.name == table:
            out += frame({"type": "row", "values": values})
            rows[table] = 1
    out += frame({"type": "end", "rows": rows, "blobs": 0, "bytes": 0, "dropped": 0})
    return seal(out)


def bucket(tokens: Any = "1.5", updated: Any = "2.0") -> list[Any]:
    columns = next(s for s in backups.table_specs() if s.name == "rate_buckets").columns
    values = {"name": "submissions", "tokens": tokens, "updated_at": updated}
    return [values[c] for c in columns]


def test_typed_values() -> None:
    check(row_archive("rate_buckets", bucket()))
    for bad in ("1.50", "nan", "inf", 1, None, "1e3"):
        with pytest.raises(ArchiveUnreadable):
            check(row_archive("rate_buckets", bucket(tokens=bad)))
    with pytest.raises(ArchiveUnreadable):
        check(row_archive("rate_buckets", [*bucket(), "extra"]))
    with pytest.raises(ArchiveUnreadable):
        check(row_archive("rate_buckets", {"name": "x"}))  # type: ignore[arg-type]


def test_an_item_without_its_blob_is_refused() -> None:
    columns = next(s for s in backups.table_specs() if s.name == "items").columns
    item = {
        "id": "ab" * 16,
        "case_id": "cd" * 16,
        "position": 0,
        "kind": "file",
        "author_id": None,
        "blob_id": "ef" * 32,
        "stored_size": 3,
        "sealed_meta": "bWV0YQ==",
        "created_at": 3600,
        "seen_by_source": False,
        "key_version": 0,
    }
    with pytest.raises(ArchiveUnreadable):
        check(row_archive("items", [item[c] for c in columns]))


def test_codecs_cover_every_column() -> None:
    specs = backups.table_specs()
    assert [s.name for s in specs] == [t.name for t in Base.metadata.sorted_tables]
    assert {c.kind for s in specs for c in s.codecs} <= {"int", "bool", "float", "bytes", "str"}


def test_restore_refuses_a_non_empty_target(
    archive_bytes: bytes, target: Config, tmp_path: Path
) -> None:
    archive = tmp_path / "a.msla"
    archive.write_bytes(archive_bytes)
    target.data_dir.mkdir()
    (target.data_dir / "left-over").write_text("x")
    with pytest.raises(backups.RestoreTargetNotEmpty):
        backups.restore(target, archive, PASSPHRASE)
    (target.data_dir / "left-over").unlink()
    engine = make_engine(target.resolved_database_url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    with pytest.raises(backups.RestoreTargetNotEmpty):
        backups.restore(target, archive, PASSPHRASE)


def test_a_tampered_archive_writes_nothing(
    archive_bytes: bytes, target: Config, tmp_path: Path
) -> None:
    archive = tmp_path / "a.msla"
    tampered = bytearray(archive_bytes)
    tampered[-100] ^= 0x80  # in the last chunk: every frame before it reads fine
    archive.write_bytes(bytes(tampered))
    with pytest.raises(ArchiveUnreadable):
        backups.restore(target, archive, PASSPHRASE)
    assert not target.data_dir.exists()
    backups.check_target(target)  # still empty: the database too


def test_a_restore_that_fails_half_way_is_undone(
    archive_bytes: bytes, target: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "a.msla"
    archive.write_bytes(archive_bytes)
    calls = 0
    real_create = FilesystemBlobStore.create

    def failing_create(self: FilesystemBlobStore) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise StorageError("disk full")
        return real_create(self)

    monkeypatch.setattr(FilesystemBlobStore, "create", failing_create)
    with pytest.raises(StorageError):
        backups.restore(target, archive, PASSPHRASE)
    assert calls == 3
    assert not target.data_dir.exists()
    backups.check_target(target)  # the database is empty again too
    monkeypatch.undo()
    backups.restore(target, archive, PASSPHRASE)  # and a second attempt works


def test_memory_stays_bounded_by_a_frame_and_a_chunk(
    runtime: Runtime, target: Config, tmp_path: Path
) -> None:
    """A 24 MiB blob goes through backup and restore without being held in memory."""
    populate(runtime)
    size = 24 * 1024 * 1024
    writer = runtime.default.blobs.create()
    for index in range(size // 65536):
        writer.write(index.to_bytes(4, "big") * 16384)
    writer.commit()
    with runtime.default.db() as db:
        case = db.scalars(select(Case)).one()
        db.add(
            Item(
                case_id=case.id,
                position=50,
                kind="file",
                blob_id=writer.blob_id,
                stored_size=size,
                sealed_meta=b"m",
                created_at=7200,
            )
        )
    archive = tmp_path / "big.msla"
    tracemalloc.start()
    try:
        summary = make_archive(runtime, archive)
        _, backup_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        backups.restore(target, archive, PASSPHRASE)
        _, restore_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.bytes > size
    assert backup_peak < 4 * 1024 * 1024, backup_peak
    assert restore_peak < 4 * 1024 * 1024, restore_peak


# -- random input ---------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_random_payloads_fail_closed(payload: bytes) -> None:
    with contextlib.suppress(ArchiveUnreadable):
        check(seal(payload))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_payloads_fail_closed(data: st.DataObject) -> None:
    good = bytearray(empty_payload())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(good) - 1))
        good[index] = data.draw(st.integers(0, 255))
    with contextlib.suppress(ArchiveUnreadable):
        check(seal(bytes(good)))


# -- known answers (tests/vectors/backup.json) ---------------------------------------------------


def backup_vectors(section: str) -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in load("backup.json")[section]]


@pytest.mark.parametrize("vector", backup_vectors("vectors"))
def test_backup_vector(vector: dict[str, Any]) -> None:
    archive, payload = stored(vector["archive"]), stored(vector["payload"])
    header = crypto.read_backup_header(io.BytesIO(archive))
    assert header.params.encode() == vector["cost"]
    assert (header.salt.hex(), header.archive_id.hex()) == (vector["salt"], vector["archive_id"])
    key = crypto.backup_key(vector["passphrase"], header)
    assert key.hex() == vector["key"]
    # Sealing the payload with the vector's randomness gives the archive, byte for byte.
    rng = crypto.DeterministicRandom(bytes.fromhex(vector["rng_seed"]))
    again = crypto.new_backup_header(header.params, rng)
    assert again == header
    sealer = crypto.backup_sealer(header, key, rng)
    sealed = header.encode() + sealer.header() + sealer.update(payload) + b"".join(sealer.finish())
    assert sealed == archive
    source = io.BytesIO(archive)
    crypto.read_backup_header(source)
    assert crypto.open_item(header.archive_id, key, source.read()) == payload
    # The payload is one for this schema revision; a new revision rewrites the file.
    assert vector["schema"] == migrate.HEAD, "run tests/vectors/generate.py (new schema)"
    summary = check(archive, vector["passphrase"])
    assert summary.rows["items"] == summary.rows["item_key_wraps"] == summary.blobs == 1


@pytest.mark.parametrize("vector", backup_vectors("reject"))
def test_backup_reject_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(ArchiveUnreadable, match=r"^decryption failed$"):
        check(stored(vector["archive"]), vector["passphrase"])


def test_every_backup_rule_has_a_vector() -> None:
    spec = (Path(__file__).resolve().parents[2] / "docs" / "spec" / "format.md").read_text()
    rules = set(re.findall(r"^\| `(BACKUP-[A-Z-]+)` \|", spec, re.MULTILINE))
    assert len(rules) >= 10
    assert rules == {v["rule"] for v in load("backup.json")["reject"]}
