"""Sealing and opening age files: round trips at chunk boundaries, in every way of streaming,
the failures a reader must report (wrong key, changed header, damaged or truncated payload),
constant memory on large files, and the keys' known answers (c2sp.org/age's example)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailslot import drops
from mailslot.crypto import KeyPair
from mailslot.crypto.age import CHUNK_SIZE
from mailslot.drops import armor
from mailslot.drops.header import MAX_STANZAS

pytestmark = pytest.mark.no_database

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "drops.json").read_text())
KEY = drops.DropKeyPair.generate()
OTHER = drops.DropKeyPair.generate()


def seal(data: bytes, *recipients: drops.PqRecipient) -> bytes:
    sink = io.BytesIO()
    with drops.DropWriter(list(recipients) or [KEY.recipient], sink) as writer:
        writer.write(data)
    return sink.getvalue()


def open_all(sealed: bytes, *identities: drops.Identity) -> bytes:
    reader = drops.open_file(list(identities) or [KEY.identity], io.BytesIO(sealed))
    return b"".join(reader)


def test_the_spec_example_identity_gives_the_spec_example_recipient() -> None:
    example = VECTORS["age_spec_example"]
    identity = drops.PqIdentity.parse(example["identity"])
    assert str(identity.recipient) == example["recipient"]
    pair = drops.DropKeyPair.parse_identity(example["identity"])
    assert str(pair.recipient) == example["recipient"]
    assert pair.identity_string() == example["identity"]
    assert drops.PqRecipient.parse(example["recipient"]).public_key == pair.recipient.public_key


def test_key_strings_round_trip_and_secrets_stay_out_of_reprs() -> None:
    text = KEY.identity_string()
    assert text.startswith("AGE-SECRET-KEY-PQ-1")
    assert drops.DropKeyPair.parse_identity(text) == KEY
    assert str(KEY.recipient).startswith("age1pq1")
    assert len(str(KEY.recipient)) == 1959
    for obj in (KEY, KEY.identity):
        assert text not in repr(obj)
        assert KEY.seed.hex() not in repr(obj)
        assert "secret" in repr(obj)


@pytest.mark.parametrize(
    "bad",
    [
        "age1qqqq",
        "AGE-SECRET-KEY-PQ-1QQQQ",
        "age1" + "q" * 100,
        str(KEY.recipient)[:-1] + ("q" if str(KEY.recipient)[-1] != "q" else "p"),
    ],
)
def test_malformed_recipients_are_refused(bad: str) -> None:
    with pytest.raises(drops.RecipientInvalid):
        drops.PqRecipient.parse(bad)


def test_an_identity_string_is_not_a_recipient_and_vice_versa() -> None:
    with pytest.raises(drops.RecipientInvalid):
        drops.PqRecipient.parse(KEY.identity_string())
    with pytest.raises(drops.RecipientInvalid):
        drops.parse_identity(str(KEY.recipient))


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 7]
)
def test_round_trip_at_chunk_boundaries(size: int) -> None:
    data = os.urandom(size)
    sealed = seal(data)
    assert sealed.startswith(b"age-encryption.org/v1\n-> mlkem768x25519 ")
    header = drops.parse_header(io.BytesIO(sealed))
    chunks = max(1, -(-size // CHUNK_SIZE))
    assert len(sealed) == header.size + 16 + size + 16 * chunks
    assert open_all(sealed) == data


def test_every_way_of_streaming_gives_the_same_plaintext() -> None:
    data = os.urandom(3 * CHUNK_SIZE + 123)
    rng = random.Random(7)  # noqa: S311 - piece sizes, not secrets

    def pieces(blob: bytes) -> Iterator[bytes]:
        i = 0
        while i < len(blob):
            n = rng.choice([1, 17, 4096, CHUNK_SIZE + 16, 200_000])
            yield blob[i : i + n]
            i += n

    sealed = b"".join(drops.seal_stream([KEY.recipient], pieces(data)))
    assert b"".join(drops.open_stream([KEY.identity], pieces(sealed))) == data
    reader = drops.open_file([KEY.identity], io.BytesIO(sealed))
    got = bytearray()
    while piece := reader.read(rng.choice([1, 1000, CHUNK_SIZE, 10**6])):
        got += piece
    assert got == data
    assert drops.open_file([KEY.identity], io.BytesIO(sealed)).read() == data


def test_several_recipients_each_open_it() -> None:
    data = b"to both desks"
    sealed = seal(data, KEY.recipient, OTHER.recipient)
    assert sealed.count(b"\n-> mlkem768x25519 ") == 2
    assert open_all(sealed, KEY.identity) == data
    assert open_all(sealed, OTHER.identity) == data


def test_a_mailslot_recipient_key_works_as_an_age_key() -> None:
    pair = KeyPair.generate()
    recipient = drops.PqRecipient.from_mailslot_public_key(pair.public_key)
    sealed = seal(b"for a recipient's own key", recipient)
    assert (
        open_all(sealed, drops.PqIdentity.from_mailslot_key(pair)) == b"for a recipient's own key"
    )
    with pytest.raises(drops.NoMatchingKey):
        open_all(sealed, KEY.identity)


def test_the_wrong_key_is_told_apart_from_damage() -> None:
    sealed = seal(b"secret")
    with pytest.raises(drops.NoMatchingKey):
        open_all(sealed, OTHER.identity)
    x25519 = drops.X25519Identity.parse(
        "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
    )
    with pytest.raises(drops.NoMatchingKey):
        open_all(sealed, x25519)


def test_a_changed_header_fails_its_mac() -> None:
    sealed = seal(b"secret", KEY.recipient, OTHER.recipient)
    header = drops.parse_header(io.BytesIO(sealed))
    # Drop the second stanza: the first still opens, but the MAC covers both.
    first = header.stanzas[0].encode()
    changed = b"age-encryption.org/v1\n" + first + sealed[len(header.mac_input) - 3 :]
    with pytest.raises(drops.HeaderMacInvalid):
        open_all(changed, KEY.identity)


def test_a_damaged_stanza_does_not_open() -> None:
    sealed = bytearray(seal(b"secret"))
    body_line = sealed.index(b"\n", sealed.index(b"-> mlkem")) + 1
    sealed[body_line + 5] ^= 0x01  # one base64 character of the wrapped file key
    with pytest.raises((drops.NoMatchingKey, drops.HeaderInvalid)):
        open_all(bytes(sealed))


@pytest.mark.parametrize("where", ["first chunk", "last chunk", "tag"])
def test_a_damaged_payload_is_refused(where: str) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 10)
    sealed = bytearray(seal(data))
    start = drops.parse_header(io.BytesIO(bytes(sealed))).size + 16
    offset = {"first chunk": start + 5, "last chunk": len(sealed) - 20, "tag": len(sealed) - 1}
    sealed[offset[where]] ^= 0x80
    released = bytearray()

    def read_all() -> None:
        for piece in drops.open_file([KEY.identity], io.BytesIO(bytes(sealed))):
            released.extend(piece)

    with pytest.raises(drops.PayloadDamaged):
        read_all()
    assert data.startswith(released)
    assert len(released) < len(data)


def test_truncation_anywhere_in_the_payload_is_refused() -> None:
    data = os.urandom(2 * CHUNK_SIZE)
    sealed = seal(data)
    start = drops.parse_header(io.BytesIO(sealed)).size + 16
    chunk = CHUNK_SIZE + 16
    assert len(sealed) == start + 2 * chunk
    for cut in (start, start + 10, start + chunk - 1, start + chunk, start + chunk + 1):
        with pytest.raises(drops.PayloadDamaged):
            open_all(sealed[:cut])
    with pytest.raises(drops.HeaderInvalid):
        open_all(sealed[: start - 1])  # no nonce
    with pytest.raises(drops.HeaderInvalid):
        open_all(sealed[:100])  # inside the header


def test_data_after_the_end_is_refused() -> None:
    sealed = seal(b"short")
    with pytest.raises(drops.PayloadDamaged):
        open_all(sealed + b"\x00")


def test_armored_files_open_too() -> None:
    data = os.urandom(1000)
    armored = armor.encode(seal(data))
    assert armored.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert open_all(armored) == data
    assert open_all(b"\r\n \t\n" + armored.replace(b"\n", b"\r\n") + b"\n\n") == data
    with pytest.raises(drops.ArmorInvalid):
        open_all(armored.replace(b"\n", b" \n", 2))


def test_recognising_an_upload_without_a_key() -> None:
    sealed = seal(b"x")
    assert drops.looks_like_age(sealed[:64])
    assert drops.looks_like_age(armor.encode(sealed)[:64])
    assert not drops.looks_like_age(b"%PDF-1.7\n")
    assert drops.parse_header(io.BytesIO(sealed)).stanzas[0].type == "mlkem768x25519"
    with pytest.raises(drops.HeaderInvalid):
        drops.parse_header(io.BytesIO(b"age-encryption.org/v2\n"))
    with pytest.raises(drops.HeaderInvalid):
        drops.parse_header(io.BytesIO(b"%PDF-1.7\n" * 10))


def test_header_bounds() -> None:
    stanza = b"-> grease\n\n"
    too_many = b"age-encryption.org/v1\n" + stanza * (MAX_STANZAS + 1) + b"--- " + b"A" * 43 + b"\n"
    with pytest.raises(drops.HeaderInvalid, match="too many"):
        drops.parse_header(io.BytesIO(too_many))
    long_line = b"age-encryption.org/v1\n-> " + b"a" * 20_000 + b"\n"
    with pytest.raises(drops.HeaderInvalid):
        drops.parse_header(io.BytesIO(long_line))


def test_a_file_larger_than_the_memory_it_uses() -> None:
    """64 MiB through sealing and opening, in 1 MiB pieces, while Python's allocations stay
    under 6 MiB (a few pieces in flight, whatever the file size)."""
    size = 64 * 1024 * 1024
    piece = os.urandom(1 << 20)

    def source() -> Iterator[bytes]:
        for _ in range(size // len(piece)):
            yield piece

    tracemalloc.start()
    try:
        total = 0
        for plain in drops.open_stream(
            [KEY.identity], drops.seal_stream([KEY.recipient], source())
        ):
            total += len(plain)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 6 * (1 << 20)


def test_the_kept_drop_still_opens() -> None:
    vector = VECTORS["drop"]
    pair = drops.DropKeyPair.parse_identity(vector["identity"])
    reader = drops.open_file([pair.identity], io.BytesIO(base64.b64decode(vector["age"])))
    import hashlib  # noqa: TID251 - an independent SHA-256 of each member

    got = {
        (e.name if e.is_note else f"files/{e.name}"): hashlib.sha256(e.stream.read()).hexdigest()
        for e in drops.read_drop(reader)
    }
    assert got == vector["members"]


SAMPLE = seal(b"sample payload " * 10)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=len(SAMPLE)))
def test_any_input_fails_only_with_a_drop_error(noise: bytes, cut: int) -> None:
    """Random bytes, and a real file with bytes replaced, fail cleanly (never another error)."""
    assert open_all(SAMPLE) == b"sample payload " * 10  # positive control
    for data in (noise, SAMPLE[:cut] + noise + SAMPLE[cut + len(noise) :]):
        with contextlib.suppress(drops.DropError):
            open_all(data)
