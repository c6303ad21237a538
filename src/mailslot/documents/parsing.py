"""The boundary between Mailslot and the third-party parsers it hands untrusted bytes to.

``reading`` turns whatever a library raises on a hostile or damaged file into
:class:`UnreadableDocument`: a parser's ``IndexError`` on a truncated header is a fact about
the file, not a bug of ours to crash on. Only calls into a library go inside ``reading``, so
our own mistakes still surface as themselves (the fuzz tests look for exactly those).

XML from a file is read with defusedxml (no DTDs, no entities, no external references). When
a part must be edited and written back with its namespace prefixes intact (Word refuses a
document whose ``mc:Ignorable`` names a prefix that is gone), it is checked by defusedxml
first and then parsed by lxml with entities, DTDs and the network all off.

Limits here bound what a file may make a parser allocate; the sandbox that runs this code
(``documents.sandbox``) adds memory and time limits of its own.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Final
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from lxml import etree

from mailslot.documents.errors import DocumentError, UnreadableDocument

MAX_PIXELS: Final = 100_000_000
MAX_XML_BYTES: Final = 32 * 1024 * 1024
MAX_MEMBER_BYTES: Final = 128 * 1024 * 1024
MAX_TOTAL_BYTES: Final = 512 * 1024 * 1024
MAX_MEMBERS: Final = 10_000
MAX_NESTING: Final = 2


@contextlib.contextmanager
def reading(what: str) -> Iterator[None]:
    """Run a library call on untrusted bytes; any failure means the file is unreadable."""
    try:
        with warnings.catch_warnings():
            # Libraries warn about damaged files (Pillow's truncated EXIF, hachoir's fixes);
            # a warning is not a finding and must not escape as an error.
            warnings.simplefilter("ignore")
            yield
    except DocumentError:
        raise
    except MemoryError as exc:
        raise UnreadableDocument(f"{what}: too large to read") from exc
    except RecursionError as exc:
        raise UnreadableDocument(f"{what}: nested too deeply") from exc
    except Exception as exc:
        raise UnreadableDocument(
            f"{what}: damaged or not supported ({type(exc).__name__})"
        ) from exc


def parse_xml(data: bytes, what: str) -> Element:
    """A read-only XML tree, parsed safely."""
    if len(data) > MAX_XML_BYTES:
        raise UnreadableDocument(f"{what}: XML part too large")
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise UnreadableDocument(f"{what}: XML with a DTD or entities is refused") from exc
    except SafeET.ParseError as exc:
        raise UnreadableDocument(f"{what}: malformed XML") from exc


def parse_xml_for_editing(data: bytes, what: str) -> etree._Element:
    """An editable XML tree that keeps namespace prefixes and declarations as they were."""
    parse_xml(data, what)  # refuses DTDs and entities before lxml sees the bytes
    try:
        # A parser per call: lxml's parsers must not be shared between threads.
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise UnreadableDocument(f"{what}: malformed XML") from exc


def xml_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def local(tag: object) -> str:
    """``creator`` for ``{http://purl.org/dc/elements/1.1/}creator``."""
    text = tag if isinstance(tag, str) else ""
    return text.rsplit("}", 1)[-1]


def text_of(element: Element) -> str:
    return "".join(element.itertext()).strip()
