"""age's own test kit (C2SP/CCTV ``age/testdata``, copied into ``tests/vectors/age-testkit``):
every vector decrypted, and the outcome checked against its ``expect`` line, including which
kind of failure, and the released plaintext against its ``payload`` hash (even when the
payload later fails, since age releases chunks as they verify).

The ``scrypt`` (passphrase) vectors are left out, on purpose and by name: sealed drops have
no passphrase type. Every other vector runs; the count is checked, so that a vector can't be
dropped silently.
"""

from __future__ import annotations

import hashlib  # noqa: TID251 - the test kit gives payloads as SHA-256, checked independently
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailslot.drops import errors
from mailslot.drops.age import open_file
from mailslot.drops.header import Header, encode_header
from mailslot.drops.recipients import parse_identity

pytestmark = pytest.mark.no_database

KIT = Path(__file__).parents[2] / "vectors" / "age-testkit"
EXPECTED_ERRORS: dict[str, type[errors.DropError]] = {
    "header failure": errors.HeaderInvalid,
    "armor failure": errors.ArmorInvalid,
    "no match": errors.NoMatchingKey,
    "HMAC failure": errors.HeaderMacInvalid,
    "payload failure": errors.PayloadDamaged,
}


@dataclass(frozen=True)
class Vector:
    name: str
    expect: str
    payload_sha256: str
    identities: tuple[str, ...]
    passphrases: tuple[str, ...]
    armored: bool
    data: bytes


def load(path: Path) -> Vector:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    fields: dict[str, list[str]] = {}
    for line in head.decode().splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return Vector(
        name=path.name,
        expect=fields["expect"][0],
        payload_sha256=fields.get("payload", [""])[0],
        identities=tuple(fields.get("identity", [])),
        passphrases=tuple(fields.get("passphrase", [])),
        armored=fields.get("armored") == ["yes"],
        data=body,
    )


ALL = sorted(p for p in KIT.iterdir() if p.name not in {"README.md", "LICENSE.md"})
VECTORS = [load(p) for p in ALL]
RUN = [v for v in VECTORS if not v.passphrases]


def test_the_kit_is_complete_and_only_passphrase_vectors_are_left_out() -> None:
    assert len(VECTORS) == 143
    left_out = {v.name for v in VECTORS} - {v.name for v in RUN}
    assert left_out == {v.name for v in VECTORS if v.name.startswith(("scrypt", "armor_scrypt"))}
    assert len(RUN) == 117
    assert sum(v.expect == "success" for v in RUN) >= 20
    assert {v.expect for v in RUN} == {"success", *EXPECTED_ERRORS}
    assert sum("AGE-SECRET-KEY-PQ-" in i for v in RUN for i in v.identities) >= 15


@pytest.mark.parametrize("vector", RUN, ids=[v.name for v in RUN])
def test_vector(vector: Vector) -> None:
    released = hashlib.sha256()
    outcome = "success"
    try:
        identities = [parse_identity(text) for text in vector.identities]
        reader = open_file(identities, io.BytesIO(vector.data), armored=vector.armored)
        for piece in reader:
            released.update(piece)
    except errors.DropError as exc:
        outcome = next(
            (name for name, cls in EXPECTED_ERRORS.items() if isinstance(exc, cls)), repr(exc)
        )
    assert outcome == vector.expect
    if vector.expect in ("success", "payload failure"):
        assert released.hexdigest() == vector.payload_sha256


@pytest.mark.parametrize(
    "vector", [v for v in RUN if v.expect != "header failure" and not v.armored], ids=str
)
def test_headers_round_trip(vector: Vector) -> None:
    """A header that parses re-encodes to the same bytes (the MAC is over what was read)."""
    from mailslot.drops.age import _Source
    from mailslot.drops.header import read_header

    header: Header = read_header(_Source(io.BytesIO(vector.data).read).readline)
    again = encode_header(list(header.stanzas), lambda _: header.mac)
    assert vector.data.startswith(again)
    assert len(again) == header.size
