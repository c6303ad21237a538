"""Legacy Office files (.doc, .xls, .ppt, and other OLE compound files), read with olefile.

Findings come from the summary property streams (authors, company, dates, application,
revision number, editing time, thumbnail), from the storages that hold macros and embedded
objects, and from bytes past the last sector. Tracked changes and comments inside the binary
text streams are not read; the report says so. No clean copy can be made (``sanitize.py``
explains what to do instead).
"""

from __future__ import annotations

import io
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
    "legacy Office file: properties, macros and embedded objects were checked; tracked "
    "changes and comments inside the text were not"
)


def inspect_ole(data: bytes) -> Findings:
    found = Findings()
    found.note(NOTE)
    with reading("ole"):
        ole = olefile.OleFileIO(io.BytesIO(data))
        try:
            meta = ole.get_metadata()
            entries = ole.listdir(streams=True, storages=True)
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
