"""Findings in the metadata Pillow reads from an image: EXIF (with its GPS, Exif and
thumbnail directories), IPTC, text chunks and comments, and the colour profile."""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, ImageCms, ImageFile, IptcImagePlugin, TiffImagePlugin
from PIL.ExifTags import IFD

from mailslot.documents import findings as k
from mailslot.documents.findings import Findings
from mailslot.documents.xmp import user_path

# IFD0 and the Exif IFD: tag number -> (kind, label)
_TAGS: Final[dict[int, tuple[str, str]]] = {
    0x010E: (k.AUTHOR, "image description"),
    0x010F: (k.DEVICE, "camera make"),
    0x0110: (k.DEVICE, "camera model"),
    0x0131: (k.DEVICE, "software"),
    0x0132: (k.TIMESTAMP, "date and time"),
    0x013B: (k.AUTHOR, "artist"),
    0x013C: (k.DEVICE, "host computer"),
    0x8298: (k.AUTHOR, "copyright"),
    0x9C9B: (k.AUTHOR, "Windows title"),
    0x9C9C: (k.AUTHOR, "Windows comment"),
    0x9C9D: (k.AUTHOR, "Windows author"),
    0x9C9E: (k.AUTHOR, "Windows keywords"),
    0x9C9F: (k.AUTHOR, "Windows subject"),
    0x9003: (k.TIMESTAMP, "taken"),
    0x9004: (k.TIMESTAMP, "digitised"),
    0x9010: (k.TIMESTAMP, "time zone"),
    0x9011: (k.TIMESTAMP, "time zone when taken"),
    0x9012: (k.TIMESTAMP, "time zone when digitised"),
    0x9286: (k.AUTHOR, "user comment"),
    0x927C: (k.SERIAL, "maker note (vendor data, often with serial numbers)"),
    0xA420: (k.SERIAL, "image unique id"),
    0xA430: (k.AUTHOR, "camera owner"),
    0xA431: (k.SERIAL, "body serial number"),
    0xA432: (k.DEVICE, "lens specification"),
    0xA433: (k.DEVICE, "lens make"),
    0xA434: (k.DEVICE, "lens model"),
    0xA435: (k.SERIAL, "lens serial number"),
    0xC614: (k.DEVICE, "unique camera model"),
    0xC62F: (k.SERIAL, "camera serial number"),
}
_HIDDEN_VALUE: Final = frozenset({0x927C})  # binary: say that it is there, not what it holds
_IPTC: Final[dict[tuple[int, int], tuple[str, str]]] = {
    (2, 80): (k.AUTHOR, "IPTC by-line"),
    (2, 85): (k.AUTHOR, "IPTC by-line title"),
    (2, 110): (k.AUTHOR, "IPTC credit"),
    (2, 115): (k.AUTHOR, "IPTC source"),
    (2, 116): (k.AUTHOR, "IPTC copyright"),
    (2, 120): (k.AUTHOR, "IPTC caption"),
    (2, 122): (k.AUTHOR, "IPTC caption writer"),
    (2, 55): (k.TIMESTAMP, "IPTC date created"),
    (2, 60): (k.TIMESTAMP, "IPTC time created"),
    (2, 62): (k.TIMESTAMP, "IPTC digitised date"),
    (2, 90): (k.GPS, "IPTC city"),
    (2, 92): (k.GPS, "IPTC sub-location"),
    (2, 95): (k.GPS, "IPTC province or state"),
    (2, 101): (k.GPS, "IPTC country"),
    (2, 65): (k.DEVICE, "IPTC originating program"),
}
# Text chunks (PNG tEXt/iTXt/zTXt, GIF and JPEG comments) by key, lower-cased.
_TEXT_KEYS: Final[dict[str, str]] = {
    "author": k.AUTHOR,
    "copyright": k.AUTHOR,
    "title": k.AUTHOR,
    "description": k.AUTHOR,
    "comment": k.AUTHOR,
    "disclaimer": k.AUTHOR,
    "source": k.DEVICE,
    "software": k.DEVICE,
    "creation time": k.TIMESTAMP,
    "date:create": k.TIMESTAMP,
    "date:modify": k.TIMESTAMP,
    "date:timestamp": k.TIMESTAMP,
}
# Pillow's own keys in ``Image.info`` that describe pixels, not people.
_TECHNICAL_INFO: Final = frozenset(
    {"dpi", "gamma", "transparency", "aspect", "interlace", "srgb", "chromaticity", "duration",
     "loop", "background", "version", "extension", "disposal", "compression", "progressive",
     "progression", "jfif", "jfif_version", "jfif_unit", "jfif_density", "adobe",
     "adobe_transform", "bit_depth", "chroma", "primary", "original_orientation",
     "nclx_profile", "depth_images", "aux", "resolution", "xres", "yres", "icc_profile",
     "exif", "xmp", "XML:com.adobe.xmp", "thumbnails", "metadata", "photoshop", "mp",
     "mpoffset", "default_image", "blend", "timestamp", "frame_count", "transparency_index",
     "n_frames", "dpc", "mode", "tile", "mpinfo", "icc", "comments", "unit"}
)  # fmt: skip


