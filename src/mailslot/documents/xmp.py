"""Findings in XMP packets: the RDF/XML metadata that cameras, Adobe software, office suites
and PDF producers embed in images, PDFs and videos.

Properties are recognised by their local name (the same name means the same thing across the
schemas that use it); anything named like a GPS field counts as a place. Properties not listed
here (orientation, colour space, ratings…) identify no one and are not reported.
"""

from __future__ import annotations

from typing import Final
from xml.etree.ElementTree import Element

from mailslot.documents import findings as k
from mailslot.documents.findings import Findings
from mailslot.documents.parsing import local, parse_xml, text_of

_PROPERTIES: Final[dict[str, str]] = {
    # people, organisations and the text they wrote about the file
    "creator": k.AUTHOR,
    "Author": k.AUTHOR,
    "Owner": k.AUTHOR,
    "rights": k.AUTHOR,
    "Credit": k.AUTHOR,
    "CaptionWriter": k.AUTHOR,
    "AuthorsPosition": k.AUTHOR,
    "CreatorContactInfo": k.AUTHOR,
    "CameraOwnerName": k.AUTHOR,
    "OwnerName": k.AUTHOR,
    "LastModifiedBy": k.AUTHOR,
    "Company": k.AUTHOR,
    "title": k.AUTHOR,
    "description": k.AUTHOR,
    "subject": k.AUTHOR,
    "Keywords": k.AUTHOR,
    "Headline": k.AUTHOR,
    "UserComment": k.AUTHOR,
    # devices and software
    "CreatorTool": k.DEVICE,
    "Producer": k.DEVICE,
    "Make": k.DEVICE,
    "Model": k.DEVICE,
    "Software": k.DEVICE,
    "LensMake": k.DEVICE,
    "LensModel": k.DEVICE,
    "Lens": k.DEVICE,
    "LensID": k.DEVICE,
    "softwareAgent": k.DEVICE,
    # serial numbers
    "SerialNumber": k.SERIAL,
    "BodySerialNumber": k.SERIAL,
    "LensSerialNumber": k.SERIAL,
    "ImageUniqueID": k.SERIAL,
    "InternalSerialNumber": k.SERIAL,
    # times
    "CreateDate": k.TIMESTAMP,
    "ModifyDate": k.TIMESTAMP,
    "MetadataDate": k.TIMESTAMP,
    "DateCreated": k.TIMESTAMP,
    "DateTimeOriginal": k.TIMESTAMP,
    "DateTimeDigitized": k.TIMESTAMP,
    "date": k.TIMESTAMP,
    "when": k.TIMESTAMP,
    # places
    "City": k.GPS,
    "State": k.GPS,
    "Country": k.GPS,
    "CountryCode": k.GPS,
    "Location": k.GPS,
    "LocationShown": k.GPS,
    "LocationCreated": k.GPS,
    "Sublocation": k.GPS,
    # earlier versions and the ids that link them
    "History": k.REVISION,
    "DerivedFrom": k.REVISION,
    "Ingredients": k.REVISION,
    "Pantry": k.REVISION,
    "DocumentID": k.REVISION,
    "InstanceID": k.REVISION,
    "OriginalDocumentID": k.REVISION,
    "DocumentAncestors": k.REVISION,
    # embedded previews
    "Thumbnails": k.THUMBNAIL,
}
# Structures whose parts are reported as one finding, not field by field.
_WHOLE: Final = frozenset(
    {"History", "DerivedFrom", "Ingredients", "Pantry", "DocumentAncestors", "Thumbnails",
     "CreatorContactInfo", "LocationShown", "LocationCreated"}
)  # fmt: skip
_RDF: Final = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def xmp_findings(packet: bytes, where: str = "XMP") -> Findings:
    """Findings of one XMP packet (the bytes between and including ``<x:xmpmeta>``)."""
    found = Findings()
    start = packet.find(b"<x:xmpmeta")
    if start < 0:
        start = packet.find(b"<rdf:RDF")
    if start < 0:
        return found
    end_tag = b"</x:xmpmeta>" if packet[start:].startswith(b"<x:xmpmeta") else b"</rdf:RDF>"
    end = packet.find(end_tag, start)
    body = packet[start : end + len(end_tag)] if end >= 0 else packet[start:]
    root = parse_xml(body, where)
    _walk(root, found, where)
    return found


def _walk(element: Element, found: Findings, where: str) -> None:
    for name, value in element.attrib.items():
        _property(found, where, local(name), value)
    for child in element:
        name = local(child.tag)
        if child.tag.startswith(_RDF):
            _walk(child, found, where)
        elif _classify(name) and (name in _WHOLE or len(child) == 0 or _is_list(child)):
            _property(found, where, name, _summary(child))
        else:
            _walk(child, found, where)


def _is_list(element: Element) -> bool:
    """``rdf:Seq``/``rdf:Bag``/``rdf:Alt`` of plain values: one finding with the values."""
    return all(c.tag.startswith(_RDF) for c in element) and all(
        len(li) == 0 for c in element for li in c
    )


def _summary(element: Element) -> str:
    values = [v.strip() for v in element.itertext() if v.strip()]
    values += [v for node in element.iter() for v in node.attrib.values() if v.strip()]
    return "; ".join(dict.fromkeys(values))


def _classify(name: str) -> str | None:
    if name.startswith("GPS"):
        return k.GPS
    return _PROPERTIES.get(name)


def _property(found: Findings, where: str, name: str, value: str) -> None:
    kind = _classify(name)
    if kind is None or not value.strip():
        return
    if kind == k.THUMBNAIL:
        found.add(kind, f"{where} thumbnail image")
        return
    found.add(kind, f"{where} {name}", value)
    if kind == k.AUTHOR:
        return
    user = user_path(value)
    if user:
        found.add(k.AUTHOR, f"{where} {name} names a user folder", user)


def user_path(value: str) -> str | None:
    """The user folder in a path such as ``C:\\Users\\alice\\…`` or ``/home/alice/…``."""
    text = value.replace("\\", "/")
    if not text.startswith("/") and text.lower().startswith(("users/", "home/")):
        text = "/" + text
    lowered = text.lower()
    for marker in ("/users/", "/home/", "/documents and settings/"):
        at = lowered.find(marker)
        if at >= 0:
            rest = text[at + len(marker) :].split("/", 1)[0]
            if rest and rest.lower() not in ("shared", "public", "default"):
                begin = max(text.rfind(" ", 0, at), text.rfind("=", 0, at)) + 1
                return text[begin : at + len(marker) + len(rest)]
    return None


def text_property(found: Findings, where: str, name: str, element: Element) -> None:
    _property(found, where, name, text_of(element))
