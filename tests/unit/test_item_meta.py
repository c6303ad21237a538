"""Item metadata (cases/meta.py): the keys Mailslot seals, and the checks made when opening
metadata that whoever holds a data key may have crafted."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailslot.cases.meta import ItemMeta, open_item_meta, seal_item_meta
from mailslot.crypto import DecryptionError, DeterministicRandom, KeyPair, seal_meta
from mailslot.offline.bundle import ItemRecord, read_all
from mailslot.offline.decrypt import decrypt_bundle

ITEM_ID = bytes(range(16))
DATA_KEY = bytes(range(32, 64))
BUNDLE = Path(__file__).resolve().parents[1] / "vectors" / "bundle.json"

FULL: ItemMeta = {
    "filename": "회의록.pdf",
    "content_type": "application/pdf",
    "auto": False,
    "size": 183204,
    "time": 1_764_165_660,
}


@pytest.mark.parametrize(
    "meta",
    [FULL, {}, {"auto": True, "size": 0, "time": 0}, {"filename": "", "content_type": ""}],
)
def test_round_trip(meta: ItemMeta) -> None:
    assert open_item_meta(ITEM_ID, DATA_KEY, seal_item_meta(ITEM_ID, DATA_KEY, meta)) == meta


def test_sealed_as_the_format_seals_the_same_object() -> None:
    sealed = seal_item_meta(ITEM_ID, DATA_KEY, FULL, DeterministicRandom(b"meta"))
    assert sealed == seal_meta(ITEM_ID, DATA_KEY, dict(FULL), DeterministicRandom(b"meta"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("filename", 1),
        ("filename", None),
        ("filename", ["a.txt"]),
        ("content_type", {"type": "text/plain"}),
        ("auto", "yes"),
        ("auto", 1),
        ("auto", None),
        ("size", "32"),
        ("size", True),
        ("size", -1),
        ("size", 32.0),
        ("time", None),
        ("time", -1),
        ("time", False),
        ("time", 1.5e9),
    ],
)
def test_a_wrongly_typed_value_is_the_one_opaque_error(key: str, value: object) -> None:
    sealed = seal_meta(ITEM_ID, DATA_KEY, {"filename": "a.txt", key: value})
    with pytest.raises(DecryptionError):
        open_item_meta(ITEM_ID, DATA_KEY, sealed)


def test_unknown_keys_are_dropped() -> None:
    sealed = seal_meta(ITEM_ID, DATA_KEY, {"size": 3, "name": "a.txt", "extra": [1, {"x": None}]})
    assert open_item_meta(ITEM_ID, DATA_KEY, sealed) == {"size": 3}


def test_damage_is_still_the_one_opaque_error() -> None:
    sealed = bytearray(seal_item_meta(ITEM_ID, DATA_KEY, FULL))
    sealed[-1] ^= 1
    with pytest.raises(DecryptionError):
        open_item_meta(ITEM_ID, DATA_KEY, bytes(sealed))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 53), 1 << 53) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
known_keys = st.sampled_from(["filename", "content_type", "auto", "size", "time"])


@settings(max_examples=200, deadline=None)
@given(fields=st.dictionaries(known_keys | st.text(max_size=12), json_values, max_size=6))
def test_any_object_opens_to_checked_values_or_the_opaque_error(fields: dict[str, Any]) -> None:
    sealed = seal_meta(ITEM_ID, DATA_KEY, fields)
    try:
        meta = open_item_meta(ITEM_ID, DATA_KEY, sealed)
    except DecryptionError:
        return
    assert set(meta) <= {"filename", "content_type", "auto", "size", "time"}
    for key in ("filename", "content_type"):
        assert type(meta.get(key, "")) is str
    assert type(meta.get("auto", False)) is bool
    for key in ("size", "time"):
        value = meta.get(key, 0)
        assert type(value) is int
        assert value >= 0
    assert all(fields[key] == value for key, value in meta.items())


def test_an_offline_bundle_item_with_a_crafted_description_is_reported(tmp_path: Path) -> None:
    """Whoever made a bundle holds the data keys: a wrongly typed value is damage, not a crash."""
    vector = json.loads(BUNDLE.read_text())["vectors"][0]
    bundle = bytes.fromhex(vector["bundle"])
    specs = {i["id"]: i for c in vector["cases"] for i in c["items"]}
    record = next(r for r in read_all(io.BytesIO(bundle)) if isinstance(r, ItemRecord))
    crafted = seal_meta(
        record.id,
        bytes.fromhex(specs[record.id.hex()]["data_key"]),
        {**specs[record.id.hex()]["meta"], "size": "32"},
    )
    assert len(crafted) == len(record.sealed_meta)  # one block either way: framing unchanged
    bundle = bundle.replace(record.sealed_meta.hex().encode(), crafted.hex().encode())
    alice = KeyPair.from_seed(bytes.fromhex(vector["keys"]["recipient-alice"]["seed"]))
    lines: list[str] = []
    report = decrypt_bundle(io.BytesIO(bundle), alice, tmp_path, echo=lines.append, now=0)
    assert report.failures == 1
    damaged = [i for c in report.cases for i in c.items if i.problem is not None]
    assert [i.record.id for i in damaged] == [record.id]
    assert damaged[0].problem is not None
    assert "description" in damaged[0].problem
