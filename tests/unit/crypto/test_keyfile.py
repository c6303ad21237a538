"""Offline key files (MSLR): the known answers in ``tests/vectors/keyfile.json``, round trips,
and random input, which must only ever raise the one opaque error."""

from __future__ import annotations

import json
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailslot.crypto import (
    DEFAULT_KDF,
    KEYFILE_KDF,
    TEST_KDF,
    DecryptionError,
    DeterministicRandom,
    EncodingError,
    KdfParams,
    KeyPair,
    _hazmat,
    format_fingerprint,
    key_fingerprint,
    open_keyfile,
    open_secret,
    read_keyfile_info,
    seal_keyfile,
)

pytestmark = pytest.mark.no_database

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "keyfile.json"
Vector = dict[str, Any]
PASSPHRASE = "a long offline passphrase"


@cache
def load() -> Vector:
    content: Vector = json.loads(VECTORS.read_text())
    return content


def cases(section: str) -> list[Any]:
    return [pytest.param(v, id=v["name"]) for v in load()[section]]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize("vector", cases("vectors"))
def test_keyfile_seals_to_vector(vector: Vector) -> None:
    params = KdfParams.decode(vector["params"])
    data = seal_keyfile(
        h(vector["seed"]), vector["passphrase"], params, DeterministicRandom(h(vector["rng_seed"]))
    )
    assert data == h(vector["keyfile"])


@pytest.mark.parametrize("vector", cases("vectors"))
def test_keyfile_layout_follows_the_spec(vector: Vector) -> None:
    """Rebuild every part from docs/spec/format.md, without the code under test."""
    data, seed = h(vector["keyfile"]), h(vector["seed"])
    params = KdfParams.decode(vector["params"])
    cost = vector["params"].encode()
    public_key = KeyPair.from_seed(seed).public_key
    header = b"MSLR\x01" + bytes([len(cost)]) + cost + h(vector["salt"]) + public_key
    assert len(header) == vector["header_length"]
    assert data[: len(header)] == header
    assert len(data) == len(header) + 65
    root = _hazmat.argon2id(
        unicodedata.normalize("NFC", vector["passphrase"]).encode(),
        salt=h(vector["salt"]),
        memory_kib=params.memory_kib,
        iterations=params.iterations,
        lanes=params.lanes,
        length=32,
    )
    kek = _hazmat.hkdf(root, info=b"mailslot/v1/keyfile/kek")
    assert kek == h(vector["kek"])
    assert open_secret(kek, data[len(header) :], header) == seed
    fingerprint = _hazmat.sha256(b"mailslot/v1/fingerprint\x00" + public_key)
    assert fingerprint == key_fingerprint(public_key) == h(vector["fingerprint"])


@pytest.mark.parametrize("vector", cases("vectors"))
def test_keyfile_opens_vector(vector: Vector) -> None:
    data = h(vector["keyfile"])
    pair = open_keyfile(data, vector["passphrase"])
    assert pair.seed == h(vector["seed"])
    info = read_keyfile_info(data)
    assert info.public_key == pair.public_key
    assert info.params.encode() == vector["params"]
    assert info.fingerprint == h(vector["fingerprint"])


def test_decomposed_passphrase_opens_with_composed_input() -> None:
    vector = next(v for v in load()["vectors"] if v["name"] == "bob-decomposed-passphrase")
    composed = unicodedata.normalize("NFC", vector["passphrase"])
    assert composed != vector["passphrase"]
    assert open_keyfile(h(vector["keyfile"]), composed).seed == h(vector["seed"])


@pytest.mark.parametrize("vector", cases("reject"))
def test_keyfile_rejects(vector: Vector) -> None:
    data = h(vector["keyfile"])
    with pytest.raises(DecryptionError):
        open_keyfile(data, vector["passphrase"])
    if vector["rule"] not in ("KEYFILE-AUTH", "KEYFILE-MISMATCH"):
        # Layout, cost and key are checked before any Argon2id work.
        with pytest.raises(DecryptionError):
            read_keyfile_info(data)


def test_every_keyfile_rule_has_a_vector() -> None:
    rules = {v["rule"] for v in load()["reject"]}
    assert rules == {
        "KEYFILE-MAGIC",
        "KEYFILE-LENGTH",
        "KEYFILE-PARAMS",
        "KEYFILE-KEY",
        "KEYFILE-AUTH",
        "KEYFILE-MISMATCH",
    }


def test_writers_default_cost_is_at_least_the_login_cost() -> None:
    assert KEYFILE_KDF.memory_kib >= DEFAULT_KDF.memory_kib
    assert KEYFILE_KDF.iterations >= DEFAULT_KDF.iterations
    assert KdfParams.decode(KEYFILE_KDF.encode()) == KEYFILE_KDF


def test_fresh_files_differ_and_open() -> None:
    seed = bytes(range(32))
    first = seal_keyfile(seed, PASSPHRASE, TEST_KDF)
    second = seal_keyfile(seed, PASSPHRASE, TEST_KDF)
    assert first != second
    assert open_keyfile(first, PASSPHRASE).seed == open_keyfile(second, PASSPHRASE).seed == seed


def test_sealing_refuses_bad_input() -> None:
    with pytest.raises(EncodingError):
        seal_keyfile(bytes(31), PASSPHRASE, TEST_KDF)
    with pytest.raises(EncodingError):
        seal_keyfile(bytes(32), "x" * 1025, TEST_KDF)


def test_overlong_passphrase_is_the_opaque_error() -> None:
    data = seal_keyfile(bytes(32), PASSPHRASE, TEST_KDF)
    with pytest.raises(DecryptionError):
        open_keyfile(data, "x" * 1025)


def test_fingerprint_format() -> None:
    text = format_fingerprint(bytes(range(32)))
    assert text.startswith("0001 0203 ")
    assert len(text.split()) == 16


@settings(max_examples=25, deadline=None)
@given(passphrase=st.text(min_size=1, max_size=40), seed=st.binary(min_size=32, max_size=32))
def test_round_trip(passphrase: str, seed: bytes) -> None:
    data = seal_keyfile(seed, passphrase, TEST_KDF)
    assert open_keyfile(data, passphrase).seed == seed
    assert KeyPair.from_seed(seed).public_key == read_keyfile_info(data).public_key


@cache
def good_file() -> bytes:
    return seal_keyfile(bytes(32), PASSPHRASE, TEST_KDF)


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=1500),
        st.binary(max_size=1500).map(lambda b: b"MSLR\x01" + b),
        st.tuples(st.integers(0, 1400), st.binary(min_size=1, max_size=8)).map(
            lambda t: good_file()[: t[0]] + t[1] + good_file()[t[0] + len(t[1]) :]
        ),
    )
)
def test_random_input_only_raises_decryption_error(data: bytes) -> None:
    try:
        read_keyfile_info(data)
    except DecryptionError:
        return
    # The layout parsed: only the passphrase check can fail now, and with the opaque error.
    try:
        pair = open_keyfile(data, PASSPHRASE)
    except DecryptionError:
        return
    assert data == good_file()
    assert pair.seed == bytes(32)
