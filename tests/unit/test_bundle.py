"""Export bundles (MSLB): known answers, every reject vector, decryption into a folder,
tampering, the writer's own refusals, and random input to the reader."""

from __future__ import annotations

import dataclasses
import io
import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailslot.crypto import (
    DecryptionError,
    DeterministicRandom,
    EncodingError,
    KeyPair,
    WrapPurpose,
    _hazmat,
    case_key_context,
    key_fingerprint,
    open_meta,
    seal_item,
    seal_meta,
    wrap_key,
)
from mailslot.filenames import OutputNames, output_filename
from mailslot.offline.bundle import (
    MAX_FRAME_SIZE,
    BundleReader,
    BundleWriter,
    CaseRecord,
    CaseWrap,
    ItemEntry,
    ItemRecord,
    decode_frame_json,
    read_all,
)
from mailslot.offline.decrypt import INDEX_NAME, check_output_dir, decrypt_bundle

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "bundle.json"
Vector = dict[str, Any]

pytestmark = [pytest.mark.timeout(120), pytest.mark.no_database]


@cache
def load() -> Vector:
    content: Vector = json.loads(VECTORS.read_text())
    return content


def vector(name: str = "two-cases") -> Vector:
    result: Vector = next(v for v in load()["vectors"] if v["name"] == name)
    return result


def good(name: str = "two-cases") -> bytes:
    return bytes.fromhex(vector(name)["bundle"])


def key(name: str) -> KeyPair:
    return KeyPair.from_seed(bytes.fromhex(vector()["keys"][name]["seed"]))


def build(parts: list[Any]) -> bytes:
    pieces = load()["pieces"]
    return b"".join(
        bytes.fromhex(pieces[p]) if isinstance(p, str) else bytes.fromhex(p["hex"]) for p in parts
    )


def decrypt(data: bytes, pair: KeyPair, out: Path) -> Any:
    out.mkdir(exist_ok=True)
    lines: list[str] = []
    report = decrypt_bundle(io.BytesIO(data), pair, out, echo=lines.append, now=1_800_000_000)
    return report


