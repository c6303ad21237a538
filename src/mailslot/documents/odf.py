"""OpenDocument (ODT, ODS, ODP): inspection and clean copies.

Findings come from ``meta.xml`` (authors, dates, generator, editing cycles and time, user
fields), tracked changes and annotations in the content and styles, macros and event
scripts, embedded objects, stored earlier versions, thumbnails, printer settings in
``settings.xml``, and the container (member dates, trailing bytes).

The clean copy has an empty ``meta.xml``, no ``settings.xml`` (it is optional), no
thumbnails, versions, macros or embedded objects (a frame keeps its replacement picture),
and text with tracked changes accepted and annotations removed. ``mimetype`` stays first and
stored, as the format requires, and the manifest loses the entries of removed files.
"""

from __future__ import annotations

from typing import Final
from xml.etree.ElementTree import Element

from lxml import etree

from mailslot.documents import findings as k
from mailslot.documents.findings import Findings
from mailslot.documents.parsing import local, parse_xml, parse_xml_for_editing, text_of, xml_bytes
from mailslot.documents.xmp import user_path
from mailslot.documents.zipparts import Member, container_findings, members, write_zip

_META: Final[dict[str, str]] = {
    "initial-creator": k.AUTHOR,
    "creator": k.AUTHOR,
    "printed-by": k.AUTHOR,
    "creation-date": k.TIMESTAMP,
    "date": k.TIMESTAMP,
    "print-date": k.TIMESTAMP,
    "generator": k.DEVICE,
    "editing-cycles": k.REVISION,
    "editing-duration": k.REVISION,
    "user-defined": k.AUTHOR,
    "title": k.AUTHOR,
    "subject": k.AUTHOR,
    "description": k.AUTHOR,
    "keyword": k.AUTHOR,
    "template": k.AUTHOR,
    "hyperlink-behaviour": k.AUTHOR,
}
_DROPPED_PREFIXES: Final = ("Thumbnails/", "Versions/", "Basic/", "Scripts/", "Object ")
_DROPPED_FILES: Final = frozenset({"settings.xml", "VersionList.xml", "layout-cache"})
_REMOVED: Final = frozenset(
    {"tracked-changes", "annotation", "annotation-end", "change", "change-start",
     "change-end", "scripts", "event-listeners", "object", "object-ole", "applet", "plugin"}
)  # fmt: skip
_MANIFEST_NS: Final = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
_EMPTY_META: Final = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-meta xmlns:office="urn:oasis:'
    b'names:tc:opendocument:xmlns:office:1.0" office:version="1.2"><office:meta/>'
    b"</office:document-meta>"
)


def inspect_odf(data: bytes) -> Findings:
    infos, parts = members(data, "office file")
    found = container_findings(data, infos, "office file")
    for name, content in parts.items():
        if name == "meta.xml":
            _meta(parse_xml(content, name), found)
        elif name.startswith("Thumbnails/"):
            found.add(k.THUMBNAIL, "thumbnail image of the first page", name)
        elif name.startswith("Versions/") or name == "VersionList.xml":
            found.add(k.REVISION, "an earlier version stored in the file", name)
        elif name.startswith(("Basic/", "Scripts/")):
            found.add(k.SCRIPT, "macros", name)
        elif name.startswith("Object ") and not name.startswith("ObjectReplacements/"):
            found.add(k.ATTACHMENT, "embedded object", name.split("/", 1)[0])
        elif name == "settings.xml":
            _settings(parse_xml(content, name), found)
        elif name in ("content.xml", "styles.xml"):
            _content(name, parse_xml(content, name), found)
    return found


def _meta(root: Element, found: Findings) -> None:
    for element in root.iter():
        name = local(element.tag)
        kind = _META.get(name)
        if kind is None:
            continue
        value = text_of(element)
        if name == "user-defined":
            label = element.get("{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}name", "?")
            found.add(kind, f"user-defined property {label}", value or "empty")
        elif name in ("template", "hyperlink-behaviour"):
            href = element.get("{http://www.w3.org/1999/xlink}href", "")
            if href:
                found.add(kind, f"document {name}", href)
        elif value:
            found.add(kind, f"document property {name}", value)
        if name == "printed-by" and value:
            found.add(k.PRINTER, "printed by", value)
        user = user_path(value)
        if user and kind != k.AUTHOR:
            found.add(k.AUTHOR, f"document property {name} names a user folder", user)


def _settings(root: Element, found: Findings) -> None:
    for element in root.iter():
        name = element.get("{urn:oasis:names:tc:opendocument:xmlns:config:1.0}name", "")
        value = text_of(element)
        if name == "PrinterName" and value:
            found.add(k.PRINTER, "printer", value)
        elif name == "PrinterSetup" and value:
            found.add(k.PRINTER, "printer set-up data")


def _content(name: str, root: Element, found: Findings) -> None:
    changes = annotations = 0
    for element in root.iter():
        tag = local(element.tag)
        if tag == "changed-region":
            changes += 1
        elif tag == "annotation":
            annotations += 1
        elif tag in ("scripts", "event-listeners") and len(element):
            found.add(k.SCRIPT, f"scripts attached to events ({name})")
        elif tag in ("object", "object-ole", "applet", "plugin"):
            found.add(k.ATTACHMENT, f"embedded object ({name})")
        if tag in ("creator",) and text_of(element):
            found.add(k.AUTHOR, "author of a change or comment", text_of(element))
        if tag == "date" and text_of(element) and element.tag.startswith("{http://purl.org/dc"):
            found.add(k.TIMESTAMP, "date of a change or comment", text_of(element))
    if changes:
        found.add(k.REVISION, f"tracked changes ({name})", f"{changes} change(s)")
    if annotations:
        found.add(k.REVISION, f"comments ({name})", f"{annotations} comment(s)")


def sanitise_odf(data: bytes, type_: str) -> bytes:
    del type_
    infos, parts = members(data, "office file")
    kept = [
        info.filename
        for info in infos
        if info.filename in parts
        and not info.filename.startswith(_DROPPED_PREFIXES)
        and info.filename not in _DROPPED_FILES
    ]
    out: list[Member] = []
    if "mimetype" in kept:
        out.append(Member("mimetype", parts["mimetype"], compressed=False))
    for name in kept:
        if name == "mimetype":
            continue
        content = parts[name]
        if name == "meta.xml":
            content = _EMPTY_META
        elif name == "META-INF/manifest.xml":
            content = _manifest(content, set(kept))
        elif name in ("content.xml", "styles.xml"):
            content = _clean_content(name, content)
        out.append(Member(name, content, compressed=True))
    return write_zip(out)


def _manifest(content: bytes, kept: set[str]) -> bytes:
    root = parse_xml_for_editing(content, "manifest.xml")
    for entry in list(root):
        path = entry.get(f"{{{_MANIFEST_NS}}}full-path", "")
        if path in ("/", "") or path in kept:
            continue
        if path.endswith("/") and any(n.startswith(path) for n in kept):
            continue
        root.remove(entry)
    return xml_bytes(root)


def _clean_content(name: str, content: bytes) -> bytes:
    root = parse_xml_for_editing(content, name)
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    for element in reversed(elements):
        parent = element.getparent()
        if parent is None:
            continue
        tag = local(element.tag)
        if tag in _REMOVED:
            _remove_keeping_tail(parent, element)
    return xml_bytes(root)


def _remove_keeping_tail(parent: etree._Element, element: etree._Element) -> None:
    """Remove an element; the text that followed it (its tail) stays in the document."""
    tail = element.tail
    previous = element.getprevious()
    parent.remove(element)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
