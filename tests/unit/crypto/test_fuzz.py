"""Random input to every reader: the only acceptable outcome is the one opaque DecryptionError.

Any other exception (IndexError, struct.error, ValueError, RecursionError …) would be a parser bug
and a possible oracle. The timeout marks a hang as a failure.
"""

from __future__ import annotations

import itertools
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailslot.crypto import (
    DecryptionError,
    ItemOpener,
    KdfParams,
    KeyPair,
    WrapPurpose,
    check_public_key,
    open_meta,
    open_secret,
    open_session,
    session_keys,
)
from mailslot.crypto.keys import WRAP_SIZE
from mailslot.crypto.stream import CHUNK_CIPHERTEXT_SIZE

pytestmark = [pytest.mark.timeout(120), pytest.mark.no_database]

ITEM_ID = bytes(range(16))
DATA_KEY = bytes(range(32, 64))
FUZZ = settings(max_examples=400, deadline=None)


@cache
def recipient() -> KeyPair:
    return KeyPair.from_seed(b"F" * 32)


def tile(unit: bytes, length: int) -> bytes:
    return (unit * (length // max(1, len(unit)) + 1))[:length] if unit else bytes(length)


# Random bytes, the same behind a correct marker (so parsing goes past the first check), and
# long runs made by tiling a short random unit (chunk-sized inputs are too big to draw).
def inputs(marker: bytes, long_sizes: st.SearchStrategy[int]) -> st.SearchStrategy[bytes]:
    short = st.binary(max_size=300)
    return st.one_of(
        short,
        short.map(lambda b: marker + b),
        st.builds(lambda u, n: marker + tile(u, n), st.binary(max_size=40), long_sizes),
    )


item_header = b"MSLI\x01" + ITEM_ID
item_inputs = inputs(
    item_header,
    st.one_of(
        st.integers(0, 2000),
        st.integers(CHUNK_CIPHERTEXT_SIZE - 50, CHUNK_CIPHERTEXT_SIZE + 50),
        st.integers(0, 3 * CHUNK_CIPHERTEXT_SIZE),
    ),
)


@FUZZ
@given(data=item_inputs, cuts=st.lists(st.integers(min_value=0), max_size=5))
def test_item_opener_only_raises_decryption_error(data: bytes, cuts: list[int]) -> None:
    marks = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    with pytest.raises(DecryptionError):
        feed(ItemOpener(ITEM_ID, DATA_KEY), [data[a:b] for a, b in itertools.pairwise(marks)])


def feed(opener: ItemOpener, pieces: list[bytes]) -> bytes:
    out = b"".join(opener.update(piece) for piece in pieces)
    return out + opener.finish()


@FUZZ
@given(data=inputs(b"MSLM\x01", st.integers(0, 70_000)))
def test_open_meta_only_raises_decryption_error(data: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_meta(ITEM_ID, DATA_KEY, data)


@settings(max_examples=80, deadline=None)
@given(
    data=st.one_of(
        inputs(b"MSLW\x01", st.integers(0, 2 * WRAP_SIZE)),
        st.binary(min_size=WRAP_SIZE - 5, max_size=WRAP_SIZE - 5).map(lambda b: b"MSLW\x01" + b),
    ),
    purpose=st.sampled_from([WrapPurpose.CASE_KEY, WrapPurpose.ITEM_KEY, b""]),
    context_id=st.binary(max_size=20),
)
def test_unwrap_only_raises_decryption_error(
    data: bytes, purpose: bytes, context_id: bytes
) -> None:
    with pytest.raises(DecryptionError):
        recipient().unwrap(data, purpose, context_id)


@FUZZ
@given(
    data=st.one_of(
        inputs(b"MSLP\x01", st.integers(0, 200)),
        st.binary(min_size=60, max_size=60).map(lambda b: b"MSLP\x01" + b),
    ),
    kek=st.binary(max_size=40),
)
def test_open_secret_only_raises_decryption_error(data: bytes, kek: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_secret(kek, data, b"context")


@FUZZ
@given(data=inputs(b"MSLS\x01", st.integers(0, 5000)), token=st.binary(max_size=40))
def test_open_session_only_raises_decryption_error(data: bytes, token: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_session(session_keys(token), data)


@settings(max_examples=80, deadline=None)
@given(data=inputs(b"MSLK\x01", st.sampled_from([1216, 1215, 1217, 0])))
def test_check_public_key_raises_only_decryption_error(data: bytes) -> None:
    # A random 1216-byte body can be a valid key; what matters is that nothing else escapes.
    try:
        check_public_key(data)
    except DecryptionError:
        return
    assert len(data) == 1221
    assert data.startswith(b"MSLK\x01")


@FUZZ
@given(text=st.text(max_size=60))
def test_kdf_params_decode_raises_only_decryption_error(text: str) -> None:
    try:
        params = KdfParams.decode(text)
    except DecryptionError:
        return
    assert params.encode() == text
