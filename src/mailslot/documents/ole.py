"""Legacy Office files (.doc, .xls, .ppt, and other OLE compound files), read with olefile.

Findings come from the summary property streams (authors, company, dates, application,
revision number, editing time, thumbnail), from the storages that hold macros and embedded
objects, and from bytes past the last sector. For Word (.doc), the File Information Block
([MS-DOC] 2.5.1, at the start of the ``WordDocument`` stream) says where its table stream
keeps the comments, their authors, the authors of revision marks (tracked changes) and the
printer driver; those are read (olefile gives the streams; no maintained library reads the
FIB). Which text was changed is not read, nor are Excel's and PowerPoint's equivalents; the
report says so. No same-format clean copy can be made (``sanitize.py`` explains what to do
instead).
"""

from __future__ import annotations

import io
import struct
from datetime import datetime
from typing import Final

import olefile

from mailslot.documents import findings as k
from mailslot.documents.findings import Findings
from mailslot.documents.parsing import MAX_MEMBERS, reading
from mailslot.documents.xmp import user_path

_PROPERTIES: Final[dict[str, tuple[str, str]]] = {
    "author": (k.AUTHOR, "author"),
    "last_saved_by": (k.AUTHOR, "last saved by"),
    "company": (k.AUTHOR, "company"),
    "manager": (k.AUTHOR, "manager"),
    "title": (k.AUTHOR, "title"),
    "subject": (k.AUTHOR, "subject"),
    "keywords": (k.AUTHOR, "keywords"),
    "comments": (k.AUTHOR, "comments"),
    "category": (k.AUTHOR, "category"),
    "template": (k.DEVICE, "template"),
    "creating_application": (k.DEVICE, "application"),
    "create_time": (k.TIMESTAMP, "created"),
    "last_saved_time": (k.TIMESTAMP, "last saved"),
    "last_printed": (k.TIMESTAMP, "last printed"),
    "revision_number": (k.REVISION, "revision number"),
    "total_edit_time": (k.REVISION, "total editing time (seconds)"),
    "link_base": (k.AUTHOR, "hyperlink base"),
}
_MACRO_STORAGES: Final = frozenset({"macros", "_vba_project_cur", "vba", "_vba_project"})
_EMBEDDED_STORAGES: Final = ("objectpool", "mbd", "embedding", "_1")
NOTE: Final = (
    "legacy Office file: properties, macros and embedded objects were checked, and for Word "
    "the comments and the authors of tracked changes; the changed text itself, and comments "
    "in Excel and PowerPoint files, were not"
)
_WORD_IDENT: Final = 0xA5EC
_MAX_WORD_NAMES: Final = 100
# Indices of (fc, lcb) pairs in FibRgFcLcb97 ([MS-DOC] 2.5.6).
_PLCF_AND_REF: Final = 4  # comment positions: n + 1 CPs, then n 30-byte ATRDPre10
_PR_DRVR: Final = 27  # the printer driver's settings
_GRP_XST_ATN_OWNERS: Final = 36  # comment authors
_STTBF_RMARK: Final = 51  # authors of revision marks and comments


def inspect_ole(data: bytes) -> Findings:
    found = Findings()
    found.note(NOTE)
    with reading("ole"):
        ole = olefile.OleFileIO(io.BytesIO(data))
        try:
            meta = ole.get_metadata()
            entries = ole.listdir(streams=True, storages=True)
            word = _word(ole)
            # Not in olefile's type stubs, but public attributes of OleFileIO.
            fat: list[int] = list(getattr(ole, "fat", []))
            sector_size = int(getattr(ole, "sectorsize", 512))
            used = [i for i, entry in enumerate(fat) if entry != olefile.FREESECT]
            expected = ((max(used) if used else 0) + 2) * sector_size
        finally:
            ole.close()
    for attribute, (kind, label) in _PROPERTIES.items():
        _property(found, kind, label, getattr(meta, attribute, None))
    if getattr(meta, "thumbnail", None):
        found.add(k.THUMBNAIL, "thumbnail image in the summary properties")
    for path in entries[:MAX_MEMBERS]:
        lowered = [part.lower() for part in path]
        if _MACRO_STORAGES & set(lowered):
            found.add(k.SCRIPT, "macros", "/".join(path[:2]))
        elif any(part.startswith(_EMBEDDED_STORAGES) for part in lowered):
            found.add(k.ATTACHMENT, "embedded object", "/".join(path[:2]))
    if word is not None:
        _word_findings(*word, found)
    if len(data) > expected:
        found.add(k.TRAILING_DATA, f"{len(data) - expected} bytes after the last sector")
    return found


