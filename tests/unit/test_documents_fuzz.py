"""The document parsers on damaged input: truncated, bit-flipped, spliced and random files of
every type. Inspecting or sanitising may refuse with ``DocumentError``; any other exception
is a bug. Examples are bounded so that the file runs in well under 30 seconds; the sandbox
(``documents.sandbox``) adds time and memory limits against what a fuzzer cannot reach."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailslot.documents.detect import TYPES
from mailslot.documents.errors import DocumentError
from mailslot.documents.inspect import inspect_bytes
from mailslot.documents.sanitize import sanitize_bytes
from tests.unit import documents_corpus as corpus

pytestmark = pytest.mark.no_database

# Sanitising re-encodes; the slow encoders (HEIF) are fuzzed through inspection only.
QUICK_TO_SANITISE = ("png", "gif", "pdf", "docx", "odt", "mp3", "ogg", "flac", "wav", "mp4", "zip")


seed = corpus.rich


@st.composite
def damaged(draw: st.DrawFn, types: tuple[str, ...] = TYPES) -> bytes:
    data = bytearray(seed(draw(st.sampled_from(types))))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(("cut", "flip", "insert", "overwrite")))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if how == "cut":
            del data[at:]
        elif how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at : at + len(chunk)] = chunk
    return bytes(data)


def survives(call: object, data: bytes) -> None:
    with contextlib.suppress(DocumentError):
        call(data, "fuzzed")  # type: ignore[operator]


@settings(max_examples=220, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_inspecting_damaged_files(data: bytes) -> None:
    survives(inspect_bytes, data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(QUICK_TO_SANITISE))
def test_sanitising_damaged_files(data: bytes) -> None:
    survives(sanitize_bytes, data)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"%PDF-1.7\n", b"PK\x03\x04", b"OggS",
         b"fLaC", b"ID3\x04\x00", b"RIFF\x00\x00\x00\x00WAVE", b"\x00\x00\x00\x18ftypisom",
         b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"GIF89a", b"II*\x00")
    ),
    st.binary(max_size=300),
)  # fmt: skip
def test_magic_followed_by_noise(magic: bytes, noise: bytes) -> None:
    survives(inspect_bytes, magic + noise)
    survives(sanitize_bytes, magic + noise)