def files_under(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


# -- known answers --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["two-cases", "two-cases-version-1"])
def test_vector_reads_back_to_its_fields(name: str) -> None:
    data = good(name)
    assert _hazmat.sha256(data).hex() == vector(name)["bundle_sha256"]
    assert data[:5] == (b"MSLB\x02" if name == "two-cases" else b"MSLB\x01")
    records = read_all(io.BytesIO(data))
    expected_cases = vector(name)["cases"]
    cases = [r for r in records if isinstance(r, CaseRecord)]
    items = [r for r in records if isinstance(r, ItemRecord)]
    assert [c.id.hex() for c in cases] == [c["id"] for c in expected_cases]
    for case, spec in zip(cases, expected_cases, strict=True):
        assert case.pseudonym == spec["pseudonym"]
        assert case.created_at == spec["created_at"]
        assert case.public_key == KeyPair.from_seed(bytes.fromhex(spec["seed"])).public_key
        readers = {vector()["keys"][name]["fingerprint"] for name in spec["readers"]}
        assert {w.recipient.hex() for w in case.wraps} == readers
        for wrap in case.wraps:
            reader = next(
                key(n)
                for n in spec["readers"]
                if key_fingerprint(key(n).public_key) == wrap.recipient
            )
            context = case_key_context(case.id, case.key_version)
            seed = reader.unwrap(wrap.wrapped, WrapPurpose.CASE_KEY, context)
            assert seed.hex() == spec["seed"]
        assert case.key_version == spec.get("key_version", 0)
        past = spec.get("past_seeds", [])
        assert sorted(w.version for w in case.past_wraps) == list(range(len(past))) * len(
            spec["readers"]
        )
        for wrap in case.past_wraps:
            reader = next(
                key(n)
                for n in spec["readers"]
                if key_fingerprint(key(n).public_key) == wrap.recipient
            )
            context = case_key_context(case.id, wrap.version)
            seed = reader.unwrap(wrap.wrapped, WrapPurpose.CASE_KEY, context)
            assert seed.hex() == past[wrap.version]
    assert len(items) == sum(len(c["items"]) for c in expected_cases)
    versions = [i.get("key_version", 0) for c in expected_cases for i in c["items"]]
    assert [i.key_version for i in items] == versions


def test_writer_reproduces_the_vector_byte_for_byte() -> None:
    """Frames are canonical JSON and streams are reproducible: only the wraps are taken over."""
    records = read_all(io.BytesIO(good()))
    specs = {i["id"]: i for c in vector()["cases"] for i in c["items"]}
    out = io.BytesIO()
    writer = BundleWriter(out)
    for record in records:
        if isinstance(record, CaseRecord):
            writer.case(record)
            continue
        spec = specs[record.id.hex()]
        data_key = bytes.fromhex(spec["data_key"])
        stream = seal_item(
            record.id,
            data_key,
            bytes.fromhex(spec["plaintext"]),
            DeterministicRandom(bytes.fromhex(spec["item_rng_seed"])),
        )
        meta = seal_meta(
            record.id,
            data_key,
            spec["meta"],
            DeterministicRandom(bytes.fromhex(spec["meta_rng_seed"])),
        )
        assert meta == record.sealed_meta
        assert len(stream) == record.size
        writer.item(record, [stream[:100], stream[100:]])
    writer.finish()
    assert out.getvalue() == good()


def test_frames_follow_the_spec() -> None:
    data = good()
    (size,) = struct.unpack(">I", data[5:9])
    first = data[9 : 9 + size]
    obj = json.loads(first)
    assert first == json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    assert obj["type"] == "case"
    assert set(obj) == {
        "type",
        "id",
        "pseudonym",
        "created_at",
        "public_key",
        "wraps",
        "items",
        "key_version",
        "past_wraps",
    }
    # The end frame closes the file.
    tail = json.dumps({"cases": 2, "items": 5, "type": "end"}, separators=(",", ":")).encode()
    assert data.endswith(struct.pack(">I", len(tail)) + tail)


def test_alice_opens_the_first_case_only(tmp_path: Path) -> None:
    report = decrypt(good(), key("recipient-alice"), tmp_path)
    assert report.failures == 0
    assert [c.record.pseudonym for c in report.opened] == ["amber falcon"]
    assert [c.record.pseudonym for c in report.skipped] == ["quiet harbour"]
    first = vector()["cases"][0]
    texts = {i["position"]: bytes.fromhex(i["plaintext"]) for i in first["items"]}
    files = files_under(tmp_path)
    assert files["amber falcon/001-message.txt"] == texts[1]
    assert files["amber falcon/minutes 2026.pdf"] == texts[2]
    assert files["amber falcon/003-reply.txt"] == texts[3]
    index = files[f"amber falcon/{INDEX_NAME}"].decode()
    assert "minutes 2026.pdf" in index
    assert 'sent as "../minutes 2026.pdf"' in index
    assert set(files) == {
        "amber falcon/001-message.txt",
        "amber falcon/minutes 2026.pdf",
        "amber falcon/003-reply.txt",
        f"amber falcon/{INDEX_NAME}",
    }
    for path in tmp_path.rglob("*"):
        assert path.stat().st_mode & 0o077 == 0


def test_bob_opens_both_and_every_key_version(tmp_path: Path) -> None:
    report = decrypt(good(), key("recipient-bob"), tmp_path)
    assert report.failures == 0
    assert len(report.opened) == 2
    files = files_under(tmp_path)
    assert files["quiet harbour/001-message.txt"] == b"Only bob may read this."  # version 0
    assert files["quiet harbour/002-message.txt"] == b"Sent after the key was rotated."  # 1


def test_a_version_1_bundle_still_opens(tmp_path: Path) -> None:
    report = decrypt(good("two-cases-version-1"), key("recipient-bob"), tmp_path)
    assert report.failures == 0
    assert len(report.opened) == 2
    assert files_under(tmp_path)["quiet harbour/001-message.txt"] == b"Only bob may read this."


def test_an_item_under_a_version_the_reader_never_held_is_damaged(tmp_path: Path) -> None:
    """A revoked holder's bundle entry: the case's current wrap opens, but an item claims a
    key version with no past wrap for this reader. It is reported, never guessed at."""
    records = read_all(io.BytesIO(good()))
    second = [r for r in records if isinstance(r, CaseRecord)][1]
    out = io.BytesIO()
    writer = BundleWriter(out)
    writer.case(dataclasses.replace(second, past_wraps=()))
    specs = {i["id"]: i for c in vector()["cases"] for i in c["items"]}
    for record in records:
        if isinstance(record, ItemRecord) and record.case == second.id:
            spec = specs[record.id.hex()]
            stream = seal_item(
                record.id,
                bytes.fromhex(spec["data_key"]),
                bytes.fromhex(spec["plaintext"]),
                DeterministicRandom(bytes.fromhex(spec["item_rng_seed"])),
            )
            writer.item(record, [stream])
    writer.finish()
    report = decrypt(out.getvalue(), key("recipient-bob"), tmp_path)
    assert report.failures == 1
    files = files_under(tmp_path)
    assert "quiet harbour/001-message.txt" not in files  # version 0: no wrap for bob now
    assert files["quiet harbour/002-message.txt"] == b"Sent after the key was rotated."


def test_a_stranger_opens_nothing(tmp_path: Path) -> None:
    report = decrypt(good(), KeyPair.from_seed(b"s" * 32), tmp_path)
    assert report.failures == 0
    assert report.opened == []
    assert len(report.skipped) == 2
    assert files_under(tmp_path) == {}


# -- rejects --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [pytest.param(v, id=v["name"]) for v in load()["reject"]])
def test_bundle_rejects(case: Vector, tmp_path: Path) -> None:
    data = build(case["bundle"])
    assert len(data) == case["length"]
    with pytest.raises(DecryptionError):
        read_all(io.BytesIO(data))
    report = decrypt(data, key("recipient-alice"), tmp_path)
    assert report.damaged
    assert not any(p.name.endswith(".partial") for p in tmp_path.rglob("*"))


def test_every_bundle_rule_has_a_vector() -> None:
    assert {v["rule"] for v in load()["reject"]} == {
        "BUNDLE-MAGIC",
        "BUNDLE-TRUNCATED",
        "BUNDLE-TRAILING",
        "BUNDLE-FRAME-SIZE",
        "BUNDLE-JSON",
        "BUNDLE-FIELD",
        "BUNDLE-SEQUENCE",
        "BUNDLE-DUPLICATE",
    }


def stream_offsets(data: bytes) -> list[tuple[int, int]]:
    """(start, size) of every item stream in a bundle."""
    offsets = []
    at = 5
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        frame = json.loads(data[at + 4 : at + 4 + size])
        at += 4 + size
        if frame["type"] == "item":
            offsets.append((at, frame["size"]))
            at += frame["size"]
    return offsets


@pytest.mark.parametrize("where", ["header", "middle", "last-byte"])
def test_tampered_stream_fails_that_item_only(tmp_path: Path, where: str) -> None:
    start, size = stream_offsets(good())[1]  # the file
    index = {"header": start + 20, "middle": start + size // 2, "last-byte": start + size - 1}
    data = bytearray(good())
    data[index[where]] ^= 0x01
    report = decrypt(bytes(data), key("recipient-alice"), tmp_path)
    assert report.failures == 1
    assert not report.damaged
    files = files_under(tmp_path)
    assert "amber falcon/minutes 2026.pdf" not in files
    assert not any(name.endswith(".partial") for name in files)
    assert "amber falcon/001-message.txt" in files
    assert "amber falcon/003-reply.txt" in files
    assert "NOT WRITTEN" in files[f"amber falcon/{INDEX_NAME}"].decode()


def test_tampered_wrap_and_meta_are_reported(tmp_path: Path) -> None:
    records = read_all(io.BytesIO(good()))
    message = next(r for r in records if isinstance(r, ItemRecord))
    data = good().replace(message.wrap.hex().encode(), flip_hex(message.wrap.hex()).encode())
    report = decrypt(data, key("recipient-alice"), tmp_path / "wrap")
    assert report.failures == 1
    data = good().replace(
        message.sealed_meta.hex().encode(), flip_hex(message.sealed_meta.hex()).encode()
    )
    report = decrypt(data, key("recipient-alice"), tmp_path / "meta")
    assert report.failures == 1


def test_tampered_case_wrap_fails_the_case(tmp_path: Path) -> None:
    first = next(r for r in read_all(io.BytesIO(good())) if isinstance(r, CaseRecord))
    wrap = first.wrap_for(key_fingerprint(key("recipient-alice").public_key))
    assert wrap is not None
    data = good().replace(wrap.wrapped.hex().encode(), flip_hex(wrap.wrapped.hex()).encode())
    report = decrypt(data, key("recipient-alice"), tmp_path)
    assert report.failures == 1
    assert report.opened == []
    assert files_under(tmp_path) == {}


def flip_hex(text: str) -> str:
    last = text[-1]
    return text[:-1] + ("0" if last != "0" else "1")


@pytest.mark.parametrize("cut", [1, 100, 2000, 5000])
def test_truncated_bundle_keeps_only_verified_files(tmp_path: Path, cut: int) -> None:
    data = good()[:-cut]
    report = decrypt(data, key("recipient-alice"), tmp_path)
    assert report.damaged
    assert report.failures >= 1
    for name, content in files_under(tmp_path).items():
        assert not name.endswith(".partial")
        if name.endswith("001-message.txt"):
            assert content == b"Troops left the base on Monday.\n"


def test_output_dir_must_be_empty(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "new")
    check_output_dir(tmp_path)
    (tmp_path / "x").write_text("x")
    with pytest.raises(FileExistsError):
        check_output_dir(tmp_path)
    with pytest.raises(FileExistsError):
        check_output_dir(tmp_path / "x")


# -- the writer -----------------------------------------------------------------------------------


def sample_case(items: int = 1) -> CaseRecord:
    pair = KeyPair.from_seed(b"c" * 32)
    reader = KeyPair.from_seed(b"r" * 32)
    return CaseRecord(
        id=b"\x01" * 16,
        pseudonym="amber falcon",
        created_at=3600,
        public_key=pair.public_key,
        wraps=(
            CaseWrap(
                key_fingerprint(reader.public_key),
                wrap_key(reader.public_key, pair.seed, WrapPurpose.CASE_KEY, b"\x01" * 16),
            ),
        ),
        items=items,
    )


def sample_item(position: int = 1, size: int = 4, item_id: bytes = b"\x02" * 16) -> ItemRecord:
    return ItemRecord(
        case=b"\x01" * 16,
        id=item_id,
        position=position,
        kind="message",
        created_at=3600,
        sealed_meta=b"MSLM\x01",
        wrap=b"w" * 1173,
        size=size,
    )


def test_writer_refuses_what_the_reader_would() -> None:
    writer = BundleWriter(io.BytesIO())
    with pytest.raises(EncodingError):
        writer.item(sample_item(), [b"1234"])
    writer.case(sample_case(items=2))
    with pytest.raises(EncodingError):
        writer.finish()
    with pytest.raises(EncodingError):
        writer.item(sample_item(size=4), [b"12345"])
    writer = BundleWriter(io.BytesIO())
    writer.case(sample_case(items=2))
    with pytest.raises(EncodingError):
        writer.item(sample_item(size=4), [b"123"])
    writer = BundleWriter(io.BytesIO())
    with pytest.raises(EncodingError):
        writer.case(
            CaseRecord(
                id=b"\x01" * 16,
                pseudonym="bad\u202ename",
                created_at=0,
                public_key=sample_case().public_key,
                wraps=(),
                items=0,
            )
        )


def test_reader_streams_items_in_pieces() -> None:
    out = io.BytesIO()
    writer = BundleWriter(out)
    writer.case(sample_case(items=2))
    big = bytes(range(256)) * 1000
    writer.item(sample_item(size=len(big)), [big])
    writer.item(sample_item(position=5, size=3, item_id=b"\x03" * 16), [b"abc"])
    writer.finish()
    seen: list[bytes] = []
    for entry in BundleReader(io.BytesIO(out.getvalue())):
        if isinstance(entry, ItemEntry) and entry.record.position == 1:
            pieces = list(entry.stream())
            assert max(len(p) for p in pieces) <= 64 * 1024
            seen.append(b"".join(pieces))
        # the second item's stream is not read: the reader skips it
    assert seen == [big]


def test_frame_json_is_strict() -> None:
    for text in (b'{"a":1,"a":1}', b'{"a":1.5}', b'{"a":Infinity}', b"[]", b"\xff", b""):
        with pytest.raises(DecryptionError):
            decode_frame_json(text)
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(DecryptionError):
        decode_frame_json(deep)
    assert decode_frame_json(b'{"a":[1,"x"]}') == {"a": [1, "x"]}


# -- random input ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=400).map(lambda b: b"MSLB\x01" + b),
        st.builds(
            lambda n, body: b"MSLB\x01" + struct.pack(">I", n) + body,
            st.integers(0, MAX_FRAME_SIZE + 10),
            st.binary(max_size=200),
        ),
    )
)
def test_reader_only_raises_decryption_error(data: bytes) -> None:
    with pytest.raises(DecryptionError):
        read_all(io.BytesIO(data))