def _property(found: Findings, kind: str, label: str, value: object) -> None:
    if value is None or value in (b"", "", 0):
        return
    if isinstance(value, datetime):
        if value.year <= 1601:
            return
        text = value.isoformat(sep=" ")
    elif isinstance(value, bytes):
        text = value.decode("cp1252", "replace").strip("\x00 ")
    else:
        text = str(value)
    if not text:
        return
    found.add(kind, f"document property {label}", text)
    user = user_path(text)
    if user and kind != k.AUTHOR:
        found.add(k.AUTHOR, f"document property {label} names a user folder", user)


def _word(ole: olefile.OleFileIO[str]) -> tuple[bytes, bytes] | None:
    """A Word document's ``WordDocument`` stream and the table stream its FIB names."""
    if not ole.exists("WordDocument"):
        return None
    fib = ole.openstream("WordDocument").read()
    if len(fib) < 34 or struct.unpack_from("<H", fib)[0] != _WORD_IDENT:
        return None
    table = "1Table" if struct.unpack_from("<H", fib, 0x0A)[0] & 0x0200 else "0Table"
    return fib, ole.openstream(table).read() if ole.exists(table) else b""


def _blob(fib: bytes, table: bytes, index: int) -> bytes:
    """The table stream's bytes that FibRgFcLcb97 pair ``index`` points at ("" if none)."""
    try:
        at = 32
        at += 2 + 2 * struct.unpack_from("<H", fib, at)[0]  # csw, fibRgW
        at += 2 + 4 * struct.unpack_from("<H", fib, at)[0]  # cslw, fibRgLw
        if index >= struct.unpack_from("<H", fib, at)[0]:  # cbRgFcLcb: pairs present
            return b""
        fc, lcb = struct.unpack_from("<II", fib, at + 2 + 8 * index)
    except struct.error:
        return b""
    return table[fc : fc + lcb] if fc + lcb <= len(table) else b""


def _xsts(raw: bytes, at: int = 0) -> list[str]:
    """Consecutive strings, each a 16-bit count of UTF-16 characters and the characters."""
    names: list[str] = []
    while at + 2 <= len(raw) and len(names) < _MAX_WORD_NAMES:
        (count,) = struct.unpack_from("<H", raw, at)
        text = raw[at + 2 : at + 2 + 2 * count]
        if len(text) != 2 * count:
            break
        names.append(text.decode("utf-16-le", "replace"))
        at += 2 + 2 * count
    return names


def _word_findings(fib: bytes, table: bytes, found: Findings) -> None:
    comments = _blob(fib, table, _PLCF_AND_REF)
    if len(comments) >= 38:
        found.add(k.REVISION, f"Word comments: {(len(comments) - 4) // 34}")
    for owner in _xsts(_blob(fib, table, _GRP_XST_ATN_OWNERS)):
        found.add(k.AUTHOR, "Word comment author", owner)
    marks = _blob(fib, table, _STTBF_RMARK)
    # An extended string table: 0xFFFF, a count, the size of extra data (none here), strings.
    authors = _xsts(marks, 6) if marks[:2] == b"\xff\xff" else []
    for author in authors:
        if author != "Unknown":  # Word's placeholder, always first
            found.add(k.REVISION, "Word tracked changes or comments by", author)
            found.add(k.AUTHOR, "Word revision author", author)
    driver = _blob(fib, table, _PR_DRVR)
    if driver:
        name = driver.split(b"\x00", 1)[0].decode("cp1252", "replace").strip()
        found.add(k.PRINTER, "Word printer driver settings", name or f"{len(driver)} bytes")
