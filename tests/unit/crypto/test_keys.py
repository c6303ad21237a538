"""Hybrid key pairs (MSLK), HPKE key wraps (MSLW) and symmetric secret wraps (MSLP)."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mailslot.crypto import (
    DecryptionError,
    DeterministicRandom,
    EncodingError,
    KeyPair,
    WrapPurpose,
    check_public_key,
    open_secret,
    seal_secret,
    wrap_key,
)
from mailslot.crypto.keys import PUBLIC_KEY_SIZE, SECRET_WRAP_SIZE, WRAP_SIZE

pytestmark = pytest.mark.no_database

PURPOSES = [WrapPurpose.CASE_KEY, WrapPurpose.ITEM_KEY]
secrets_32 = st.binary(min_size=32, max_size=32)
context_ids = st.binary(max_size=40)


@cache
def alice() -> KeyPair:
    return KeyPair.from_seed(b"A" * 32)


@cache
def bob() -> KeyPair:
    return KeyPair.from_seed(b"B" * 32)


@cache
def alice_wrap() -> bytes:
    return wrap_key(alice().public_key, b"s" * 32, WrapPurpose.CASE_KEY, b"case-0001-000000")


# -- key pairs ------------------------------------------------------------------------------------


def test_key_pair_is_a_function_of_its_seed() -> None:
    assert KeyPair.from_seed(b"A" * 32) == alice()
    assert alice().public_key != bob().public_key
    assert alice().public_key.startswith(b"MSLK\x01")
    assert len(alice().public_key) == PUBLIC_KEY_SIZE == 1221
    check_public_key(alice().public_key)


def test_generate_draws_the_seed_from_the_injected_randomness() -> None:
    generated = KeyPair.generate(DeterministicRandom(b"keys"))
    assert generated.seed == DeterministicRandom(b"keys")(32)
    assert generated == KeyPair.from_seed(generated.seed)
    assert KeyPair.generate().seed != KeyPair.generate().seed


def test_repr_hides_the_seed() -> None:
    text = repr(alice()) + str(alice())
    assert "<secret>" in text
    assert (b"A" * 32).hex() not in text
    assert "AAAA" not in text


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_seed_must_be_32_bytes(size: int) -> None:
    with pytest.raises(EncodingError):
        KeyPair.from_seed(bytes(size))


@settings(max_examples=20, deadline=None)
@given(a=secrets_32, b=secrets_32)
def test_distinct_seeds_give_distinct_keys(a: bytes, b: bytes) -> None:
    assume(a != b)
    assert KeyPair.from_seed(a).public_key != KeyPair.from_seed(b).public_key


@pytest.mark.parametrize(
    "public_key",
    [
        b"",
        b"MSLK\x01",
        b"MSLK\x02" + bytes(1216),
        b"MSLX\x01" + bytes(1216),
        b"MSLK\x01" + bytes(1215),
        b"MSLK\x01" + bytes(1217),
        b"MSLK\x01" + b"\xff" * 1184 + bytes(32),
    ],
    ids=["empty", "marker-only", "version-2", "magic", "short", "long", "mlkem-encoding"],
)
def test_bad_public_keys_are_rejected(public_key: bytes) -> None:
    with pytest.raises(DecryptionError):
        check_public_key(public_key)
    with pytest.raises(DecryptionError):
        wrap_key(public_key, bytes(32), WrapPurpose.ITEM_KEY, bytes(16))


# -- HPKE wraps -----------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(secret=secrets_32, purpose=st.sampled_from(PURPOSES), context_id=context_ids)
def test_wrap_round_trip(secret: bytes, purpose: bytes, context_id: bytes) -> None:
    wrapped = wrap_key(alice().public_key, secret, purpose, context_id)
    assert len(wrapped) == WRAP_SIZE == 1173
    assert wrapped.startswith(b"MSLW\x01")
    assert alice().unwrap(wrapped, purpose, context_id) == secret


def test_wraps_are_randomised() -> None:
    one = wrap_key(alice().public_key, bytes(32), WrapPurpose.ITEM_KEY, b"item")
    two = wrap_key(alice().public_key, bytes(32), WrapPurpose.ITEM_KEY, b"item")
    assert one != two
    assert alice().unwrap(one, WrapPurpose.ITEM_KEY, b"item") == bytes(32)
    assert alice().unwrap(two, WrapPurpose.ITEM_KEY, b"item") == bytes(32)


def test_wrap_for_another_recipient_is_rejected() -> None:
    with pytest.raises(DecryptionError):
        bob().unwrap(alice_wrap(), WrapPurpose.CASE_KEY, b"case-0001-000000")


def test_wrap_for_another_purpose_is_rejected() -> None:
    with pytest.raises(DecryptionError):
        alice().unwrap(alice_wrap(), WrapPurpose.ITEM_KEY, b"case-0001-000000")


@settings(max_examples=25, deadline=None)
@given(context_id=context_ids)
def test_wrap_for_another_context_is_rejected(context_id: bytes) -> None:
    assume(context_id != b"case-0001-000000")
    with pytest.raises(DecryptionError):
        alice().unwrap(alice_wrap(), WrapPurpose.CASE_KEY, context_id)


@pytest.mark.parametrize(
    ("purpose", "context_id"),
    [
        # The length prefix keeps apart ids that are prefixes or extensions of each other.
        (WrapPurpose.CASE_KEY, b"case-0001-00000"),
        (WrapPurpose.CASE_KEY, b"case-0001-0000000"),
        (b"case-key/", b"case-0001-000000"),
        (b"case", b"-key/case-0001-000000"),
    ],
)
def test_wrap_info_is_unambiguous(purpose: bytes, context_id: bytes) -> None:
    with pytest.raises(DecryptionError):
        alice().unwrap(alice_wrap(), purpose, context_id)


@settings(max_examples=40, deadline=None)
@given(where=st.integers(min_value=0), bit=st.integers(0, 7))
def test_wrap_flipped_bit_is_rejected(where: int, bit: int) -> None:
    wrapped = bytearray(alice_wrap())
    wrapped[where % len(wrapped)] ^= 1 << bit
    with pytest.raises(DecryptionError):
        alice().unwrap(bytes(wrapped), WrapPurpose.CASE_KEY, b"case-0001-000000")


@pytest.mark.parametrize("size", [0, 5, 1172, 1174, 2 * 1173])
def test_wrap_of_wrong_size_is_rejected(size: int) -> None:
    wrapped = (alice_wrap() * 2)[:size]
    with pytest.raises(DecryptionError):
        alice().unwrap(wrapped, WrapPurpose.CASE_KEY, b"case-0001-000000")


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_only_32_byte_secrets_are_wrapped(size: int) -> None:
    with pytest.raises(EncodingError):
        wrap_key(alice().public_key, bytes(size), WrapPurpose.ITEM_KEY, b"item")


# -- secret wraps ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(kek=secrets_32, secret=secrets_32, context=st.binary(max_size=64))
def test_secret_wrap_round_trip(kek: bytes, secret: bytes, context: bytes) -> None:
    wrapped = seal_secret(kek, secret, context)
    assert len(wrapped) == SECRET_WRAP_SIZE == 65
    assert wrapped.startswith(b"MSLP\x01")
    assert open_secret(kek, wrapped, context) == secret


@settings(max_examples=60, deadline=None)
@given(kek=secrets_32, other=secrets_32, secret=secrets_32)
def test_secret_wrap_wrong_kek_is_rejected(kek: bytes, other: bytes, secret: bytes) -> None:
    assume(kek != other)
    with pytest.raises(DecryptionError):
        open_secret(other, seal_secret(kek, secret, b"ctx"), b"ctx")


@settings(max_examples=60, deadline=None)
@given(context=st.binary(max_size=64), other=st.binary(max_size=64))
def test_secret_wrap_wrong_context_is_rejected(context: bytes, other: bytes) -> None:
    assume(context != other)
    wrapped = seal_secret(b"k" * 32, b"s" * 32, context)
    with pytest.raises(DecryptionError):
        open_secret(b"k" * 32, wrapped, other)


@settings(max_examples=60, deadline=None)
@given(where=st.integers(min_value=0), bit=st.integers(0, 7))
def test_secret_wrap_flipped_bit_is_rejected(where: int, bit: int) -> None:
    wrapped = bytearray(seal_secret(b"k" * 32, b"s" * 32, b"ctx"))
    wrapped[where % len(wrapped)] ^= 1 << bit
    with pytest.raises(DecryptionError):
        open_secret(b"k" * 32, bytes(wrapped), b"ctx")


def test_secret_wrap_nonces_are_fresh() -> None:
    one = seal_secret(b"k" * 32, b"s" * 32, b"ctx")
    two = seal_secret(b"k" * 32, b"s" * 32, b"ctx")
    assert one[5:17] != two[5:17]
    assert open_secret(b"k" * 32, one, b"ctx") == open_secret(b"k" * 32, two, b"ctx")


@pytest.mark.parametrize(("kek", "secret"), [(bytes(31), bytes(32)), (bytes(32), bytes(33))])
def test_secret_wrap_refuses_bad_sizes(kek: bytes, secret: bytes) -> None:
    with pytest.raises(EncodingError):
        seal_secret(kek, secret, b"ctx")


@pytest.mark.parametrize("kek", [b"", bytes(16), bytes(31), bytes(33)])
def test_secret_wrap_open_with_malformed_kek_is_rejected(kek: bytes) -> None:
    wrapped = seal_secret(bytes(32), bytes(32), b"ctx")
    with pytest.raises(DecryptionError):
        open_secret(kek, wrapped, b"ctx")


def test_oversized_context_ids_and_slashed_purposes_are_refused() -> None:
    with pytest.raises(EncodingError):
        wrap_key(alice().public_key, bytes(32), WrapPurpose.ITEM_KEY, bytes(65536))
    with pytest.raises(EncodingError):
        wrap_key(alice().public_key, bytes(32), b"case/key", bytes(16))
    with pytest.raises(DecryptionError):
        alice().unwrap(alice_wrap(), WrapPurpose.CASE_KEY, bytes(65536))
