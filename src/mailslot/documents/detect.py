"""What a file is, from its first bytes (and, for ZIP containers, its member names), never
from its name: a name is chosen by whoever sent the file."""

from __future__ import annotations

import io
import zipfile
from typing import Final

TYPES: Final[tuple[str, ...]] = (
    "jpeg", "png", "heif", "tiff", "webp", "gif", "pdf",
    "docx", "xlsx", "pptx", "odt", "ods", "odp", "ole",
    "mp3", "m4a", "ogg", "flac", "wav", "mp4", "mov", "zip",
)  # fmt: skip
UNKNOWN: Final = "unknown"

MEDIA_TYPES: Final[dict[str, str]] = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "heif": "image/heic",
    "tiff": "image/tiff",
    "webp": "image/webp",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "ole": "application/x-ole-storage",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "zip": "application/zip",
}

_HEIF_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_M4A_BRANDS: Final = frozenset({b"M4A ", b"M4B ", b"M4P "})
# QuickTime files from before the ftyp box start with one of these.
_OLD_QUICKTIME: Final = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_ODF: Final[dict[bytes, str]] = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.text-template": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.spreadsheet-template": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
    b"application/vnd.oasis.opendocument.presentation-template": "odp",
}
_OOXML: Final = (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"))


def detect_type(data: bytes, name: str = "") -> str:
    """One of ``TYPES``, or ``"unknown"``. ``name`` is accepted for symmetry with the other
    entry points and deliberately not used."""
    del name
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"fLaC"):
        return "flac"
    if head[4:8] == b"ftyp":
        return _iso_type(data)
    if head[4:8] in _OLD_QUICKTIME and int.from_bytes(head[:4], "big") >= 8:
        return "mov"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_type(data)
    if head.startswith(b"ID3"):
        return _after_id3(data)
    if _mpeg_audio_sync(head):
        return "mp3"
    return UNKNOWN


def _iso_type(data: bytes) -> str:
    size = int.from_bytes(data[:4], "big")
    brands = [data[8:12]] + [data[i : i + 4] for i in range(16, min(size, 64), 4)]
    if data[8:12] in _HEIF_BRANDS or (
        data[8:12] not in _M4A_BRANDS and data[8:12] != b"qt  " and _HEIF_BRANDS & set(brands)
    ):
        return "heif"
    if data[8:12] in _M4A_BRANDS:
        return "m4a"
    if data[8:12] == b"qt  ":
        return "mov"
    return "mp4"


def _zip_type(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size <= 200:
                    kind = _ODF.get(archive.read(info).strip())
                    if kind:
                        return kind
            if "[Content_Types].xml" in names:
                for prefix, kind in _OOXML:
                    if any(n.startswith(prefix) for n in names):
                        return kind
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, KeyError,
            NotImplementedError, EOFError, RuntimeError):  # fmt: skip
        # A damaged ZIP is still a ZIP; inspecting it will say what is wrong.
        return "zip"
    return "zip"


def _after_id3(data: bytes) -> str:
    """FLAC files may start with an ID3 tag too; look past it."""
    if len(data) < 10:
        return "mp3"
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    end = 10 + size + (10 if data[5] & 0x10 else 0)
    return "flac" if data[end : end + 4] == b"fLaC" else "mp3"


def _mpeg_audio_sync(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, a known version and layer III, a bitrate and
    sample rate index that are not reserved."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0x03
    layer = (head[1] >> 1) & 0x03
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0x03
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3
