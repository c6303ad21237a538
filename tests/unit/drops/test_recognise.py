"""Recognising a sealed drop among uploads from its first bytes alone, and the flag an upload
gets from it as it streams into the blob store."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailslot import drops
from mailslot.cases.sealing import ItemUpload
from mailslot.drops import armor
from mailslot.drops.recognise import PREFIX_LIMIT, is_sealed_drop
from mailslot.storage import FilesystemBlobStore

pytestmark = pytest.mark.no_database

KEY = drops.DropKeyPair.generate()
SEALED = b"".join(drops.seal_stream([KEY.recipient], [b"x" * 200_000]))


def test_binary_and_armored_age_files_are_drops() -> None:
    assert is_sealed_drop(SEALED[:PREFIX_LIMIT])
    assert is_sealed_drop(armor.encode(SEALED)[:PREFIX_LIMIT])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7 a document",
        b"age-encryption.org/v1\n",  # a version line and nothing more
        b"age-encryption.org/v1\n-> X25519 not-base64!\n--- AAAA\n",
        b"age-encryption.org/v2\n-> X25519 AAAA\n",
        b"-----BEGIN AGE ENCRYPTED FILE-----\nnot armor\n",
    ],
)
def test_what_only_looks_like_one_is_not(data: bytes) -> None:
    assert not is_sealed_drop(data)


def test_a_header_cut_short_is_not_recognised() -> None:
    header_end = SEALED.index(b"\n---") + 4
    assert not is_sealed_drop(SEALED[: header_end - 10])


def write(tmp_path: Path, data: bytes, piece: int = 1000) -> ItemUpload:
    upload = ItemUpload(FilesystemBlobStore(tmp_path), limit=1 << 30)
    for start in range(0, len(data), piece):
        upload.write(data[start : start + piece])
    upload.close()
    return upload


def test_an_upload_is_flagged_from_its_first_bytes_in_any_pieces(tmp_path: Path) -> None:
    assert write(tmp_path, SEALED).sealed_drop
    assert write(tmp_path, SEALED, piece=7).sealed_drop
    assert write(tmp_path, armor.encode(SEALED)).sealed_drop
    assert not write(tmp_path, b"%PDF-1.7 " * 50_000).sealed_drop
    assert not write(tmp_path, b"").sealed_drop
