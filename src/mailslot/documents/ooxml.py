"""Office Open XML (DOCX, XLSX, PPTX): what the parts beside the content say.

An OOXML file is a ZIP of XML parts. Findings come from the document properties (core, app
and custom), comments and their authors, tracked changes, revision save ids, macros and
ActiveX controls, embedded objects, printer settings, thumbnails, custom XML data, saved
paths (``absPath``, templates, external references), and the container itself (member
dates, trailing bytes). The clean copy is made by ``ooxml_clean.py``.
"""

from __future__ import annotations

import re
from typing import Final
from xml.etree.ElementTree import Element

from mailslot.documents import findings as k
from mailslot.documents.findings import Findings
from mailslot.documents.parsing import local, parse_xml, text_of
from mailslot.documents.xmp import user_path
from mailslot.documents.zipparts import container_findings, members

W: Final = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CORE: Final[dict[str, str]] = {
    "creator": k.AUTHOR,
    "lastModifiedBy": k.AUTHOR,
    "created": k.TIMESTAMP,
    "modified": k.TIMESTAMP,
    "lastPrinted": k.TIMESTAMP,
    "revision": k.REVISION,
    "version": k.REVISION,
    "title": k.AUTHOR,
    "subject": k.AUTHOR,
    "description": k.AUTHOR,
    "keywords": k.AUTHOR,
    "category": k.AUTHOR,
    "contentStatus": k.AUTHOR,
    "identifier": k.SERIAL,
}
_APP: Final[dict[str, str]] = {
    "Application": k.DEVICE,
    "AppVersion": k.DEVICE,
    "Company": k.AUTHOR,
    "Manager": k.AUTHOR,
    "Template": k.DEVICE,
    "TotalTime": k.REVISION,
    "HyperlinkBase": k.AUTHOR,
}
TRACKED_CHANGES: Final = frozenset(
    {"ins", "del", "moveFrom", "moveTo", "rPrChange", "pPrChange", "sectPrChange",
     "tblPrChange", "trPrChange", "tcPrChange", "tblGridChange", "numberingChange", "cellIns",
     "cellDel", "cellMerge", "customXmlInsRangeStart", "customXmlDelRangeStart"}
)  # fmt: skip
# Parts that are comments (or the people who wrote them), by pattern on the part name.
COMMENT_PARTS: Final = re.compile(
    r"^(word/(comments\w*|people)\.xml|xl/(comments\d*\.xml|threadedComments/.*|persons/.*)"
    r"|ppt/(comments/.*|commentAuthors\.xml|authors\.xml))$",
    re.IGNORECASE,
)
REVISION_PARTS: Final = re.compile(r"^(xl/revisions/.*|ppt/revisionInfo\.xml)$", re.IGNORECASE)
MACRO_PARTS: Final = re.compile(r"(^|/)(vbaProject\.bin|vbaData\.xml|activeX/.*)$", re.IGNORECASE)
EMBEDDED_PARTS: Final = re.compile(r"^\w+/embeddings/.+$", re.IGNORECASE)
PRINTER_PARTS: Final = re.compile(r"^\w+/printerSettings/.+$", re.IGNORECASE)
THUMBNAIL_PARTS: Final = re.compile(r"^docProps/thumbnail\.\w+$", re.IGNORECASE)
CUSTOM_XML_PARTS: Final = re.compile(r"^customXml/.+$", re.IGNORECASE)
WORD_TEXT_PARTS: Final = re.compile(
    r"^word/(document|header\d*|footer\d*|footnotes|endnotes|glossary/document)\.xml$"
)
_HYPERLINK: Final = "/hyperlink"


def inspect_ooxml(data: bytes) -> Findings:
    infos, parts = members(data, "office file")
    found = container_findings(data, infos, "office file")
    for name, content in parts.items():
        if name == "docProps/core.xml":
            _properties(parse_xml(content, name), _CORE, "document property", found)
        elif name == "docProps/app.xml":
            _properties(parse_xml(content, name), _APP, "application property", found)
        elif name == "docProps/custom.xml":
            _custom(parse_xml(content, name), found)
        elif THUMBNAIL_PARTS.match(name):
            found.add(k.THUMBNAIL, "thumbnail image of the first page", name)
        elif COMMENT_PARTS.match(name):
            _comments(name, parse_xml(content, name), found)
        elif REVISION_PARTS.match(name):
            found.add(k.REVISION, "revision log", name)
        elif MACRO_PARTS.search(name):
            found.add(k.SCRIPT, "macros or ActiveX controls", name)
        elif EMBEDDED_PARTS.match(name):
            found.add(k.ATTACHMENT, "embedded file", name)
        elif PRINTER_PARTS.match(name):
            found.add(k.PRINTER, "printer settings", printer_name(content) or name)
        elif CUSTOM_XML_PARTS.match(name) and name.endswith(".xml") and "/_rels/" not in name:
            _custom_xml(name, parse_xml(content, name), found)
        elif name.endswith(".rels"):
            _relationships(name, parse_xml(content, name), found)
        elif name.endswith(".xml") and name.startswith(("word/", "xl/", "ppt/")):
            _content(name, parse_xml(content, name), found)
    return found