def exif_findings(exif: Image.Exif, found: Findings, where: str = "EXIF") -> None:
    _directory(dict(exif.items()), found, where)
    _directory(exif.get_ifd(IFD.Exif), found, where)
    gps = exif.get_ifd(IFD.GPSInfo)
    if gps:
        found.add(k.GPS, f"{where} GPS position", _gps_text(gps))
    thumbnail = exif.get_ifd(IFD.IFD1)
    if thumbnail:
        found.add(k.THUMBNAIL, f"{where} thumbnail image (may show the uncropped original)")


def _directory(tags: dict[int, object], found: Findings, where: str) -> None:
    for tag, value in tags.items():
        entry = _TAGS.get(tag)
        if entry is None:
            continue
        kind, label = entry
        if tag in _HIDDEN_VALUE:
            found.add(kind, f"{where} {label}")
            continue
        text = _windows_text(value) if 0x9C9B <= tag <= 0x9C9F else _plain(value)
        if not text:
            continue
        found.add(kind, f"{where} {label}", text)
        user = user_path(text)
        if user and kind != k.AUTHOR:
            found.add(k.AUTHOR, f"{where} {label} names a user folder", user)


def _plain(value: object) -> str:
    if isinstance(value, bytes):
        # The UserComment's 8-byte character code prefix ("ASCII\0\0\0", "UNICODE\0").
        if value[:8] == b"UNICODE\x00":
            return value[8:].decode("utf-16", "replace").strip("\x00 ")
        if value[:8] in (b"ASCII\x00\x00\x00", b"\x00" * 8, b"JIS\x00\x00\x00\x00\x00"):
            value = value[8:]
        return value.rstrip(b"\x00").decode("utf-8", "replace").strip()
    if isinstance(value, tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value).strip("\x00 ")


def _windows_text(value: object) -> str:
    raw = bytes(value) if isinstance(value, (bytes, tuple)) else b""
    if isinstance(value, tuple):
        raw = bytes(v for v in value if isinstance(v, int) and 0 <= v < 256)
    return raw.decode("utf-16-le", "replace").rstrip("\x00").strip()


def _gps_text(gps: dict[int, object]) -> str:
    latitude = _degrees(gps.get(2), gps.get(1))
    longitude = _degrees(gps.get(4), gps.get(3))
    if latitude is not None and longitude is not None:
        return f"{latitude:.6f}, {longitude:.6f}"
    return f"{len(gps)} GPS fields"


def _degrees(value: object, ref: object) -> float | None:
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    sign = -1 if str(ref).strip("\x00 ") in ("S", "W") else 1
    return sign * (d + m / 60 + s / 3600)


def iptc_findings(image: Image.Image, found: Findings) -> None:
    if not isinstance(image, ImageFile.ImageFile):
        return
    iptc = IptcImagePlugin.getiptcinfo(image)
    if not iptc:
        return
    for key, value in iptc.items():
        entry = _IPTC.get(key)
        if entry:
            found.add(entry[0], entry[1], value if isinstance(value, bytes) else _plain(value))


def info_findings(info: dict[str, object], found: Findings, where: str) -> None:
    """Text chunks, comments and anything else unknown that a format stored as text."""
    for key, value in info.items():
        if key in _TECHNICAL_INFO or not isinstance(value, (str, bytes)):
            continue
        if isinstance(value, bytes) and not _looks_like_text(value):
            continue
        kind = _TEXT_KEYS.get(key.lower(), k.AUTHOR)
        found.add(kind, f"{where} text {key!r}", value)
    comments = info.get("comments")
    if isinstance(comments, list):
        for comment in comments:
            found.add(k.AUTHOR, f"{where} comment", comment)


def _looks_like_text(value: bytes) -> bool:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch.isspace() for ch in text)


def icc_findings(icc: bytes, found: Findings) -> None:
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile
    names = [profile.profile_description, profile.manufacturer, profile.model]
    text = "; ".join(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    found.add(k.DEVICE, "colour profile", text or "unnamed")


def tiff_findings(image: Image.Image, found: Findings) -> None:
    """TIFF keeps its tags on the image itself, with IPTC and Photoshop blocks among them."""
    if not isinstance(image, TiffImagePlugin.TiffImageFile):
        return
    tags = dict(image.tag_v2)
    _directory(tags, found, "TIFF")
    if 33723 in tags:  # IPTC-NAA
        found.add(k.AUTHOR, "TIFF IPTC block (names, places and captions)")
    if 34377 in tags:  # Photoshop image resources
        found.add(k.THUMBNAIL, "TIFF Photoshop resources (may hold a thumbnail)")
