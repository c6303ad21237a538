"""The item stream (MSLI) and sealed metadata (MSLM): round trips, tampering, padding, memory."""

from __future__ import annotations

import itertools
import json
from functools import cache
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mailslot.crypto import (
    DecryptionError,
    DeterministicRandom,
    EncodingError,
    ItemOpener,
    ItemSealer,
    open_item,
    open_item_stream,
    open_meta,
    padded_length,
    seal_item,
    seal_meta,
    sealed_size,
)
from mailslot.crypto.stream import (
    CHUNK_CIPHERTEXT_SIZE,
    CHUNK_DATA_CAPACITY,
    CHUNK_PLAINTEXT_SIZE,
    HEADER_SIZE,
    MAX_META_SIZE,
)

pytestmark = pytest.mark.no_database

ITEM_ID = bytes(range(16))
DATA_KEY = bytes(range(32, 64))
CAP = CHUNK_DATA_CAPACITY

# Sizes that matter: tiny, the 1 KiB floor, and both sides of every chunk boundary.
BOUNDARIES = [0, 1, 1023, 1024, 1025, CAP - 1, CAP, CAP + 1, 65536, 2 * CAP, 2 * CAP + 1]
sizes = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.integers(0, 4096),
    st.integers(CAP - 64, CAP + 64),
    st.integers(2 * CAP - 64, 2 * CAP + 64),
    st.integers(0, 3 * CAP + 1000),
)


