"""MP4, QuickTime (MOV) and MP4 audio (M4A): boxes found with hachoir, tags with mutagen.

Findings: creation and modification times in the movie, track and media headers; user data
(``udta``: place ``©xyz``, make, model, software, authors, and vendors' boxes, which often
hold serial numbers and thumbnails); QuickTime metadata (``moov/meta`` keys such as
``com.apple.quicktime.location.ISO6709``); iTunes-style tags (artist, encoder, Apple account,
cover); XMP and other ``uuid`` boxes; timed metadata tracks (GoPro's GPMF, camera motion),
which carry GPS fixes; non-zero bytes in free space; bytes after the last box.

A clean copy keeps every byte offset the file's index points to: metadata boxes are turned
into ``free`` boxes of the same size and filled with zeros, header times are zeroed in
place, and trailing bytes are cut. Media data is never touched. A file with a timed metadata
track is refused: the track cannot be dropped without rewriting the index.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import mutagen.mp4
from hachoir.core import config as hachoir_config
from hachoir.parser.container.mp4 import MP4File
from hachoir.stream import InputIOStream

from mailslot.documents import findings as k
from mailslot.documents.errors import NotSanitisable
from mailslot.documents.findings import Findings
from mailslot.documents.parsing import reading
from mailslot.documents.xmp import xmp_findings

hachoir_config.quiet = True

_CONTAINERS: Final = frozenset({"moov", "trak", "mdia", "minf", "udta", "meta", "edts", "dinf"})
_HEADERS: Final = frozenset({"mvhd", "tkhd", "mdhd"})
_HIDDEN: Final = frozenset({"udta", "uuid"})
_FREE: Final = frozenset({"free", "skip", "wide"})
_XMP_UUID: Final = "be7acfcb-97a9-42e8-9c71-999491e3afac"
_USER_DATA: Final[dict[str, str]] = {
    "©xyz": k.GPS,
    "loci": k.GPS,
    "©mak": k.DEVICE,
    "©mod": k.DEVICE,
    "©swr": k.DEVICE,
    "©too": k.DEVICE,
    "©enc": k.DEVICE,
    "©day": k.TIMESTAMP,
    **dict.fromkeys(
        ("©ART", "©aut", "©cpy", "©nam", "©cmt", "©inf", "©des", "©dir", "©prd", "©wrt",
         "auth", "titl", "dscp", "cprt", "perf", "albm", "gnre", "kywd", "©req", "©src"),
        k.AUTHOR,
    ),
}  # fmt: skip
_QUIET_USER_DATA: Final = frozenset({"meta", "free", "skip", "hnti", "hinf", "name", "chpl"})
_ITUNES: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("©ART", "aART", "©wrt", "©alb", "©nam", "©cmt", "desc", "ldes", "cprt", "©grp",
         "©lyr", "ownr", "apID", "©pub", "soar", "soaa", "soco"),
        k.AUTHOR,
    ),
    **dict.fromkeys(("©too", "©enc"), k.DEVICE),
    **dict.fromkeys(("©day", "purd"), k.TIMESTAMP),
    "covr": k.THUMBNAIL,
    **dict.fromkeys(("cnID", "atID", "plID", "geID", "sfID", "xid "), k.SERIAL),
}  # fmt: skip
_TELEMETRY: Final = frozenset({"meta", "camm", "gpmd"})


# hachoir has no type information: its fields are typed as what they are to us.
Field = Any


@dataclass(frozen=True)
class Box:
    path: str
    tag: str
    start: int
    size: int
    field: Field


def _boxes(data: bytes) -> tuple[list[Box], int]:
    """Every box under the containers Mailslot looks into, and where the file's last valid
    top-level box ends."""
    found: list[Box] = []
    end = 0
    with reading("mp4"):
        parsed = MP4File(InputIOStream(io.BytesIO(data), source="document"))
        for atom in _atoms(parsed):
            tag, start, size = _identity(atom)
            declared = atom["size"].value
            if declared == 1 and "size64" in atom:
                declared = atom["size64"].value
            if declared == 0:
                declared = len(data) - start
            if declared != size or not _printable(tag):
                break
            end = start + size
            found.append(Box("", tag, start, size, atom))
            found.extend(_descend(atom, tag))
    return found, end


def _atoms(fieldset: Field) -> Iterator[Field]:
    for field in fieldset:
        if field.is_field_set and "tag" in field and "size" in field:
            yield field


def _identity(atom: Field) -> tuple[str, int, int]:
    return str(atom["tag"].value), int(atom.absolute_address // 8), int(atom.size // 8)


def _content(atom: Field) -> Field | None:
    for field in atom:
        if field.name not in ("size", "tag", "size64", "usertag"):
            return field
    return None


def _descend(atom: Field, path: str) -> list[Box]:
    if path.rsplit("/", 1)[-1] not in _CONTAINERS or path.count("/") > 8:
        return []
    content = _content(atom)
    if content is None or not content.is_field_set:
        return []
    if "tags" in content:
        content = content["tags"]
    out = []
    for child in _atoms(content):
        tag, start, size = _identity(child)
        out.append(Box(path, tag, start, size, child))
        out.extend(_descend(child, f"{path}/{tag}"))
    return out


def _printable(tag: str) -> bool:
    return len(tag) == 4 and all(" " <= ch <= "~" or ch == "©" for ch in tag)


def inspect_iso(data: bytes, type_: str = "mp4") -> Findings:
    found = Findings()
    boxes, end = _boxes(data)
    with reading(type_):
        for box in boxes:
            _box(data, box, found)
    _itunes(data, type_, found)
    if len(data) > end:
        found.add(k.TRAILING_DATA, f"{len(data) - end} bytes after the last box")
    return found


def _box(data: bytes, box: Box, found: Findings) -> None:
    parent = box.path.rsplit("/", 1)[-1]
    if box.tag in _HEADERS:
        for name, when in _times(data, box):
            if when:
                found.add(k.TIMESTAMP, f"{box.tag} {name}", when)
    elif parent == "udta" and box.tag not in _QUIET_USER_DATA:
        kind = _USER_DATA.get(box.tag)
        if box.tag == "XMP_":
            found.extend(xmp_findings(_payload(data, box), "XMP"))
        elif kind is None:
            found.add(k.SERIAL, f"vendor data {box.tag!r} (may hold serial numbers or images)")
        else:
            text = _text(_payload(data, box), box.tag)
            found.add(kind, f"user data {box.tag}", text)
            position = iso6709(text) if box.tag == "©xyz" else None
            if position:
                found.add(k.GPS, "user data ©xyz position", position)
    elif box.tag == "meta" and parent in ("moov", "trak"):
        _quicktime_meta(data, box, found)
    elif box.tag == "uuid":
        usertag = str(box.field["usertag"].value).lower()
        if usertag == _XMP_UUID:
            found.extend(xmp_findings(_payload(data, box)[16:], "XMP"))
        else:
            found.add(k.SERIAL, f"vendor box uuid {usertag} (may hold serial numbers)")
    elif box.tag == "hdlr" and parent == "mdia":
        subtype = _handler(box)
        if subtype in _TELEMETRY:
            found.add(k.GPS, f"timed metadata track ({subtype}; cameras record GPS fixes here)")
    elif box.tag in _FREE and any(_payload(data, box)[: 1 << 20]):
        found.add(k.TRAILING_DATA, f"non-zero bytes hidden in a {box.tag} box")


def _payload(data: bytes, box: Box) -> bytes:
    header = 16 if data[box.start : box.start + 4] == b"\x00\x00\x00\x01" else 8
    return data[box.start + header : box.start + box.size]


# ISO 6709 as cameras and phones write it: latitude ±DD, ±DDMM or ±DDMMSS, longitude ±DDD,
# ±DDDMM or ±DDDMMSS, each with an optional fraction, then an optional altitude.
_ISO6709: Final = re.compile(
    r"([+-])(\d{2})(\d{2})?(\d{2})?(\.\d+)?([+-])(\d{3})(\d{2})?(\d{2})?(\.\d+)?"
    r"([+-]\d+(?:\.\d+)?)?(?:CRS[^/]*)?/?"
)


def _degrees(sign: str, *parts: str | None) -> float:
    """Degrees from whole degrees, minutes and seconds, the fraction on the last given."""
    fraction = float(parts[-1]) if parts[-1] else 0.0
    given = [float(p) for p in parts[:-1] if p is not None]
    given[-1] += fraction
    value = sum(v / 60.0**i for i, v in enumerate(given))
    return -value if sign == "-" else value


def iso6709(text: str) -> str | None:
    """``+52.5200+013.4050+034.0/`` as "52.520000, 13.405000, altitude 34.0 m"; None when
    the text is not an ISO 6709 position."""
    match = _ISO6709.fullmatch(text.strip().rstrip("\x00"))
    if match is None:
        return None
    g = match.groups()
    latitude = _degrees(g[0], g[1], g[2], g[3], g[4])
    longitude = _degrees(g[5], g[6], g[7], g[8], g[9])
    if abs(latitude) > 90 or abs(longitude) > 180:
        return None
    position = f"{latitude:.6f}, {longitude:.6f}"
    return f"{position}, altitude {float(g[10]):.1f} m" if g[10] else position


def _text(payload: bytes, tag: str) -> str:
    """QuickTime user data text: a 2-byte length and a 2-byte language, then the text."""
    if tag.startswith("©") and len(payload) >= 4:
        length = int.from_bytes(payload[:2], "big")
        return payload[4 : 4 + length].decode("utf-8", "replace")
    return payload.decode("utf-8", "replace")


def _times(data: bytes, box: Box) -> list[tuple[str, str]]:
    content = _content(box.field)
    out = []
    for name in ("creation_date", "lastmod_date"):
        if content is not None and name in content:
            field = content[name]
            start = field.absolute_address // 8
            raw = data[start : start + field.size // 8]
            out.append((name.replace("_", " "), str(field.value) if any(raw) else ""))
    return out


def _handler(box: Box) -> str:
    content = _content(box.field)
    if content is None or "subtype" not in content:
        return ""
    return str(content["subtype"].value)


def _quicktime_meta(data: bytes, box: Box, found: Findings) -> None:
    payload = _payload(data, box)
    keys = []
    at = payload.find(b"keys")
    if at >= 4:
        count = int.from_bytes(payload[at + 8 : at + 12], "big")
        cursor = at + 12
        for _ in range(min(count, 1000)):
            size = int.from_bytes(payload[cursor : cursor + 4], "big")
            if size < 8:
                break
            keys.append(payload[cursor + 8 : cursor + size].decode("utf-8", "replace"))
            cursor += size
    for key in keys:
        lowered = key.lower()
        kind = (
            k.GPS
            if "location" in lowered
            else k.DEVICE
            if any(w in lowered for w in ("make", "model", "software"))
            else k.TIMESTAMP
            if "date" in lowered
            else k.SERIAL
            if "identifier" in lowered or "serial" in lowered
            else k.AUTHOR
        )
        found.add(kind, f"QuickTime metadata {key}")


def _itunes(data: bytes, type_: str, found: Findings) -> None:
    try:
        with reading(type_):
            tags = mutagen.mp4.MP4(io.BytesIO(data)).tags  # type: ignore[no-untyped-call]
    except NotSanitisable:
        raise
    except Exception:
        return
    items: list[tuple[str, object]] = list((tags or {}).items())
    for key, value in items:
        kind = _ITUNES.get(key, k.AUTHOR if key.startswith("----") else None)
        if kind == k.THUMBNAIL:
            found.add(kind, "cover picture")
        elif kind:
            text = "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)
            found.add(kind, f"tag {key}", text)


def sanitise_iso(data: bytes, type_: str) -> bytes:
    boxes, end = _boxes(data)
    out = bytearray(data[:end])
    freed: list[tuple[int, int]] = []
    with reading(type_):
        for box in boxes:
            if any(start <= box.start < stop for start, stop in freed):
                continue  # already zeroed with the box that holds it
            parent = box.path.rsplit("/", 1)[-1]
            if box.tag == "hdlr" and parent == "mdia" and _handler(box) in _TELEMETRY:
                raise NotSanitisable(
                    f"{type_}: a timed metadata track (GPS and motion) cannot be removed "
                    "without rewriting the file"
                )
            if (
                box.tag in _HIDDEN
                or box.tag in _FREE
                or (box.tag == "meta" and parent in ("moov", "trak"))
            ):
                _to_free(data, out, box)
                freed.append((box.start, box.start + box.size))
            elif box.tag in _HEADERS:
                _zero_times(out, box)
    return bytes(out)


def _to_free(data: bytes, out: bytearray, box: Box) -> None:
    header = 16 if data[box.start : box.start + 4] == b"\x00\x00\x00\x01" else 8
    out[box.start + 4 : box.start + 8] = b"free"
    out[box.start + header : box.start + box.size] = bytes(box.size - header)


def _zero_times(out: bytearray, box: Box) -> None:
    content = _content(box.field)
    for name in ("creation_date", "lastmod_date"):
        if content is not None and name in content:
            field = content[name]
            start = field.absolute_address // 8
            out[start : start + field.size // 8] = bytes(field.size // 8)