@settings(max_examples=200, deadline=None)
@given(
    at=st.integers(0, 20_000),
    replacement=st.binary(min_size=0, max_size=6),
    remove=st.integers(0, 6),
)
def test_mutated_bundles_parse_or_raise_the_opaque_error(
    at: int, replacement: bytes, remove: int
) -> None:
    data = good()
    at %= len(data) + 1
    mutated = data[:at] + replacement + data[at + remove :]
    try:
        records = read_all(io.BytesIO(mutated))
    except DecryptionError:
        return
    assert len(records) == len(read_all(io.BytesIO(data))) or mutated == data


def test_mutated_bundles_decrypt_without_crashing(tmp_path: Path) -> None:
    data = good()
    for i, at in enumerate(range(0, len(data), 397)):
        mutated = data[:at] + bytes([data[at] ^ 0x55]) + data[at + 1 :]
        report = decrypt(mutated, key("recipient-bob"), tmp_path / str(i))
        assert report.failures >= 0
        assert not any(p.name.endswith(".partial") for p in (tmp_path / str(i)).rglob("*"))


# -- output names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\boot.ini", "boot.ini"),
        (".bashrc", "bashrc"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("a\u200f\u2066b.txt", "ab.txt"),
        ("what?.txt", "what_.txt"),
        ('a<b>c:"d"|e*.doc', "a_b_c__d__e_.doc"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ("  two  spaces\tand tab .txt ", "two spacesand tab.txt"),
        ("", "file"),
        ("...", "file"),
        ("보고서.hwp", "보고서.hwp"),
    ],
)
def test_output_filename(raw: str, expected: str) -> None:
    assert output_filename(raw) == expected


