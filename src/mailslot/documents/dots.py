"""Printer tracking dots: the faint yellow dot grids that many colour laser printers add to
every page (the Machine Identification Code), as they appear in a colour scan.

Detection is a heuristic, and says so in the report: small, isolated, light-yellow specks on a
mostly white page. It misses dots a scanner or a JPEG encoder already smeared away, and dots
on pages that are not mostly white. Removal paints each detected speck with its
neighbourhood's median colour; the grid cannot be read back from what is left, but nothing
proves that every dot was found, which is why ``docs/documents.md`` advises printing nothing
and scanning nothing that a printer made, where possible.
"""

from __future__ import annotations

from typing import Final

from PIL import Image, ImageChops, ImageFilter

MAX_DOT_PIXELS: Final = 40_000_000  # larger pages are not examined (time, not correctness)
_LIGHT: Final = 190
_YELLOW: Final = 20
_MIN_DOT_PIXELS: Final = 12
_PASSES: Final = 3


def dot_mask(image: Image.Image) -> Image.Image | None:
    """A mask of the specks that look like tracking dots, or None when there are none (or the
    image is not colour, or too large to examine)."""
    if image.mode not in ("RGB", "RGBA", "P", "CMYK", "YCbCr", "LAB", "HSV"):
        return None
    if image.width * image.height > MAX_DOT_PIXELS or min(image.size) < 16:
        return None
    rgb = image.convert("RGB")
    red, green, blue = rgb.split()
    low = ImageChops.darker(red, green)
    light = low.point(lambda v: 255 if v >= _LIGHT else 0)
    yellow = ImageChops.subtract(low, blue).point(lambda v: 255 if v >= _YELLOW else 0)
    candidates = ImageChops.multiply(light, yellow)
    if candidates.histogram()[255] < _MIN_DOT_PIXELS:
        return None  # too few yellow specks even before the areas are taken out (cheap)
    # Anything that survives a 5-by-5 erosion is an area, not a dot; grow it back and drop it.
    areas = candidates.filter(ImageFilter.MinFilter(5)).filter(ImageFilter.MaxFilter(9))
    dots = ImageChops.subtract(candidates, areas)
    dot_pixels = dots.histogram()[255]
    total = image.width * image.height
    if dot_pixels < _MIN_DOT_PIXELS or dot_pixels > total // 200:
        return None
    # A page: most pixels near white in every channel.
    white = ImageChops.darker(low, blue).point(lambda v: 255 if v >= _LIGHT else 0)
    if white.histogram()[255] < total // 2:
        return None
    bbox = dots.getbbox()
    if bbox is None or (bbox[2] - bbox[0]) * (bbox[3] - bbox[1]) < total // 20:
        return None
    return dots


def remove_dots(image: Image.Image) -> Image.Image:
    """The image with every detected dot painted over; the same image if there were none.
    Dots enlarged by rendering (a scan in a PDF, drawn at 150 dpi) can sit close enough to
    read as an area until their neighbours are painted, so it looks again, a few times."""
    for _ in range(_PASSES):
        mask = dot_mask(image)
        if mask is None:
            break
        grown = mask.filter(ImageFilter.MaxFilter(3))
        base = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        filled = base.filter(ImageFilter.MedianFilter(7))
        image = Image.composite(filled, base, grown)
    return image