def tile(unit: bytes, length: int) -> bytes:
    return (unit * (length // len(unit) + 1))[:length]


# Hypothesis cannot draw 200 KiB of bytes cheaply; a short random unit tiled to size can.
data_strategy = st.builds(tile, st.binary(min_size=1, max_size=61), sizes)
splits = st.lists(st.integers(min_value=0), max_size=8)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    marks = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(marks)]


def seal(data: bytes, seed: bytes = b"stream tests") -> bytes:
    return seal_item(ITEM_ID, DATA_KEY, data, DeterministicRandom(seed))


FAST = settings(max_examples=80, deadline=None)


# -- round trips ----------------------------------------------------------------------------------


@FAST
@given(data=data_strategy)
def test_round_trip_and_sealed_size(data: bytes) -> None:
    sealed = seal(data)
    assert len(sealed) == sealed_size(len(data))
    assert open_item(ITEM_ID, DATA_KEY, sealed) == data


@FAST
@given(data=data_strategy, cuts_in=splits, cuts_out=splits)
def test_streaming_in_and_out_at_any_split(
    data: bytes, cuts_in: list[int], cuts_out: list[int]
) -> None:
    sealer = ItemSealer(ITEM_ID, DATA_KEY, DeterministicRandom(b"stream tests"))
    parts = [sealer.header()]
    for piece in cut(data, cuts_in):
        parts.append(sealer.update(piece))
    parts.extend(sealer.finish())
    streamed = b"".join(parts)
    assert sealer.length == len(data)
    assert streamed == seal(data)

    opener = ItemOpener(ITEM_ID, DATA_KEY)
    out = [opener.update(piece) for piece in cut(streamed, cuts_out)]
    out.append(opener.finish())
    assert b"".join(out) == data
    assert opener.length == len(data)


@FAST
@given(data=data_strategy, cuts_out=splits)
def test_open_item_stream_yields_the_data(data: bytes, cuts_out: list[int]) -> None:
    sealed = seal(data)
    pieces = list(open_item_stream(ITEM_ID, DATA_KEY, cut(sealed, cuts_out)))
    assert b"".join(pieces) == data
    assert all(pieces)


def test_open_item_stream_releases_data_before_the_end_but_fails_at_the_end() -> None:
    data = tile(b"abc", 3 * CAP)
    sealed = seal(data)
    truncated = sealed[: HEADER_SIZE + 2 * CHUNK_CIPHERTEXT_SIZE]
    stream = open_item_stream(ITEM_ID, DATA_KEY, [truncated[:HEADER_SIZE], truncated[HEADER_SIZE:]])
    first = next(stream)
    assert first == data[:CAP]
    with pytest.raises(DecryptionError):
        list(stream)


def test_salt_is_fresh_per_seal() -> None:
    one = seal_item(ITEM_ID, DATA_KEY, b"same")
    two = seal_item(ITEM_ID, DATA_KEY, b"same")
    assert one[HEADER_SIZE - 16 : HEADER_SIZE] != two[HEADER_SIZE - 16 : HEADER_SIZE]
    assert one != two
    assert open_item(ITEM_ID, DATA_KEY, one) == open_item(ITEM_ID, DATA_KEY, two) == b"same"


@pytest.mark.parametrize("length", BOUNDARIES)
def test_chunk_layout_at_boundaries(length: int) -> None:
    sealed = seal(tile(b"x", length))
    body = len(sealed) - HEADER_SIZE
    full, last = divmod(body, CHUNK_CIPHERTEXT_SIZE)
    if last == 0:
        full, last = full - 1, CHUNK_CIPHERTEXT_SIZE
    assert 20 < last <= CHUNK_CIPHERTEXT_SIZE
    assert full == max(1, -(-padded_length(length) // CAP)) - 1


# -- tampering ------------------------------------------------------------------------------------


@FAST
@given(data=data_strategy, where=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_flipped_bit_is_rejected(data: bytes, where: int, bit: int) -> None:
    sealed = bytearray(seal(data))
    sealed[where % len(sealed)] ^= 1 << bit
    with pytest.raises(DecryptionError):
        open_item(ITEM_ID, DATA_KEY, bytes(sealed))


@FAST
@given(data=data_strategy, keep=st.integers(min_value=0))
def test_any_truncation_is_rejected(data: bytes, keep: int) -> None:
    sealed = seal(data)
    with pytest.raises(DecryptionError):
        open_item(ITEM_ID, DATA_KEY, sealed[: keep % len(sealed)])


@FAST
@given(data=data_strategy, extra=st.binary(min_size=1, max_size=100))
def test_any_trailing_data_is_rejected(data: bytes, extra: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_item(ITEM_ID, DATA_KEY, seal(data) + extra)


@cache
def four_chunks() -> tuple[bytes, list[bytes]]:
    sealed = seal(tile(b"four chunks ", 3 * CAP + 500))
    body = sealed[HEADER_SIZE:]
    chunks = [
        body[i : i + CHUNK_CIPHERTEXT_SIZE] for i in range(0, len(body), CHUNK_CIPHERTEXT_SIZE)
    ]
    assert len(chunks) == 4
    return sealed[:HEADER_SIZE], chunks


@settings(max_examples=60, deadline=None)
@given(order=st.lists(st.integers(0, 3), max_size=6))
def test_reordered_duplicated_or_dropped_chunks_are_rejected(order: list[int]) -> None:
    header, chunks = four_chunks()
    assume(order != [0, 1, 2, 3])
    with pytest.raises(DecryptionError):
        open_item(ITEM_ID, DATA_KEY, header + b"".join(chunks[i] for i in order))


@settings(max_examples=20, deadline=None)
@given(order=st.permutations([0, 1, 2, 3]))
def test_every_permutation_but_identity_is_rejected(order: list[int]) -> None:
    header, chunks = four_chunks()
    assume(order != [0, 1, 2, 3])
    with pytest.raises(DecryptionError):
        open_item(ITEM_ID, DATA_KEY, header + b"".join(chunks[i] for i in order))


def test_four_chunks_fixture_opens_in_order() -> None:
    header, chunks = four_chunks()
    assert open_item(ITEM_ID, DATA_KEY, header + b"".join(chunks)) == tile(
        b"four chunks ", 3 * CAP + 500
    )


@FAST
@given(data=data_strategy, other=st.binary(min_size=32, max_size=32))
def test_wrong_data_key_is_rejected(data: bytes, other: bytes) -> None:
    assume(other != DATA_KEY)
    with pytest.raises(DecryptionError):
        open_item(ITEM_ID, other, seal(data))


@FAST
@given(data=data_strategy, other=st.binary(min_size=16, max_size=16))
def test_wrong_item_id_is_rejected(data: bytes, other: bytes) -> None:
    assume(other != ITEM_ID)
    with pytest.raises(DecryptionError):
        open_item(other, DATA_KEY, seal(data))


# -- API misuse -----------------------------------------------------------------------------------


def test_opener_refuses_use_after_finish() -> None:
    opener = ItemOpener(ITEM_ID, DATA_KEY)
    opener.update(seal(b"x"))
    assert opener.finish() == b"x"
    with pytest.raises(DecryptionError):
        opener.finish()
    with pytest.raises(DecryptionError):
        opener.update(b"more")


def test_sealer_refuses_use_after_finish() -> None:
    sealer = ItemSealer(ITEM_ID, DATA_KEY)
    sealer.update(b"x")
    tail = list(sealer.finish())
    assert len(tail) == 1
    with pytest.raises(EncodingError):
        sealer.update(b"y")
    with pytest.raises(EncodingError):
        list(sealer.finish())


@pytest.mark.parametrize(
    ("item_id", "data_key"),
    [(bytes(15), DATA_KEY), (bytes(17), DATA_KEY), (ITEM_ID, bytes(31)), (ITEM_ID, bytes(33))],
)
def test_sealer_refuses_bad_id_or_key_sizes(item_id: bytes, data_key: bytes) -> None:
    with pytest.raises(EncodingError):
        ItemSealer(item_id, data_key)


# -- padding --------------------------------------------------------------------------------------

lengths = st.integers(0, 1 << 64)


@settings(max_examples=300, deadline=None)
@given(a=lengths, b=lengths)
def test_padded_length_is_monotone(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert padded_length(low) <= padded_length(high)


@settings(max_examples=300, deadline=None)
@given(n=lengths)
def test_padded_length_bounds(n: int) -> None:
    padded = padded_length(n)
    assert padded >= n
    assert padded >= 1024
    assert padded_length(padded) == padded
    if n >= 1024:
        # The task's bound is 12 %; over the 1 KiB floor Padmé guarantees under 1/16.
        assert (padded - n) * 100 <= 12 * n
        assert (padded - n) * 16 < n


@pytest.mark.parametrize(
    ("n", "padded"),
    [
        (0, 1024),
        (1, 1024),
        (1024, 1024),
        (1025, 1088),
        (CAP, 65536),
        (300_000, 303_104),
        (1 << 20, 1 << 20),
        ((1 << 20) + 1, (1 << 20) + (1 << 15)),
    ],
)
def test_padded_length_known_values(n: int, padded: int) -> None:
    assert padded_length(n) == padded


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 600_000))
def test_sealed_size_is_exact(n: int) -> None:
    assert len(seal(bytes(n))) == sealed_size(n)


def test_padded_length_buckets_hide_exact_size() -> None:
    # Every size from 1 MiB + 1 to 1 MiB + 32 KiB is stored the same.
    assert len({padded_length(n) for n in range((1 << 20) + 1, (1 << 20) + (1 << 15) + 1)}) == 1


# -- memory ---------------------------------------------------------------------------------------


def test_sealer_and_opener_hold_at_most_one_chunk() -> None:
    piece = tile(b"0123456789abcdef", 1024)
    sealer = ItemSealer(ITEM_ID, DATA_KEY, DeterministicRandom(b"memory"))
    opener = ItemOpener(ITEM_ID, DATA_KEY)
    assert opener.update(sealer.header()) == b""
    received = 0
    for _ in range(10 * 1024):
        ciphertext = sealer.update(piece)
        assert len(ciphertext) <= 2 * CHUNK_CIPHERTEXT_SIZE
        assert sealer._fill <= CAP
        assert len(sealer._plaintext) == CHUNK_PLAINTEXT_SIZE  # one chunk, never grown
        for start in range(0, len(ciphertext), 1024):
            plaintext = opener.update(ciphertext[start : start + 1024])
            assert len(plaintext) <= 2 * CAP
            assert len(opener._buffer) <= CHUNK_CIPHERTEXT_SIZE
            received += len(plaintext)
    for ciphertext in sealer.finish():
        assert len(ciphertext) <= CHUNK_CIPHERTEXT_SIZE
        received += len(opener.update(ciphertext))
        assert len(opener._buffer) <= CHUNK_CIPHERTEXT_SIZE
    received += len(opener.finish())
    assert received == sealer.length == opener.length == 10 * 1024 * 1024


# -- metadata -------------------------------------------------------------------------------------

json_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(1 << 53), 1 << 53), st.text(max_size=40)
)

metas = st.dictionaries(st.text(max_size=20), json_values | st.lists(json_values, max_size=4))


@settings(max_examples=100, deadline=None)
@given(meta=metas)
def test_meta_round_trip_and_block_padding(meta: dict[str, Any]) -> None:
    sealed = seal_meta(ITEM_ID, DATA_KEY, meta)
    assert sealed.startswith(b"MSLM\x01")
    body = len(sealed) - 5 - 12 - 16
    assert body % 256 == 0
    encoded = json.dumps(meta, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert body == 256 * -(-(4 + len(encoded.encode())) // 256)
    assert open_meta(ITEM_ID, DATA_KEY, sealed) == meta


@settings(max_examples=50, deadline=None)
@given(meta=metas, where=st.integers(min_value=0), bit=st.integers(0, 7))
def test_meta_flipped_bit_is_rejected(meta: dict[str, Any], where: int, bit: int) -> None:
    sealed = bytearray(seal_meta(ITEM_ID, DATA_KEY, meta))
    sealed[where % len(sealed)] ^= 1 << bit
    with pytest.raises(DecryptionError):
        open_meta(ITEM_ID, DATA_KEY, bytes(sealed))


@settings(max_examples=50, deadline=None)
@given(meta=metas, keep=st.integers(min_value=0))
def test_meta_truncation_is_rejected(meta: dict[str, Any], keep: int) -> None:
    sealed = seal_meta(ITEM_ID, DATA_KEY, meta)
    with pytest.raises(DecryptionError):
        open_meta(ITEM_ID, DATA_KEY, sealed[: keep % len(sealed)])


def test_meta_is_bound_to_item_and_key() -> None:
    sealed = seal_meta(ITEM_ID, DATA_KEY, {"name": "a.txt"})
    with pytest.raises(DecryptionError):
        open_meta(bytes(16), DATA_KEY, sealed)
    with pytest.raises(DecryptionError):
        open_meta(ITEM_ID, bytes(32), sealed)
    assert open_meta(ITEM_ID, DATA_KEY, sealed) == {"name": "a.txt"}


def test_meta_size_limit() -> None:
    largest = {"n": "x" * (MAX_META_SIZE - 4 - len('{"n":""}'))}
    sealed = seal_meta(ITEM_ID, DATA_KEY, largest)
    assert len(sealed) == 5 + 12 + MAX_META_SIZE + 16
    assert open_meta(ITEM_ID, DATA_KEY, sealed) == largest
    with pytest.raises(EncodingError):
        seal_meta(ITEM_ID, DATA_KEY, {"n": largest["n"] + "x"})


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, object()])
def test_meta_that_is_not_json_is_an_encoding_error(value: object) -> None:
    with pytest.raises(EncodingError):
        seal_meta(ITEM_ID, DATA_KEY, {"name": "a.txt", "value": value})


def test_meta_hides_name_length_within_a_block() -> None:
    short = seal_meta(ITEM_ID, DATA_KEY, {"name": "a"})
    longer = seal_meta(ITEM_ID, DATA_KEY, {"name": "a" * 200})
    assert len(short) == len(longer)


def test_finish_ends_the_sealer_even_before_its_chunks_are_read() -> None:
    sealer = ItemSealer(ITEM_ID, DATA_KEY)
    sealer.update(b"first")
    tail = sealer.finish()  # not iterated yet
    with pytest.raises(EncodingError):
        sealer.update(b"too late")
    with pytest.raises(EncodingError):
        sealer.finish()
    sealed = sealer.header() + b"".join(tail)
    assert open_item(ITEM_ID, DATA_KEY, sealed) == b"first"


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_sealer_and_opener_take_any_buffer(kind: type) -> None:
    data = bytes(range(256)) * (3 * CAP // 256 + 7)
    sealer = ItemSealer(ITEM_ID, DATA_KEY)
    sealed = sealer.header() + sealer.update(kind(data)) + b"".join(sealer.finish())
    assert open_item(ITEM_ID, DATA_KEY, sealed) == data
    opener = ItemOpener(ITEM_ID, DATA_KEY)
    assert opener.update(kind(sealed)) + opener.finish() == data
