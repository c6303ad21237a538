"""A drop card (``card.DropCard``) drawn for printing: a PNG (Pillow) or a PDF (pikepdf).

The card is drawn once, as a greyscale A5 page at 300 dots per inch, with the text in each
language set in a font that has its script: Noto Sans CJK for Chinese, Japanese and Korean,
DejaVu Sans for the others (Arabic and Persian shaped right to left by Pillow's layout
engine), DejaVu Sans Mono for the address and the fingerprint; where none of these is
installed, Pillow's own font (Latin script only). The PNG also carries the address, the drop
recipient and the fingerprint as text chunks. The PDF is that image on a page of the same
size, with the address, recipient and fingerprint as invisible text over the places they are
drawn, so that they can be searched and copied exactly (as scanned documents do).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import pikepdf
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from mailslot.dropkeys.card import DropCard, Instructions

DPI: Final = 300
WIDTH: Final = 1748  # A5 at 300 dpi: 148 mm
MIN_HEIGHT: Final = 2480  # 210 mm
MARGIN: Final = 110
QR_MAX: Final = 1300  # pixels: about 11 cm
FONT_DIRS: Final = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
SANS: Final = ("DejaVuSans.ttf",)
MONO: Final = ("DejaVuSansMono.ttf",)
CJK: Final = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf")
# The face of NotoSansCJK-Regular.ttc that has each language's preferred glyph forms.
CJK_FACE: Final = {"ja": 0, "ko": 1, "zh_Hans": 2, "zh_Hant": 3}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class Placed:
    """A string drawn on the card, where (pixels from the top left) and how high."""

    text: str
    x: int
    y: int
    size: int


@cache
def _find(names: tuple[str, ...]) -> Path | None:
    for folder in FONT_DIRS:
        if folder.is_dir():
            for name in names:
                found = next(folder.rglob(name), None)
                if found is not None:
                    return found
    return None


def _font(names: tuple[str, ...], size: int, index: int = 0) -> Font:
    path = _find(names)
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size, index=index if path.suffix == ".ttc" else 0)


def _text_font(locale: str, size: int) -> Font:
    if locale in CJK_FACE:
        return _font(CJK, size, CJK_FACE[locale])
    return _font(SANS, size)


def _wrapped(text: str, font: Font, width: int) -> Iterator[str]:
    """``text`` in lines no wider than ``width``: broken at spaces, or anywhere in a script
    written without them."""
    words = text.split(" ") if " " in text else list(text)
    joiner = " " if " " in text else ""
    line = ""
    for word in words:
        candidate = f"{line}{joiner}{word}" if line else word
        if line and font.getlength(candidate) > width:
            yield line
            line = word
        else:
            line = candidate
    if line:
        yield line


class _Page:
    def __init__(self) -> None:
        self.image = Image.new("L", (WIDTH, MIN_HEIGHT * 2), 255)
        self.draw = ImageDraw.Draw(self.image)
        self.y = MARGIN
        self.placed: list[Placed] = []

    def text(
        self, text: str, font: Font, size: int, *, gap: int = 12, rtl: bool = False
    ) -> list[Placed]:
        width = WIDTH - 2 * MARGIN
        drawn = []
        for line in _wrapped(text, font, width):
            if rtl:
                x = WIDTH - MARGIN - int(font.getlength(line, direction="rtl"))
                self.draw.text((x, self.y), line, font=font, fill=0, direction="rtl")
            else:
                x = MARGIN
                self.draw.text((x, self.y), line, font=font, fill=0)
            drawn.append(Placed(line, x, self.y, size))
            self.y += int(size * 1.3)
        self.y += gap
        return drawn

    def exact(self, text: str, font: Font, size: int) -> None:
        """Text to be copied exactly, remembered line by line for the PDF."""
        self.placed.extend(self.text(text, font, size))

    def qr(self, card: DropCard) -> None:
        code = card.qr()
        modules = code.symbol_size()[0]  # with its quiet zone
        scale = max(1, min(WIDTH - 2 * MARGIN, QR_MAX) // modules)
        out = io.BytesIO()
        code.save(out, kind="png", scale=1, border=4)  # one pixel a module, then enlarged
        out.seek(0)
        with Image.open(out) as drawn:
            small = drawn.convert("L")
        picture = small.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
        self.image.paste(picture, ((WIDTH - picture.width) // 2, self.y))
        self.y += picture.height + 30

    def done(self) -> Image.Image:
        return self.image.crop((0, 0, WIDTH, max(MIN_HEIGHT, self.y + MARGIN)))


def _language(page: _Page, lines: Instructions) -> None:
    font = _text_font(lines.locale, 34)
    rtl = lines.direction == "rtl"
    for line in lines.lines:
        page.text(line if rtl else f"• {line}", font, 34, gap=4, rtl=rtl)
    page.y += 24


def draw(card: DropCard) -> tuple[Image.Image, list[Placed]]:
    """The card as a greyscale image, and where the exact strings are on it."""
    page = _Page()
    first = card.instructions[0]
    rtl = first.direction == "rtl"
    label = _text_font(first.locale, 36)
    mono = _font(MONO, 32)
    page.text(card.organisation, _text_font(first.locale, 64), 64, gap=30, rtl=rtl)
    page.text(first.address_label, label, 36, gap=0, rtl=rtl)
    page.exact(card.address, mono, 32)
    page.text(first.key_label, label, 36, gap=0, rtl=rtl)
    page.qr(card)
    page.text(first.fingerprint_label, label, 36, gap=0, rtl=rtl)
    page.exact(card.fingerprint, _font(MONO, 44), 44)
    page.y += 20
    for lines in card.instructions:
        _language(page, lines)
    # The recipient itself, small, for whoever cannot scan: it is also in the QR code.
    page.exact(card.recipient, _font(MONO, 16), 16)
    return page.done(), page.placed


def png(card: DropCard) -> bytes:
    image, _ = draw(card)
    info = PngInfo()
    info.add_text("Address", card.address)
    info.add_text("Drop recipient", card.recipient)
    info.add_text("Signing-key fingerprint", card.fingerprint)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info, dpi=(DPI, DPI))
    return out.getvalue()


def _pdf_string(text: str) -> str:
    safe = text.encode("ascii", "replace").decode()
    return "(" + safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def pdf(cards: list[DropCard]) -> bytes:
    """One page per card."""
    document = pikepdf.new()
    for card in cards:
        document.pages.append(_pdf_page(document, card))
    document.docinfo[pikepdf.Name.Title] = cards[0].organisation if cards else ""
    out = io.BytesIO()
    document.save(out, deterministic_id=True)
    return out.getvalue()


def _pdf_page(document: pikepdf.Pdf, card: DropCard) -> pikepdf.Page:
    image, placed = draw(card)
    width, height = image.width * 72 / DPI, image.height * 72 / DPI
    picture = pikepdf.Stream(document, zlib.compress(image.tobytes()))
    picture.Type = pikepdf.Name.XObject
    picture.Subtype = pikepdf.Name.Image
    picture.Width, picture.Height = image.width, image.height
    picture.ColorSpace = pikepdf.Name.DeviceGray
    picture.BitsPerComponent = 8
    picture.Filter = pikepdf.Name.FlateDecode
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
    )
    # Invisible text (render mode 3) over each exact string, scaled to its drawn width.
    commands = [f"q {width:.2f} 0 0 {height:.2f} 0 0 cm /Card Do Q", "BT 3 Tr"]
    for item in placed:
        size = item.size * 72 / DPI
        x, y = item.x * 72 / DPI, height - (item.y + item.size) * 72 / DPI
        commands.append(f"/F1 {size:.2f} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm {_pdf_string(item.text)} Tj")
    commands.append("ET")
    return pikepdf.Page(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, width, height],
            Resources=pikepdf.Dictionary(
                XObject=pikepdf.Dictionary(Card=picture), Font=pikepdf.Dictionary(F1=font)
            ),
            Contents=pikepdf.Stream(document, "\n".join(commands).encode()),
        )
    )
