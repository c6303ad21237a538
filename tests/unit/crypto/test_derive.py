"""Argon2id cost strings, password and codename derivations, recovery KEKs, sessions, digests."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mailslot.crypto import (
    DEFAULT_KDF,
    TEST_KDF,
    DecryptionError,
    DeterministicRandom,
    EncodingError,
    KdfParams,
    KeyPair,
    content_digest,
    content_sha256,
    derive_password_keys,
    derive_source_keys,
    digest,
    new_salt,
    new_secret,
    normalize_codename,
    open_session,
    recovery_kek,
    seal_session,
    session_keys,
    verify,
)

pytestmark = pytest.mark.no_database

SALT = bytes(range(16))
OTHER_SALT = bytes(range(1, 17))
CODENAME = "acorn bakery cinder dusk ember fable garnet"

# -- cost parameters ------------------------------------------------------------------------------

valid_params = st.integers(1, 8).flatmap(
    lambda lanes: st.builds(
        KdfParams,
        memory_kib=st.integers(8 * lanes, 1024 * 1024),
        iterations=st.integers(1, 16),
        lanes=st.just(lanes),
    )
)


def test_default_and_test_costs() -> None:
    assert DEFAULT_KDF.encode() == "argon2id$m=65536,t=3,p=1"
    assert TEST_KDF.encode() == "argon2id$m=64,t=1,p=1"


@settings(max_examples=200, deadline=None)
@given(params=valid_params)
def test_params_encode_decode_round_trip(params: KdfParams) -> None:
    text = params.encode()
    assert KdfParams.decode(text) == params
    assert KdfParams.decode(text).encode() == text


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40) | st.from_regex(r"argon2id\$m=\w{1,8},t=\w{1,3},p=\w{1,3}"))
def test_decode_accepts_only_the_canonical_spelling(text: str) -> None:
    try:
        params = KdfParams.decode(text)
    except DecryptionError:
        return
    assert params.encode() == text


@pytest.mark.parametrize(
    ("memory_kib", "iterations", "lanes"),
    [(8, 1, 1), (64, 1, 8), (1024 * 1024, 16, 8), (65536, 3, 1)],
)
def test_params_at_the_bounds_are_accepted(memory_kib: int, iterations: int, lanes: int) -> None:
    params = KdfParams(memory_kib, iterations, lanes)
    assert KdfParams.decode(params.encode()) == params


@pytest.mark.parametrize(
    ("memory_kib", "iterations", "lanes"),
    [
        (7, 1, 1),
        (63, 1, 8),
        (1024 * 1024 + 1, 1, 1),
        (64, 0, 1),
        (64, 17, 1),
        (64, 1, 0),
        (72, 1, 9),
        (-1, 1, 1),
    ],
)
def test_params_out_of_bounds_are_refused(memory_kib: int, iterations: int, lanes: int) -> None:
    with pytest.raises(EncodingError):
        KdfParams(memory_kib, iterations, lanes)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "argon2id$m=64,t=1",
        "argon2id$m=64,t=1,p=1,",
        "argon2id$m=64,t=1,p=1\n",
        " argon2id$m=64,t=1,p=1",
        "argon2i$m=64,t=1,p=1",
        "argon2id$p=1,t=1,m=64",
        "argon2id$m=064,t=1,p=1",
        "argon2id$m=64,t=01,p=1",
        "argon2id$m=-64,t=1,p=1",
        "argon2id$m=\u0666\u0664,t=1,p=1",
        "argon2id$m=\uff16\uff14,t=1,p=1",
        "argon2id$m=99999999,t=1,p=1",
        "argon2id$m=7,t=1,p=1",
        "argon2id$m=64,t=17,p=1",
        "argon2id$m=64,t=1,p=9",
    ],
)
def test_decode_rejects_bad_strings(text: str) -> None:
    with pytest.raises(DecryptionError):
        KdfParams.decode(text)


# -- password keys --------------------------------------------------------------------------------


def test_password_keys_are_deterministic_and_separate() -> None:
    one = derive_password_keys("hunter2 hunter2", SALT, TEST_KDF)
    two = derive_password_keys("hunter2 hunter2", SALT, TEST_KDF)
    assert (one.verifier, one.kek) == (two.verifier, two.kek)
    assert one.verifier != one.kek
    assert len(one.verifier) == len(one.kek) == 32
    verify(one.verifier, two.verifier)


@settings(max_examples=25, deadline=None)
@given(password=st.text(max_size=30), other=st.text(max_size=30))
def test_different_passwords_give_different_keys(password: str, other: str) -> None:
    assume(unicodedata.normalize("NFC", password) != unicodedata.normalize("NFC", other))
    one = derive_password_keys(password, SALT, TEST_KDF)
    two = derive_password_keys(other, SALT, TEST_KDF)
    assert one.kek != two.kek
    with pytest.raises(DecryptionError):
        verify(one.verifier, two.verifier)


def test_password_keys_depend_on_salt_and_cost() -> None:
    base = derive_password_keys("pw", SALT, TEST_KDF)
    assert derive_password_keys("pw", OTHER_SALT, TEST_KDF).kek != base.kek
    assert derive_password_keys("pw", SALT, KdfParams(64, 2, 1)).kek != base.kek
    assert derive_password_keys("pw", SALT, KdfParams(128, 1, 1)).kek != base.kek


def test_password_is_nfc_normalised() -> None:
    composed = derive_password_keys("caf\u00e9", SALT, TEST_KDF)
    decomposed = derive_password_keys("cafe\u0301", SALT, TEST_KDF)
    assert composed.kek == decomposed.kek
    assert derive_password_keys("CAF\u00c9", SALT, TEST_KDF).kek != composed.kek


def test_password_input_limits() -> None:
    derive_password_keys("x" * 1024, SALT, TEST_KDF)
    with pytest.raises(EncodingError):
        derive_password_keys("x" * 1025, SALT, TEST_KDF)
    with pytest.raises(EncodingError):
        derive_password_keys("pw", bytes(15), TEST_KDF)
    with pytest.raises(EncodingError):
        derive_password_keys("pw", bytes(17), TEST_KDF)


def test_verify_is_strict() -> None:
    verify(b"a" * 32, b"a" * 32)
    with pytest.raises(DecryptionError):
        verify(b"a" * 32, b"a" * 31 + b"b")
    with pytest.raises(DecryptionError):
        verify(b"a" * 32, b"a" * 31)


# -- codenames ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Acorn BAKERY", "acorn bakery"),
        ("  acorn \t\n bakery  ", "acorn bakery"),
        ("acorn\u00a0bakery", "acorn bakery"),
        ("acorn\u3000bakery", "acorn bakery"),
        ("\uff41\uff43\uff4f\uff52\uff4e bakery", "acorn bakery"),
        ("\ufb01sh", "fish"),
        ("A\u030angstro\u0308m", "\u00e5ngstr\u00f6m"),
        ("\u212bngstr\u00f6m", "\u00e5ngstr\u00f6m"),
        ("J\u030cam", "\u01f0am"),
        ("사과  바나나", "사과 바나나"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalize_codename(raw: str, normal: str) -> None:
    assert normalize_codename(raw) == normal


@settings(max_examples=300, deadline=None)
@given(raw=st.text(max_size=30))
def test_normalized_codename_is_a_fixed_point(raw: str) -> None:
    normal = normalize_codename(raw)
    assert normalize_codename(normal) == normal
    assert normal == normal.strip()
    assert "  " not in normal
    assert unicodedata.normalize("NFKC", normal) == normal


def test_source_keys_are_deterministic_and_follow_normalisation() -> None:
    one = derive_source_keys(CODENAME, SALT, TEST_KDF)
    two = derive_source_keys("  " + CODENAME.upper().replace(" ", "\t") + "\n", SALT, TEST_KDF)
    assert one.lookup == two.lookup
    assert one.key_pair == two.key_pair
    assert one.lookup != one.key_pair.seed
    assert one.key_pair == KeyPair.from_seed(one.key_pair.seed)


@settings(max_examples=20, deadline=None)
@given(a=st.text(min_size=1, max_size=20), b=st.text(min_size=1, max_size=20))
def test_source_keys_differ_for_different_codenames(a: str, b: str) -> None:
    assume(normalize_codename(a) != normalize_codename(b))
    one = derive_source_keys(a, SALT, TEST_KDF)
    two = derive_source_keys(b, SALT, TEST_KDF)
    assert one.lookup != two.lookup
    assert one.key_pair.public_key != two.key_pair.public_key


def test_source_keys_differ_per_instance_salt() -> None:
    one = derive_source_keys(CODENAME, SALT, TEST_KDF)
    two = derive_source_keys(CODENAME, OTHER_SALT, TEST_KDF)
    assert one.lookup != two.lookup
    assert one.key_pair.seed != two.key_pair.seed


def test_source_keys_repr_hides_secrets() -> None:
    keys = derive_source_keys(CODENAME, SALT, TEST_KDF)
    assert keys.lookup.hex() not in repr(keys)
    assert keys.key_pair.seed.hex() not in repr(keys)


# -- recovery, digests, randomness ----------------------------------------------------------------


def test_recovery_kek() -> None:
    secret = b"r" * 32
    kek = recovery_kek(secret, b"user-1")
    assert kek == recovery_kek(secret, b"user-1")
    assert kek != recovery_kek(secret, b"user-2")
    assert kek != recovery_kek(b"s" * 32, b"user-1")
    assert len(kek) == 32


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_recovery_secret_must_be_32_bytes(size: int) -> None:
    with pytest.raises(DecryptionError):
        recovery_kek(bytes(size), b"user-1")


def test_digest_separates_labels() -> None:
    assert digest(b"invite", b"token") == digest(b"invite", b"token")
    assert digest(b"invite", b"token") != digest(b"reset", b"token")
    assert digest(b"invite", b"token") != digest(b"invite", b"token2")
    assert len(digest(b"invite", b"")) == 32


def test_new_salt_and_secret_use_the_injected_randomness() -> None:
    assert new_salt(DeterministicRandom(b"x")) == DeterministicRandom(b"x")(16)
    assert new_secret(DeterministicRandom(b"x")) == DeterministicRandom(b"x")(32)
    assert new_secret() != new_secret()
    assert len(new_salt()) == 16


def test_deterministic_random_is_reproducible_and_advances() -> None:
    rng = DeterministicRandom(b"seed")
    first, second = rng(16), rng(16)
    assert first != second
    again = DeterministicRandom(b"seed")
    assert (again(16), again(16)) == (first, second)


# -- sessions -------------------------------------------------------------------------------------


def test_session_keys() -> None:
    keys = session_keys(b"t" * 32)
    assert keys == session_keys(b"t" * 32)
    assert len(keys.session_id) == 64
    assert keys.session_id == keys.session_id.lower()
    int(keys.session_id, 16)
    assert session_keys(b"u" * 32).session_id != keys.session_id
    assert keys.key.hex() != keys.session_id
    assert keys.key.hex() not in repr(keys)


@settings(max_examples=60, deadline=None)
@given(token=st.binary(min_size=16, max_size=48), data=st.binary(max_size=2000))
def test_session_seal_round_trip(token: bytes, data: bytes) -> None:
    keys = session_keys(token)
    sealed = seal_session(keys, data)
    assert sealed.startswith(b"MSLS\x01")
    assert len(sealed) == 5 + 12 + len(data) + 16
    assert open_session(keys, sealed) == data


@settings(max_examples=60, deadline=None)
@given(token=st.binary(min_size=16, max_size=48), other=st.binary(min_size=16, max_size=48))
def test_session_seal_rejects_another_token(token: bytes, other: bytes) -> None:
    assume(token != other)
    sealed = seal_session(session_keys(token), b'{"user": 1}')
    with pytest.raises(DecryptionError):
        open_session(session_keys(other), sealed)


@settings(max_examples=60, deadline=None)
@given(where=st.integers(min_value=0), bit=st.integers(0, 7), keep=st.integers(min_value=0))
def test_session_seal_tamper_and_truncation(where: int, bit: int, keep: int) -> None:
    keys = session_keys(b"t" * 32)
    sealed = seal_session(keys, b'{"user": 1}')
    flipped = bytearray(sealed)
    flipped[where % len(sealed)] ^= 1 << bit
    with pytest.raises(DecryptionError):
        open_session(keys, bytes(flipped))
    with pytest.raises(DecryptionError):
        open_session(keys, sealed[: keep % len(sealed)])


def test_session_seal_is_bound_to_session_id() -> None:
    keys = session_keys(b"t" * 32)
    other = type(keys)(session_id=session_keys(b"u" * 32).session_id, key=keys.key)
    sealed = seal_session(keys, b"data")
    with pytest.raises(DecryptionError):
        open_session(other, sealed)
    assert open_session(keys, sealed) == b"data"


def test_digest_labels_cannot_contain_the_separator() -> None:
    with pytest.raises(EncodingError):
        digest(b"enroll\x00ment", b"token")
    assert digest(b"enrollment", b"token") != digest(b"enrollment", b"token2")


def test_a_content_digest_needs_the_item_key() -> None:
    """Holders of an item's key compute the same digest of a file; without that key it is
    unlike the file's plain SHA-256, and another item's key gives another digest."""
    key, other = new_secret(), new_secret()
    data = b"the leaked memo"
    assert content_digest(key, data) == content_digest(key, data)
    assert content_digest(key, data) != content_sha256(data)
    assert content_digest(key, data) != content_digest(other, data)
    assert content_digest(key, data) != content_digest(key, data + b" ")
    assert len(bytes.fromhex(content_digest(key, data))) == 32
