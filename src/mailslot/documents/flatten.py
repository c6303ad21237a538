"""Flattened copies (Dangerzone's idea): every page or frame rendered to pixels and rebuilt,
so that nothing survives that is not visible: no hidden text layers, no fonts, no objects,
no metadata. A PDF is rendered by PDFium (pypdfium2) and rebuilt as a PDF of images; an
image becomes a PNG; an office file is first made a PDF by LibreOffice (``office.py``).
Greyscale is optional; it also weakens what colour alone encodes.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from typing import Final

import pikepdf
import pypdfium2
from pikepdf import Dictionary, Name
from PIL import Image

from mailslot.documents.errors import UnreadableDocument
from mailslot.documents.images import flatten_image, open_image
from mailslot.documents.parsing import MAX_PIXELS, reading

DPI: Final = 150
MAX_PAGES: Final = 500
# Level 6: on rendered text pages level 9 saves a few per cent for twice the time.
_ZLIB_LEVEL: Final = 6


def page_count(data: bytes) -> int:
    """How many pages a PDF has (the worker grants CPU time by it before flattening)."""
    with reading("pdf"):
        document = pypdfium2.PdfDocument(data)
        try:
            return len(document)
        finally:
            document.close()


def flatten_pdf(data: bytes, *, greyscale: bool) -> bytes:
    pages = []
    with reading("pdf"):
        document = pypdfium2.PdfDocument(data)
        try:
            if len(document) > MAX_PAGES:
                raise UnreadableDocument(f"pdf: too many pages to flatten (over {MAX_PAGES})")
            if len(document) == 0:
                raise UnreadableDocument("pdf: no pages")
            for page in document:
                width, height = page.get_size()
                scale = DPI / 72
                if width * height * scale * scale > MAX_PIXELS:
                    scale = (MAX_PIXELS / max(width * height, 1)) ** 0.5
                # PDFium renders shades of grey directly: a third of the pixels to clean
                # and compress.
                bitmap = page.render(
                    scale=scale, draw_annots=True, may_draw_forms=True, grayscale=greyscale
                )
                pages.append(flatten_image(bitmap.to_pil(), greyscale=greyscale))
                page.close()
        finally:
            document.close()
    return _pdf_of(pages)


def flatten_picture(data: bytes, type_: str, *, greyscale: bool) -> bytes:
    image = open_image(data, type_)
    with reading(type_):
        image.load()
        flat = flatten_image(image, greyscale=greyscale)
        out = io.BytesIO()
        flat.save(out, "PNG")
    return out.getvalue()


def picture_as_pdf(data: bytes, type_: str, *, greyscale: bool) -> bytes:
    image = open_image(data, type_)
    with reading(type_):
        image.load()
        return _pdf_of([flatten_image(image, greyscale=greyscale)])


def _pdf_of(pages: Sequence[Image.Image]) -> bytes:
    """A PDF of one lossless image per page, written from scratch: no information
    dictionary, no XMP, qpdf's fixed identifier, nothing but the pixels. (Pillow's PDF
    writer makes JPEGs that then need their segments stripped, which cost seconds a page.)"""
    pdf = pikepdf.new()
    with pdf, reading("pdf"):
        for pixels in pages:
            image = pixels if pixels.mode in ("L", "RGB") else _on_white(pixels)
            stream = pikepdf.Stream(pdf, zlib.compress(image.tobytes(), _ZLIB_LEVEL))
            stream.Type = Name.XObject
            stream.Subtype = Name.Image
            stream.Width, stream.Height = image.size
            stream.BitsPerComponent = 8
            stream.ColorSpace = Name.DeviceGray if image.mode == "L" else Name.DeviceRGB
            stream.Filter = Name.FlateDecode
            width, height = (side * 72 / DPI for side in image.size)
            page = pdf.add_blank_page(page_size=(width, height))
            page.Resources = Dictionary(XObject=Dictionary(Im0=stream))
            page.Contents = pdf.make_stream(
                f"q {width:.4f} 0 0 {height:.4f} 0 0 cm /Im0 Do Q".encode()
            )
        out = io.BytesIO()
        pdf.save(out, static_id=True, fix_metadata_version=False)
    return out.getvalue()


def _on_white(image: Image.Image) -> Image.Image:
    flat = Image.new("RGB", image.size, "white")
    flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
    return flat