def test_output_filename_is_bounded_in_bytes() -> None:
    name = output_filename("가" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= 200
    assert len((name + " (99999).partial").encode()) <= 255


def test_output_names_are_unique_ignoring_case() -> None:
    names = OutputNames()
    names.reserve(INDEX_NAME)
    taken = [names.take(n) for n in ("a.txt", "A.TXT", "a.txt", "conversation.txt", "x/../a.txt")]
    assert taken == ["a.txt", "A (2).TXT", "a (3).txt", "conversation (2).txt", "a (4).txt"]


def test_open_meta_of_vector_items() -> None:
    """The sealed metadata in the vector opens to the recorded values."""
    specs = {i["id"]: i for c in vector()["cases"] for i in c["items"]}
    for record in read_all(io.BytesIO(good())):
        if isinstance(record, ItemRecord):
            spec = specs[record.id.hex()]
            meta = open_meta(record.id, bytes.fromhex(spec["data_key"]), record.sealed_meta)
            assert meta == spec["meta"]


def _with_drop_keys(data: bytes, keys: list[dict[str, Any]], end_count: int | None) -> bytes:
    """The vector bundle made version 3: ``keys`` as drop key frames before the first case,
    and the end frame's ``drop_keys`` count (None: left out)."""
    from mailslot.offline.bundle import encode_frame

    assert data[:5] == b"MSLB\x02"
    frames, at = [], 5
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        frame = json.loads(data[at + 4 : at + 4 + size])
        stream = frame.get("size", 0) if frame["type"] == "item" else 0
        frames.append((frame, data[at + 4 + size : at + 4 + size + stream]))
        at += 4 + size + stream
    out = io.BytesIO()
    out.write(b"MSLB\x03")
    for frame in keys:
        out.write(encode_frame(frame))
    for frame, stream in frames:
        end = frame["type"] == "end" and end_count is not None
        out.write(encode_frame(dict(frame, drop_keys=end_count) if end else frame) + stream)
    return out.getvalue()


def test_version_3_carries_drop_keys_and_their_rules() -> None:
    """Drop key frames come before the first case, are counted by the end frame, and are
    read back; a bundle without drop keys is written as version 2."""
    from mailslot.offline.bundle import DropKeyRecord, drop_key_frame

    fingerprint = key_fingerprint(key("recipient-alice").public_key)
    record = DropKeyRecord(bytes(range(16)), (CaseWrap(fingerprint, bytes(1173)),))
    frame = drop_key_frame(record)
    data = _with_drop_keys(good(), [frame], 1)
    records = read_all(io.BytesIO(data))
    assert records[0] == record
    assert len(records) == len(read_all(io.BytesIO(good()))) + 1
    for bad in (
        _with_drop_keys(good(), [frame], None),  # the end frame must count them
        _with_drop_keys(good(), [frame], 2),
        _with_drop_keys(good(), [frame, frame], 2),  # an id twice
        _with_drop_keys(good(), [dict(frame, extra=1)], 1),
        b"MSLB\x02" + _with_drop_keys(good(), [frame], 1)[5:],  # version 2 has none
    ):
        with pytest.raises(DecryptionError):
            read_all(io.BytesIO(bad))
    written = io.BytesIO()
    writer = BundleWriter(written, [record])
    writer.finish()
    assert written.getvalue()[:5] == b"MSLB\x03"
    assert read_all(io.BytesIO(written.getvalue())) == [record]
    plain = io.BytesIO()
    BundleWriter(plain).finish()
    assert plain.getvalue()[:5] == b"MSLB\x02"


def test_the_sealed_drop_vector_opens_for_the_drop_key_holder_only(tmp_path: Path) -> None:
    """Version 3's vector: its drop key frame unwraps for alice to the drop key's seed (whose
    recipient it names); alice gets the drop's content beside the sealed file, bob (no wrap of
    the drop key) the sealed file and a note that it is sealed to a key he does not hold; the
    writer reproduces the vector byte for byte."""
    from mailslot.drops import DropKeyPair
    from mailslot.offline.bundle import DropKeyRecord

    spec = vector("a-sealed-drop")
    data = good("a-sealed-drop")
    assert data[:5] == b"MSLB\x03"
    assert _hazmat.sha256(data).hex() == spec["bundle_sha256"]
    records = read_all(io.BytesIO(data))
    [drop_key] = [r for r in records if isinstance(r, DropKeyRecord)]
    [drop_spec] = spec["drop_keys"]
    assert drop_key.id.hex() == drop_spec["id"]
    alice = key("recipient-alice")
    wrap = drop_key.wrap_for(key_fingerprint(alice.public_key))
    assert wrap is not None
    seed = alice.unwrap(wrap.wrapped, WrapPurpose.DROP_KEY, drop_key.id)
    assert seed.hex() == drop_spec["seed"]
    assert str(DropKeyPair(seed).recipient) == drop_spec["recipient"]
    assert drop_key.wrap_for(key_fingerprint(key("recipient-bob").public_key)) is None

    content = bytes.fromhex(spec["drop_content"])
    sealed = bytes.fromhex(spec["cases"][0]["items"][0]["plaintext"])
    report = decrypt(data, alice, tmp_path / "alice")
    assert report.failures == 0
    files = files_under(tmp_path / "alice")
    assert files["silent meadow/report.txt.age"] == sealed
    assert files["silent meadow/report.txt.age.contents/report.txt"] == content
    report = decrypt(data, key("recipient-bob"), tmp_path / "bob")
    assert report.failures == 0  # not held is not a failure
    files = files_under(tmp_path / "bob")
    assert files["silent meadow/report.txt.age"] == sealed
    assert not any(".contents/" in name for name in files)
    assert (
        "sealed to a key this channel does not hold"
        in files[f"silent meadow/{INDEX_NAME}"].decode()
    )

    [item] = spec["cases"][0]["items"]
    out = io.BytesIO()
    writer = BundleWriter(out, [drop_key])
    for record in records:
        if isinstance(record, CaseRecord):
            writer.case(record)
        elif isinstance(record, ItemRecord):
            data_key = bytes.fromhex(item["data_key"])
            random = DeterministicRandom(bytes.fromhex(item["item_rng_seed"]))
            writer.item(record, [seal_item(record.id, data_key, sealed, random)])
    writer.finish()
    assert out.getvalue() == data
