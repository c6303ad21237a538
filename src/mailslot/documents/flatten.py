"""Flattened copies (Dangerzone's idea): every page or frame rendered to pixels and rebuilt,
so that nothing survives that is not visible: no hidden text layers, no fonts, no objects,
no metadata. A PDF is rendered by PDFium (pypdfium2) and rebuilt as a PDF of images; an
image becomes a PNG. Greyscale is optional; it also weakens what colour alone encodes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

import pypdfium2
from PIL import Image

from mailslot.documents.errors import UnreadableDocument
from mailslot.documents.images import flatten_image, open_image
from mailslot.documents.parsing import MAX_PIXELS, reading
from mailslot.documents.pdf import sanitise_pdf

DPI: Final = 150
MAX_PAGES: Final = 500


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
                bitmap = page.render(scale=scale, draw_annots=True, may_draw_forms=True)
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
    out = io.BytesIO()
    with reading("pdf"):
        first, *rest = pages
        first.save(out, "PDF", save_all=True, append_images=rest, resolution=float(DPI))
    # Pillow dates the PDF it writes; the usual clean-up removes that and anything else.
    return sanitise_pdf(out.getvalue())
