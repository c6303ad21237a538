"""Known answers: every vector in ``tests/vectors/`` checked byte for byte.

The vectors are written by ``tests/vectors/generate.py`` (by hand, never from here). This module
reads them with its own recipe reader and re-derives the spec's intermediate values (component
seeds, HPKE info strings, payload and metadata keys) directly from ``docs/spec/format.md``
rather than through the code under test.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mailslot.crypto import (
    DecryptionError,
    DeterministicRandom,
    ItemSealer,
    KdfParams,
    KeyPair,
    _hazmat,
    check_public_key,
    derive_password_keys,
    derive_source_keys,
    digest,
    normalize_codename,
    open_item,
    open_item_stream,
    open_meta,
    open_secret,
    open_session,
    padded_length,
    recovery_kek,
    seal_item,
    seal_meta,
    seal_secret,
    seal_session,
    sealed_size,
    session_keys,
    wrap_key,
)

pytestmark = pytest.mark.no_database


ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "tests" / "vectors"
SPEC = ROOT / "docs" / "spec" / "format.md"
Vector = dict[str, Any]


@cache
def load(name: str) -> Vector:
    content: Vector = json.loads((VECTORS / name).read_text())
    return content


def cases(name: str, section: str = "vectors") -> list[Any]:
    vectors = load(name)[section]
    return [pytest.param(v, id=v.get("name") or str(i)) for i, v in enumerate(vectors)]


def build(spec: Vector) -> bytes:
    """Read a byte recipe (its grammar is in each file's ``description``)."""
    ((kind, value),) = spec.items()
    if kind == "hex":
        return bytes.fromhex(value)
    if kind == "zeros":
        return bytes(value)
    if kind == "repeat":
        return bytes.fromhex(value["hex"]) * int(value["count"])
    if kind == "pattern":
        return bytes((value["start"] + i) % 251 for i in range(value["length"]))
    if kind == "concat":
        return b"".join(build(part) for part in value)
    if kind == "take":
        return build(value["of"])[: value["length"]]
    if kind == "aes256gcm":
        return _hazmat.aead_seal(
            bytes.fromhex(value["key"]),
            bytes.fromhex(value["nonce"]),
            build(value["plaintext"]),
            bytes.fromhex(value["aad"]),
        )
    raise AssertionError(f"unknown recipe {kind}")


def stored(entry: Vector) -> bytes:
    data = build(entry["data"])
    assert len(data) == entry["length"]
    if "sha256" in entry:
        assert _hazmat.sha256(data).hex() == entry["sha256"]
    return data


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


# -- the spec's rule list -------------------------------------------------------------------------


def spec_rules() -> set[str]:
    return set(re.findall(r"^\| `([A-Z]+(?:-[A-Z]+)+)` \|", SPEC.read_text(), re.MULTILINE))


def vector_rules() -> list[str]:
    files = sorted(p.name for p in VECTORS.glob("*.json"))
    return [r["rule"] for name in files for r in load(name).get("reject", [])]


def test_every_spec_rule_has_a_vector_and_every_vector_a_rule() -> None:
    in_spec = spec_rules()
    in_vectors = vector_rules()
    assert len(in_spec) >= 30
    assert in_spec == set(in_vectors)


def test_vector_names_are_unique_per_file() -> None:
    for path in VECTORS.glob("*.json"):
        content = load(path.name)
        for section in ("vectors", "reject"):
            names = [v["name"] for v in content.get(section, []) if "name" in v]
            assert len(names) == len(set(names)), (path.name, section)


# -- key pairs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", cases("keys.json"))
def test_key_pair_from_seed(vector: Vector) -> None:
    seed = h(vector["seed"])
    assert _hazmat.hkdf(seed, info=b"mailslot/v1/kem/mlkem768", length=64) == h(
        vector["mlkem768_seed"]
    )
    assert _hazmat.hkdf(seed, info=b"mailslot/v1/kem/x25519", length=32) == h(
        vector["x25519_private"]
    )
    public = KeyPair.from_seed(seed).public_key
    assert public == h(vector["public_key"])
    assert public[:5] == b"MSLK\x01"
    assert len(public) == 1221
    components = _hazmat.KemPrivateKey(h(vector["mlkem768_seed"]), h(vector["x25519_private"]))
    assert components.public_bytes == public[5:]
    check_public_key(public)


@pytest.mark.parametrize("vector", cases("keys.json", "reject"))
def test_public_key_rejects(vector: Vector) -> None:
    public = h(vector["public_key"])
    with pytest.raises(DecryptionError):
        check_public_key(public)
    with pytest.raises(DecryptionError):
        wrap_key(public, bytes(32), b"item-key", bytes(16))


# -- HPKE wraps -----------------------------------------------------------------------------------


def info(purpose: bytes, context_id: bytes) -> bytes:
    return b"mailslot/v1/wrap/" + purpose + b"/" + struct.pack(">H", len(context_id)) + context_id


@pytest.mark.parametrize("vector", cases("wraps.json"))
def test_wrap_opens(vector: Vector) -> None:
    seed, wrapped, secret = h(vector["recipient_seed"]), h(vector["wrapped"]), h(vector["secret"])
    purpose, context_id = vector["purpose"].encode(), h(vector["context_id"])
    assert info(purpose, context_id) == h(vector["info"])
    assert len(wrapped) == 1173
    assert wrapped[:5] == b"MSLW\x01"
    assert KeyPair.from_seed(seed).unwrap(wrapped, purpose, context_id) == secret
    # Straight from the spec: HPKE base mode over the component keys, with the info string.
    components = _hazmat.KemPrivateKey(
        _hazmat.hkdf(seed, info=b"mailslot/v1/kem/mlkem768", length=64),
        _hazmat.hkdf(seed, info=b"mailslot/v1/kem/x25519", length=32),
    )
    assert components.hpke_open(wrapped[5:], h(vector["info"])) == secret


@pytest.mark.parametrize("vector", cases("wraps.json"))
def test_fresh_wrap_of_vector_inputs_opens_and_differs(vector: Vector) -> None:
    pair = KeyPair.from_seed(h(vector["recipient_seed"]))
    purpose, context_id = vector["purpose"].encode(), h(vector["context_id"])
    fresh = wrap_key(pair.public_key, h(vector["secret"]), purpose, context_id)
    assert len(fresh) == len(h(vector["wrapped"]))
    assert fresh != h(vector["wrapped"])
    assert pair.unwrap(fresh, purpose, context_id) == h(vector["secret"])


def test_wrap_vectors_chain_case_item_and_source() -> None:
    by_name = {v["name"]: v for v in load("wraps.json")["vectors"]}
    case_seed = by_name["case-key-to-alice"]["secret"]
    assert by_name["item-key-to-case"]["recipient_seed"] == case_seed
    source = load("derive.json")["source_keys"][0]
    assert by_name["item-key-to-source"]["recipient_seed"] == source["seed"]


@pytest.mark.parametrize("vector", cases("wraps.json", "reject"))
def test_wrap_rejects(vector: Vector) -> None:
    pair = KeyPair.from_seed(h(vector["recipient_seed"]))
    with pytest.raises(DecryptionError):
        pair.unwrap(h(vector["wrapped"]), vector["purpose"].encode(), h(vector["context_id"]))


# -- secret wraps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", cases("secret_wraps.json"))
def test_secret_wrap(vector: Vector) -> None:
    kek, secret, context = h(vector["kek"]), h(vector["secret"]), h(vector["context"])
    rng = DeterministicRandom(h(vector["rng_seed"]))
    wrapped = seal_secret(kek, secret, context, rng)
    assert wrapped == h(vector["wrapped"])
    assert len(wrapped) == 65
    assert open_secret(kek, wrapped, context) == secret


@pytest.mark.parametrize("vector", cases("secret_wraps.json", "reject"))
def test_secret_wrap_rejects(vector: Vector) -> None:
    with pytest.raises(DecryptionError):
        open_secret(h(vector["kek"]), h(vector["wrapped"]), h(vector["context"]))


# -- items ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", cases("items.json"))
def test_item_seals_to_vector(vector: Vector) -> None:
    data = stored(vector["plaintext"])
    item_id, data_key = h(vector["item_id"]), h(vector["data_key"])
    sealed = seal_item(item_id, data_key, data, DeterministicRandom(h(vector["rng_seed"])))
    assert len(sealed) == vector["ciphertext_length"] == vector["sealed_size"]
    assert _hazmat.sha256(sealed).hex() == vector["ciphertext_sha256"]
    if "ciphertext" in vector:
        assert sealed == h(vector["ciphertext"])
    header = b"MSLI\x01" + item_id + h(vector["salt"])
    assert sealed[:37] == header == h(vector["header"])
    payload_key = _hazmat.hkdf(data_key, salt=h(vector["salt"]), info=b"mailslot/v1/item/payload")
    assert payload_key == h(vector["payload_key"])
    assert padded_length(len(data)) == vector["padded_length"]
    assert sealed_size(len(data)) == vector["sealed_size"]
    assert (len(sealed) - 37 - vector["padded_length"]) // 20 == vector["chunk_count"]


@pytest.mark.parametrize("vector", cases("items.json"))
def test_item_first_chunk_opens_with_spec_nonce(vector: Vector) -> None:
    """Decrypt chunk 0 by hand: nonce = u88(0) || final flag, aad = header."""
    data = stored(vector["plaintext"])
    item_id, data_key = h(vector["item_id"]), h(vector["data_key"])
    sealed = seal_item(item_id, data_key, data, DeterministicRandom(h(vector["rng_seed"])))
    final = vector["chunk_count"] == 1
    chunk = sealed[37:] if final else sealed[37 : 37 + 65552]
    nonce = bytes(11) + (b"\x01" if final else b"\x00")
    plaintext = _hazmat.aead_open(h(vector["payload_key"]), nonce, chunk, h(vector["header"]))
    (data_len,) = struct.unpack(">I", plaintext[:4])
    assert plaintext[4 : 4 + data_len] == data[:data_len]
    assert not any(plaintext[4 + data_len :])
    assert data_len == min(len(data), 65532)


@pytest.mark.parametrize("vector", cases("items.json"))
def test_item_streams_to_vector(vector: Vector) -> None:
    data = stored(vector["plaintext"])
    sealer = ItemSealer(
        h(vector["item_id"]), h(vector["data_key"]), DeterministicRandom(h(vector["rng_seed"]))
    )
    out = [sealer.header(), *(sealer.update(p) for p in pieces(data, 7919)), *sealer.finish()]
    sealed = b"".join(out)
    assert _hazmat.sha256(sealed).hex() == vector["ciphertext_sha256"]


@pytest.mark.parametrize("vector", cases("items.json"))
def test_item_opens_vector(vector: Vector) -> None:
    data = stored(vector["plaintext"])
    item_id, data_key = h(vector["item_id"]), h(vector["data_key"])
    sealed = seal_item(item_id, data_key, data, DeterministicRandom(h(vector["rng_seed"])))
    if "ciphertext" in vector:
        sealed = h(vector["ciphertext"])
    assert open_item(item_id, data_key, sealed) == data
    assert b"".join(open_item_stream(item_id, data_key, pieces(sealed, 4096))) == data


@pytest.mark.parametrize("vector", cases("items.json", "reject"))
def test_item_rejects(vector: Vector) -> None:
    ciphertext = stored(vector["ciphertext"])
    item_id, data_key = h(vector["item_id"]), h(vector["data_key"])
    with pytest.raises(DecryptionError):
        open_item(item_id, data_key, ciphertext)
    with pytest.raises(DecryptionError):
        list(open_item_stream(item_id, data_key, pieces(ciphertext, 1000)))


# -- metadata -------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", cases("meta.json"))
def test_meta(vector: Vector) -> None:
    item_id, data_key = h(vector["item_id"]), h(vector["data_key"])
    sealed = seal_meta(
        item_id, data_key, vector["meta"], DeterministicRandom(h(vector["rng_seed"]))
    )
    assert sealed == h(vector["sealed"])
    key = _hazmat.hkdf(data_key, salt=item_id, info=b"mailslot/v1/item/meta")
    assert key == h(vector["meta_key"])
    body = _hazmat.aead_open(key, sealed[5:17], sealed[17:], b"MSLM\x01" + item_id)
    assert len(body) == vector["body_length"]
    assert len(body) % 256 == 0
    encoded = h(vector["json"])
    assert body[:4] == struct.pack(">I", len(encoded))
    assert body[4 : 4 + len(encoded)] == encoded
    assert json.loads(encoded) == vector["meta"]
    assert open_meta(item_id, data_key, sealed) == vector["meta"]


@pytest.mark.parametrize("vector", cases("meta.json", "reject"))
def test_meta_rejects(vector: Vector) -> None:
    with pytest.raises(DecryptionError):
        open_meta(h(vector["item_id"]), h(vector["data_key"]), stored(vector["sealed"]))


# -- derivations ----------------------------------------------------------------------------------


def argon2(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    return _hazmat.argon2id(
        secret,
        salt=salt,
        memory_kib=params.memory_kib,
        iterations=params.iterations,
        lanes=params.lanes,
        length=32,
    )


@pytest.mark.parametrize("vector", cases("derive.json", "password_keys"))
def test_password_keys(vector: Vector) -> None:
    params = KdfParams.decode(vector["params"])
    keys = derive_password_keys(vector["password"], h(vector["salt"]), params)
    assert keys.verifier == h(vector["verifier"])
    assert keys.kek == h(vector["kek"])
    root = h(vector["argon2id"])
    assert _hazmat.hkdf(root, info=b"mailslot/v1/password/verifier") == keys.verifier
    assert _hazmat.hkdf(root, info=b"mailslot/v1/password/kek") == keys.kek


def test_password_vectors_nfc_and_nfd_agree() -> None:
    vectors = load("derive.json")["password_keys"]
    composed, decomposed = vectors[1], vectors[2]
    assert composed["password"] != decomposed["password"]
    assert composed["kek"] == decomposed["kek"]
    assert composed["verifier"] == decomposed["verifier"]


@pytest.mark.parametrize("vector", cases("derive.json", "source_keys"))
def test_source_keys(vector: Vector) -> None:
    params = KdfParams.decode(vector["params"])
    salt = h(vector["instance_salt"])
    assert normalize_codename(vector["codename"]) == vector["normalized"]
    assert argon2(vector["normalized"].encode(), salt, params) == h(vector["argon2id"])
    keys = derive_source_keys(vector["codename"], salt, params)
    assert keys.lookup == h(vector["lookup"])
    assert keys.key_pair.seed == h(vector["seed"])
    assert _hazmat.sha256(keys.key_pair.public_key).hex() == vector["public_key_sha256"]
    root = h(vector["argon2id"])
    assert _hazmat.hkdf(root, info=b"mailslot/v1/source/lookup") == keys.lookup
    assert _hazmat.hkdf(root, info=b"mailslot/v1/source/seed") == keys.key_pair.seed


def test_source_vectors_normalisation_and_salt() -> None:
    first, spaced, fullwidth, other_salt = load("derive.json")["source_keys"]
    assert first["lookup"] == spaced["lookup"] == fullwidth["lookup"]
    assert first["seed"] == spaced["seed"] == fullwidth["seed"]
    assert other_salt["codename"] == first["codename"]
    assert other_salt["lookup"] != first["lookup"]
    assert other_salt["seed"] != first["seed"]


@pytest.mark.parametrize("vector", cases("derive.json", "normalize_codename"))
def test_normalize_codename(vector: Vector) -> None:
    assert normalize_codename(vector["input"]) == vector["normalized"]
    assert normalize_codename(vector["normalized"]) == vector["normalized"]


@pytest.mark.parametrize("vector", cases("derive.json", "recovery_kek"))
def test_recovery_kek(vector: Vector) -> None:
    kek = recovery_kek(h(vector["recovery_secret"]), h(vector["user_id"]))
    assert kek == h(vector["kek"])


@pytest.mark.parametrize("vector", cases("derive.json", "digest"))
def test_digest(vector: Vector) -> None:
    label, data = vector["label"].encode(), h(vector["data"])
    assert digest(label, data) == h(vector["digest"])
    assert _hazmat.sha256(b"mailslot/v1/" + label + b"\x00" + data) == h(vector["digest"])


@pytest.mark.parametrize("vector", cases("derive.json", "kdf_params"))
def test_kdf_params(vector: Vector) -> None:
    params = KdfParams.decode(vector["text"])
    assert params == KdfParams(vector["memory_kib"], vector["iterations"], vector["lanes"])
    assert params.encode() == vector["text"]


@pytest.mark.parametrize("vector", cases("derive.json", "reject"))
def test_kdf_params_rejects(vector: Vector) -> None:
    with pytest.raises(DecryptionError):
        KdfParams.decode(vector["text"])


# -- sessions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", cases("sessions.json"))
def test_session(vector: Vector) -> None:
    token = h(vector["token"])
    keys = session_keys(token)
    assert keys.session_id == vector["session_id"]
    assert keys.session_id == _hazmat.hkdf(token, info=b"mailslot/v1/session/id").hex()
    assert keys.key == h(vector["key"])
    sealed = seal_session(keys, h(vector["data"]), DeterministicRandom(h(vector["rng_seed"])))
    assert sealed == h(vector["sealed"])
    aad = b"MSLS\x01" + vector["session_id"].encode()
    assert _hazmat.aead_open(keys.key, sealed[5:17], sealed[17:], aad) == h(vector["data"])
    assert open_session(keys, sealed) == h(vector["data"])


@pytest.mark.parametrize("vector", cases("sessions.json", "reject"))
def test_session_rejects(vector: Vector) -> None:
    with pytest.raises(DecryptionError):
        open_session(session_keys(h(vector["token"])), h(vector["sealed"]))
