"""PDF: what a file carries besides its pages, and copies without it (pikepdf, over qpdf).

Inspection reads the document information dictionary, every XMP stream, markup annotations
(comments and their authors), actions (JavaScript, launching programs), embedded files,
page thumbnails, application data (``/PieceInfo``), the metadata inside embedded JPEG
images, the file identifier, earlier revisions kept by incremental updates, and bytes after
the last ``%%EOF``.

A clean copy is written by qpdf as one fresh revision holding only the objects reachable
from the catalogue, after the references to all of the above are cut: earlier revisions,
orphaned objects and trailing bytes do not survive a rewrite. Markup annotations that are
notes (sticky notes, popups, attached files, media) are removed; other markup keeps its
appearance on the page but loses its author, date, text and replies. Embedded JPEG images
lose their metadata segments but keep their compressed pixels. The file identifier becomes
qpdf's fixed one, shared by every copy.
"""

from __future__ import annotations

import io
from typing import Final

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, Stream

from mailslot.documents import dots
from mailslot.documents import findings as k
from mailslot.documents.errors import UnreadableDocument
from mailslot.documents.findings import Findings, printable
from mailslot.documents.images import DOTS, inspect_image, strip_jpeg_segments
from mailslot.documents.parsing import reading
from mailslot.documents.xmp import user_path, xmp_findings

MAX_OBJECTS: Final = 200_000
MAX_EMBEDDED_IMAGES: Final = 200
# Images other than JPEGs are decoded to look for tracking dots: the first few, if not huge.
MAX_DOT_IMAGES: Final = 20
MAX_DOT_IMAGE_PIXELS: Final = 25_000_000
# qpdf's fixed /ID (static_id=True): the digits of pi, the same in every copy it writes.
STATIC_ID: Final = bytes.fromhex("31415926535897932384626433832795")

