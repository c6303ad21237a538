"""Clean copies of DOCX, XLSX and PPTX files.

Parts that are only metadata, comments, macros, embedded files, printer settings, thumbnails,
custom XML or revision logs are dropped, with their relationships and content-type entries.
Document properties become empty. In the text, tracked changes are accepted (insertions kept,
deletions dropped, old formatting forgotten), comment anchors, revision save ids and
paragraph ids are removed, and so are the references to embedded objects (a Word object keeps
its picture). External references keep only their file name; an attached template goes.

Spreadsheets and presentations with embedded objects are refused: their objects cannot be
cut out without breaking the file, and a flattened PDF is the better copy for them.
"""

from __future__ import annotations

import posixpath
from typing import Final

from lxml import etree

from mailslot.documents.errors import NotSanitisable
from mailslot.documents.ooxml import (
    COMMENT_PARTS,
    CUSTOM_XML_PARTS,
    EMBEDDED_PARTS,
    MACRO_PARTS,
    PRINTER_PARTS,
    REVISION_PARTS,
    THUMBNAIL_PARTS,
    TRACKED_CHANGES,
    W,
)
from mailslot.documents.parsing import local, parse_xml_for_editing, xml_bytes
from mailslot.documents.zipparts import Member, members, write_zip

_EMPTY_CORE: Final = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    b'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl'
    b'.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
)
_EMPTY_APP: Final = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-'
    b'properties"/>'
)
_MACRO_FREE: Final[dict[str, str]] = {
    "application/vnd.ms-word.document.macroEnabled.main+xml": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    ),
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
    ),
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    ),
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
    ),
}
# Accepting a change: the content of these stays, the mark goes.
_UNWRAPPED: Final = frozenset({"ins", "moveTo"})
_REMOVED_MARKS: Final = frozenset(
    {"commentRangeStart", "commentRangeEnd", "commentReference", "moveFromRangeStart",
     "moveFromRangeEnd", "moveToRangeStart", "moveToRangeEnd", "customXmlMoveFromRangeStart",
     "customXmlMoveFromRangeEnd", "customXmlMoveToRangeStart", "customXmlMoveToRangeEnd",
     "customXmlInsRangeEnd", "customXmlDelRangeEnd", "rsids", "docVars", "attachedTemplate",
     "absPath", "OLEObject", "annotationRef"}
) | (TRACKED_CHANGES - _UNWRAPPED)  # fmt: skip
# Saved paths (Excel), embedded and ActiveX objects, and the comment drawings of a sheet.
_REMOVED_ANYWHERE: Final = frozenset(
    {"absPath", "OLEObject", "oleObjects", "controls", "legacyDrawing"}
)
_DROPPED_ATTRIBUTES: Final = frozenset({"paraId", "textId"})
_RELS_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"


def _dropped(name: str) -> bool:
    return bool(
        name == "docProps/custom.xml"
        or THUMBNAIL_PARTS.match(name)
        or COMMENT_PARTS.match(name)
        or REVISION_PARTS.match(name)
        or MACRO_PARTS.search(name)
        or EMBEDDED_PARTS.match(name)
        or PRINTER_PARTS.match(name)
        or CUSTOM_XML_PARTS.match(name)
    )


def sanitise_ooxml(data: bytes, type_: str) -> bytes:
    infos, parts = members(data, "office file")
    if type_ != "docx" and any(EMBEDDED_PARTS.match(n) for n in parts):
        raise NotSanitisable(
            f"{type_}: embedded objects cannot be removed without breaking the file; "
            "make a flattened PDF of it instead"
        )
    dropped = {name for name in parts if _dropped(name)}
    out: list[Member] = []
    for info in infos:
        name = info.filename
        if name not in parts or name in dropped:
            continue
        content = parts[name]
        if name == "docProps/core.xml":
            content = _EMPTY_CORE
        elif name == "docProps/app.xml":
            content = _EMPTY_APP
        elif name == "[Content_Types].xml":
            content = _content_types(content, dropped)
        elif name.endswith(".rels"):
            content = _relationships(name, content, dropped)
        elif name.endswith(".xml"):
            content = _text_part(name, content)
        out.append(Member(name, content, compressed=True))
    return write_zip(out)


def _content_types(content: bytes, dropped: set[str]) -> bytes:
    root = parse_xml_for_editing(content, "[Content_Types].xml")
    for element in list(root):
        part = element.get("PartName", "").lstrip("/")
        if part and part in dropped:
            root.remove(element)
            continue
        kind = element.get("ContentType", "")
        if kind in _MACRO_FREE:
            element.set("ContentType", _MACRO_FREE[kind])
    return xml_bytes(root)


def _relationships(name: str, content: bytes, dropped: set[str]) -> bytes:
    root = parse_xml_for_editing(content, name)
    # "word/_rels/document.xml.rels" describes "word/document.xml": targets are relative to
    # "word/"; "_rels/.rels" describes the package root.
    base = posixpath.dirname(posixpath.dirname(name))
    for rel in list(root):
        target = rel.get("Target", "")
        kind = rel.get("Type", "").rsplit("/", 1)[-1]
        if rel.get("TargetMode") == "External":
            if kind == "attachedTemplate":
                root.remove(rel)
            elif kind != "hyperlink":
                rel.set("Target", posixpath.basename(target.replace("\\", "/")))
            continue
        resolved = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(base, target))
        )
        if resolved in dropped or kind in ("attachedTemplate", "printerSettings"):
            root.remove(rel)
    return xml_bytes(root)


def _text_part(name: str, content: bytes) -> bytes:
    root = parse_xml_for_editing(content, name)
    _clean_tree(root)
    return xml_bytes(root)


def _clean_tree(root: etree._Element) -> None:
    # Collect first: the tree changes under the loop otherwise.
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    for element in elements:
        for attr in list(element.attrib):
            name = local(attr)
            if name.startswith("rsid") or name in _DROPPED_ATTRIBUTES:
                del element.attrib[attr]
        if element.tag == f"{W}fileSharing" or local(element.tag) == "fileSharing":
            for attr in list(element.attrib):
                if local(attr) == "userName":
                    del element.attrib[attr]
    for element in reversed(elements):
        parent = element.getparent()
        if parent is None:
            continue
        tag = local(element.tag)
        word = element.tag.startswith(W)
        if word and tag in _UNWRAPPED and len(element):
            _unwrap(element)
        elif (word and tag in (_REMOVED_MARKS | _UNWRAPPED)) or tag in _REMOVED_ANYWHERE:
            parent.remove(element)


def _unwrap(element: etree._Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    index = parent.index(element)
    for offset, child in enumerate(list(element)):
        parent.insert(index + offset, child)
    parent.remove(element)
