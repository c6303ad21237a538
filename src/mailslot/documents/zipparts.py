"""ZIP containers (plain archives, and the office formats built on them): reading members
within limits, the container's own metadata, and writing a clean container.

Python's ``zipfile`` does the parsing. A member's declared size is checked before it is read
and the read is capped, so a decompression bomb stops at the limit. Names in a clean copy
are kept (the content depends on them); dates become 1980-01-01, the earliest a ZIP can
hold, and comments, extra fields (which hold precise times, user and group ids) and
permission bits are dropped.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from mailslot.documents import findings as k
from mailslot.documents.errors import UnreadableDocument
from mailslot.documents.findings import Findings
from mailslot.documents.parsing import MAX_MEMBER_BYTES, MAX_MEMBERS, MAX_TOTAL_BYTES, reading
from mailslot.documents.xmp import user_path

DOS_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_EOCD: Final = b"PK\x05\x06"
# Extra fields that only say how the entry is stored (ZIP64 sizes, alignment padding).
_NEUTRAL_EXTRA: Final = frozenset({0x0001, 0xD935, 0xCAFE})


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes
    compressed: bool


def members(data: bytes, what: str) -> tuple[list[zipfile.ZipInfo], dict[str, bytes]]:
    """Every member's entry and content, the content read within the limits."""
    contents: dict[str, bytes] = {}
    total = 0
    with reading(what):
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise UnreadableDocument(f"{what}: too many members")
        for info in infos:
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise UnreadableDocument(f"{what}: a member is encrypted")
            if info.file_size > MAX_MEMBER_BYTES:
                raise UnreadableDocument(f"{what}: a member is too large")
            with archive.open(info) as stream:
                content = stream.read(MAX_MEMBER_BYTES + 1)
            if len(content) > MAX_MEMBER_BYTES:
                raise UnreadableDocument(f"{what}: a member is too large")
            total += len(content)
            if total > MAX_TOTAL_BYTES:
                raise UnreadableDocument(f"{what}: too much data when unpacked")
            contents[info.filename] = content
    return infos, contents


def container_findings(data: bytes, infos: list[zipfile.ZipInfo], what: str) -> Findings:
    found = Findings()
    with reading(what):
        comment = zipfile.ZipFile(io.BytesIO(data)).comment
    if comment:
        found.add(k.AUTHOR, f"{what} archive comment", comment)
    dates = sorted({info.date_time for info in infos if info.date_time != DOS_EPOCH})
    if dates:
        first, last = (datetime(*d).isoformat(sep=" ") for d in (dates[0], dates[-1]))
        span = first if first == last else f"{first} to {last}"
        found.add(k.TIMESTAMP, f"{what} member dates", span)
    for info in infos:
        if info.comment:
            found.add(k.AUTHOR, f"{what} member comment on {info.filename}", info.comment)
        for tag in _extra_tags(info.extra):
            if tag in (0x5455, 0x000A):
                found.add(k.TIMESTAMP, f"{what} precise member times ({info.filename})")
            elif tag in (0x7875, 0x7855, 0x5855):
                found.add(k.AUTHOR, f"{what} member owner's user and group ids ({info.filename})")
            elif tag not in _NEUTRAL_EXTRA:
                found.add(k.SERIAL, f"{what} extra field 0x{tag:04x} on {info.filename}")
        user = user_path(info.filename)
        if user:
            found.add(k.AUTHOR, f"{what} member path names a user folder", user)
    extra = trailing_bytes(data)
    if extra:
        found.add(k.TRAILING_DATA, f"{extra} bytes after the end of the {what} container")
    return found


def _extra_tags(extra: bytes) -> list[int]:
    tags = []
    at = 0
    while at + 4 <= len(extra):
        tag = int.from_bytes(extra[at : at + 2], "little")
        size = int.from_bytes(extra[at + 2 : at + 4], "little")
        tags.append(tag)
        at += 4 + size
    return tags


def trailing_bytes(data: bytes) -> int:
    """Bytes after the end-of-central-directory record and its comment."""
    at = data.rfind(_EOCD)
    if at < 0 or at + 22 > len(data):
        return 0
    comment = int.from_bytes(data[at + 20 : at + 22], "little")
    return max(0, len(data) - (at + 22 + comment))


def write_zip(items: list[Member]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for item in items:
            info = zipfile.ZipInfo(item.name, DOS_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED if item.compressed else zipfile.ZIP_STORED
            info.create_system = 0
            info.external_attr = 0
            archive.writestr(info, item.data)
    return out.getvalue()