_INFO: Final[dict[str, str]] = {
    "/Author": k.AUTHOR,
    "/Creator": k.DEVICE,
    "/Producer": k.DEVICE,
    "/CreationDate": k.TIMESTAMP,
    "/ModDate": k.TIMESTAMP,
    "/Title": k.AUTHOR,
    "/Subject": k.AUTHOR,
    "/Keywords": k.AUTHOR,
}
_NOTE_ANNOTATIONS: Final = frozenset(
    {"/Text", "/Popup", "/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"}
)
_MARKUP_ANNOTATIONS: Final = frozenset(
    {"/FreeText", "/Line", "/Square", "/Circle", "/Polygon", "/PolyLine", "/Highlight",
     "/Underline", "/Squiggly", "/StrikeOut", "/Stamp", "/Caret", "/Ink", "/Redact"}
) | _NOTE_ANNOTATIONS  # fmt: skip
# What markup keeps after sanitising: its place and look, nothing about who or when.
_MARKUP_PRIVATE: Final = (
    "/T", "/M", "/CreationDate", "/NM", "/Contents", "/RC", "/Popup", "/IRT", "/RT", "/Subj",
    "/StateModel", "/State",
)  # fmt: skip
_BAD_ACTIONS: Final = frozenset(
    {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/RichMediaExecute", "/Rendition"}
)
# Keys removed from every dictionary of a clean copy.
_DROPPED_KEYS: Final = (
    "/Metadata", "/PieceInfo", "/Thumb", "/AA", "/LastModified", "/SpiderInfo", "/Perms",
    "/Legal", "/Collection", "/XFA", "/JS", "/AF",
)  # fmt: skip


def open_pdf(data: bytes) -> Pdf:
    with reading("pdf"):
        try:
            pdf = pikepdf.open(io.BytesIO(data))
        except pikepdf.PasswordError as exc:
            raise UnreadableDocument("pdf: protected by a password") from exc
    return pdf


def inspect_pdf(data: bytes) -> Findings:
    found = Findings()
    pdf = open_pdf(data)
    with pdf, reading("pdf"):
        _info(pdf, found)
        _identifier(pdf, found)
        if len(pdf.objects) > MAX_OBJECTS:
            raise UnreadableDocument("pdf: too many objects")
        images = 0
        current = pdf.trailer.get("/Info")
        info = current.objgen if isinstance(current, Dictionary) else None
        for obj in pdf.objects:
            if not isinstance(obj, Dictionary | Stream):
                continue
            images = _object(obj, found, images, info)
        for name in pdf.attachments:
            found.add(k.ATTACHMENT, "embedded file", name)
        for number, page in enumerate(pdf.pages, start=1):
            _annotations(page, number, found)
    _revisions(data, found)
    return found


def _text(value: object) -> str:
    if isinstance(value, pikepdf.String):
        return str(value)
    if isinstance(value, Name):
        return str(value)[1:]
    return printable(value)


def _info(pdf: Pdf, found: Findings) -> None:
    info = pdf.trailer.get("/Info")
    if not isinstance(info, Dictionary):
        return
    for key, value in info.items():
        _info_entry(found, "document information", key, value)


def _info_entry(found: Findings, label: str, key: str, value: object) -> None:
    kind = _INFO.get(key, k.AUTHOR)
    text = _text(value)
    if text:
        found.add(kind, f"{label} {key[1:]}", text)
        user = user_path(text)
        if user and kind != k.AUTHOR:
            found.add(k.AUTHOR, f"{label} {key[1:]} names a user folder", user)


def _identifier(pdf: Pdf, found: Findings) -> None:
    ids = pdf.trailer.get("/ID")
    if isinstance(ids, Array) and len(ids) > 0:
        first = bytes(ids[0]) if isinstance(ids[0], pikepdf.String) else b""
        if first and first != STATIC_ID:
            found.add(k.SERIAL, "file identifier (kept across edits of the same file)", first.hex())


def _object(
    obj: Dictionary | Stream, found: Findings, images: int, info: tuple[int, int] | None
) -> int:
    if obj.get("/Type") == Name.Metadata and isinstance(obj, Stream):
        found.extend(xmp_findings(obj.read_bytes(), "XMP"))
    if "/PieceInfo" in obj:
        found.add(k.REVISION, "application data that may hold an earlier version (PieceInfo)")
    if "/Thumb" in obj:
        found.add(k.THUMBNAIL, "page thumbnail image")
    if "/JS" in obj or obj.get("/S") == Name.JavaScript:
        found.add(k.SCRIPT, "JavaScript")
    elif obj.get("/S") in _BAD_ACTIONS:
        found.add(k.SCRIPT, "action", _text(obj.get("/S")))
    if "/XFA" in obj:
        found.add(k.SCRIPT, "XFA form (may hold scripts)")
    if "/EF" in obj:
        found.add(k.ATTACHMENT, "embedded file", _text(obj.get("/UF", obj.get("/F", ""))))
    if info is not None and obj.objgen != info and obj.get("/Type") is None:
        for key in ("/Author", "/Creator", "/Producer", "/ModDate", "/CreationDate"):
            if key in obj and not isinstance(obj.get(key), Dictionary | Array):
                _info_entry(found, "earlier document information", key, obj[key])
    if (
        isinstance(obj, Stream)
        and obj.get("/Subtype") == Name.Image
        and images < MAX_EMBEDDED_IMAGES
    ):
        images += 1
        if obj.get("/Filter") == Name.DCTDecode:  # its metadata, and dots (images.py)
            inner = inspect_image(obj.read_raw_bytes(), "jpeg")
            for item in inner.items:
                found.add(item.kind, f"embedded image {images}: {item.detail}")
        elif images <= MAX_DOT_IMAGES and _has_dots(obj):
            found.add(k.PRINTER, f"embedded image {images}: {DOTS}")
    return images


def _has_dots(image: Stream) -> bool:
    """Whether a (non-JPEG) image of the PDF shows tracking dots: decoded only when small
    enough, and any image pikepdf cannot decode counts as none."""
    try:
        size = int(image.get("/Width", 0)) * int(image.get("/Height", 0))
    except (TypeError, ValueError):
        return False
    if not 0 < size <= MAX_DOT_IMAGE_PIXELS:
        return False
    try:
        pixels = pikepdf.PdfImage(image).as_pil_image()
    except (pikepdf.PdfError, NotImplementedError, ValueError, OSError):
        return False
    return dots.dot_mask(pixels) is not None


def _annotations(page: pikepdf.Page, number: int, found: Findings) -> None:
    annots = page.obj.get("/Annots")
    if not isinstance(annots, Array):
        return
    for annot in annots:
        if not isinstance(annot, Dictionary):
            continue
        subtype = annot.get("/Subtype")
        if subtype not in _MARKUP_ANNOTATIONS:
            continue
        label = f"page {number} {_text(subtype).lower()} annotation"
        if "/T" in annot:
            found.add(k.AUTHOR, f"{label} author", _text(annot["/T"]))
        for key in ("/M", "/CreationDate"):
            if key in annot:
                found.add(k.TIMESTAMP, f"{label} date", _text(annot[key]))
        if "/Contents" in annot or "/RC" in annot or subtype in _NOTE_ANNOTATIONS:
            text = _text(annot.get("/Contents", ""))
            found.add(k.REVISION, f"{label} (a comment)", text or "no text")
        if subtype == Name.FileAttachment:
            found.add(k.ATTACHMENT, f"{label}: an attached file")


def _revisions(data: bytes, found: Findings) -> None:
    """Incremental updates append a revision each, ending in its own ``%%EOF``; bytes after
    the last one belong to no revision."""
    ends = data.count(b"%%EOF")
    linearised = b"/Linearized" in data[:2048]
    earlier = ends - 1 - (1 if linearised and ends > 1 else 0)
    if earlier > 0:
        found.add(k.REVISION, f"{earlier} earlier revision(s) kept by incremental updates")
    last = data.rfind(b"%%EOF")
    if last >= 0:
        tail = data[last + 5 :].strip(b"\r\n\t \x00\x0c")
        if tail:
            found.add(k.TRAILING_DATA, f"{len(tail)} bytes after the end of the PDF")


def sanitise_pdf(data: bytes) -> bytes:
    pdf = open_pdf(data)
    with pdf, reading("pdf"):
        if len(pdf.objects) > MAX_OBJECTS:
            raise UnreadableDocument("pdf: too many objects")
        if "/Info" in pdf.trailer:
            del pdf.trailer["/Info"]
        root = pdf.Root
        for key in ("/OpenAction", "/Names", "/AcroForm"):
            if key in root:
                _clean_names(root, key)
        for page in pdf.pages:
            _clean_annotations(page)
        for obj in pdf.objects:
            if isinstance(obj, Dictionary | Stream):
                _clean_object(obj)
        pdf.remove_unreferenced_resources()
        out = io.BytesIO()
        pdf.save(out, static_id=True, fix_metadata_version=False)
        return out.getvalue()


def _clean_names(root: pikepdf.Object, key: str) -> None:
    value = root[key]
    if key == "/OpenAction":
        if isinstance(value, Dictionary) and value.get("/S") != Name.GoTo:
            del root[key]
    elif key == "/Names" and isinstance(value, Dictionary):
        for tree in ("/JavaScript", "/EmbeddedFiles"):
            if tree in value:
                del value[tree]
    elif key == "/AcroForm" and isinstance(value, Dictionary) and "/XFA" in value:
        del value["/XFA"]


def _clean_annotations(page: pikepdf.Page) -> None:
    annots = page.obj.get("/Annots")
    if not isinstance(annots, Array):
        return
    kept = Array()
    for annot in annots:
        if isinstance(annot, Dictionary):
            subtype = annot.get("/Subtype")
            if subtype in _NOTE_ANNOTATIONS:
                continue
            if subtype in _MARKUP_ANNOTATIONS:
                for key in _MARKUP_PRIVATE:
                    if key in annot:
                        del annot[key]
        kept.append(annot)
    page.obj["/Annots"] = kept


def _bad_action(value: object) -> bool:
    if isinstance(value, Dictionary):
        return value.get("/S") in _BAD_ACTIONS or "/JS" in value
    if isinstance(value, Array):
        return any(_bad_action(v) for v in value)
    return False


def _clean_object(obj: Dictionary | Stream) -> None:
    for key in _DROPPED_KEYS:
        if key in obj:
            del obj[key]
    for key in ("/A", "/Next", "/OpenAction"):
        if key in obj and _bad_action(obj[key]):
            del obj[key]
    if obj.get("/S") in _BAD_ACTIONS:
        obj["/S"] = Name.GoTo  # an unreachable leftover must not read as a script either
    if (
        isinstance(obj, Stream)
        and obj.get("/Subtype") == Name.Image
        and obj.get("/Filter") == Name.DCTDecode
    ):
        raw = obj.read_raw_bytes()
        stripped = strip_jpeg_segments(raw)
        if stripped != raw:
            parms = obj.get("/DecodeParms")
            kept = parms if isinstance(parms, Dictionary | Array) else None
            obj.write(stripped, filter=Name.DCTDecode, decode_parms=kept)