def _properties(root: Element, table: dict[str, str], label: str, found: Findings) -> None:
    for child in root:
        name = local(child.tag)
        value = text_of(child)
        kind = table.get(name)
        if kind is None or not value or (name == "TotalTime" and value == "0"):
            continue
        if name == "TotalTime":
            found.add(kind, f"{label} total editing time (minutes)", value)
            continue
        found.add(kind, f"{label} {name}", value)
        user = user_path(value)
        if user and kind != k.AUTHOR:
            found.add(k.AUTHOR, f"{label} {name} names a user folder", user)


def _custom(root: Element, found: Findings) -> None:
    for prop in root:
        name = prop.get("name", "?")
        found.add(k.AUTHOR, f"custom property {name}", text_of(prop) or "empty")


def _comments(name: str, root: Element, found: Findings) -> None:
    authors = set()
    count = 0
    for element in root.iter():
        tag = local(element.tag)
        if tag in ("comment", "threadedComment", "cm"):
            count += 1
        for attr, value in element.attrib.items():
            named = local(attr) in ("author", "initials", "displayName", "userId", "name")
            if named and value.strip():
                authors.add(value.strip())
        if tag in ("author",) and text_of(element):
            authors.add(text_of(element))
    found.add(k.REVISION, f"comments ({name})", f"{count} comment(s)" if count else "present")
    for author in sorted(authors):
        found.add(k.AUTHOR, "comment author", author)


def _custom_xml(name: str, root: Element, found: Findings) -> None:
    if len(root) or text_of(root):
        found.add(k.AUTHOR, "custom XML data (may name people or systems)", name)


def _relationships(name: str, root: Element, found: Findings) -> None:
    for rel in root:
        if rel.get("TargetMode") != "External" or rel.get("Type", "").endswith(_HYPERLINK):
            continue
        target = rel.get("Target", "")
        kind = rel.get("Type", "").rsplit("/", 1)[-1]
        found.add(k.AUTHOR, f"external reference ({kind})", target)


def _content(name: str, root: Element, found: Findings) -> None:
    changes = 0
    rsids = 0
    for element in root.iter():
        tag = local(element.tag)
        if element.tag.startswith(W) and tag in TRACKED_CHANGES:
            changes += 1
            author = element.get(f"{W}author")
            if author:
                found.add(k.AUTHOR, "tracked change author", author)
            date = element.get(f"{W}date")
            if date:
                found.add(k.TIMESTAMP, "tracked change date", date)
        elif tag in ("rsids", "docVars", "attachedTemplate"):
            label = {
                "rsids": "revision save ids (link editing sessions across documents)",
                "docVars": "document variables (often set by templates and systems)",
                "attachedTemplate": "attached template",
            }[tag]
            found.add(k.REVISION if tag == "rsids" else k.AUTHOR, label)
        elif tag == "absPath":
            found.add(k.AUTHOR, "folder the file was saved in", element.get("url", ""))
        elif tag == "fileSharing" and element.get("userName"):
            found.add(k.AUTHOR, "file sharing user", element.get("userName", ""))
        elif tag in ("oleObjects", "OLEObject", "oleObj"):
            found.add(k.ATTACHMENT, f"embedded object ({name})")
        for attr in element.attrib:
            if local(attr).startswith("rsid"):
                rsids += 1
    if changes:
        found.add(k.REVISION, f"tracked changes ({name})", f"{changes} change mark(s)")
    if rsids:
        found.add(k.REVISION, f"revision save ids on text ({name})", f"{rsids}")


def printer_name(content: bytes) -> str:
    """The printer named in a Windows DEVMODE structure (its first 32 UTF-16 characters)."""
    name = content[:64].decode("utf-16-le", "replace").split("\x00", 1)[0].strip()
    return name if name.isprintable() else ""
