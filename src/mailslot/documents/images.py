"""Raster images (JPEG, PNG, GIF, WebP, TIFF, HEIF): what they carry, and clean copies.

Inspection reads metadata through Pillow (and pillow-heif for HEIF), XMP through ``xmp.py``,
and finds where the image really ends with hachoir (JPEG, PNG, GIF) or the RIFF header
(WebP), so that bytes appended after the end are reported.

A clean copy is made from the pixels alone: the image is decoded, turned upright by its EXIF
orientation, converted to sRGB if it carried a colour profile, cleared of detected tracking
dots, and encoded again in the same format with no metadata at all. JPEG keeps its own
quantisation tables and subsampling, so the loss of a second encoding is as small as it can
be; the other formats are lossless or re-encoded at high quality.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Final

import pillow_heif
from hachoir.core import config as hachoir_config
from hachoir.parser.image.gif import GifFile
from hachoir.parser.image.jpeg import JpegFile
from hachoir.parser.image.png import PngFile
from hachoir.parser.image.tiff import TiffFile
from hachoir.stream import InputIOStream
from PIL import Image, ImageCms, ImageOps, ImageSequence, JpegImagePlugin

from mailslot.documents import dots
from mailslot.documents import findings as k
from mailslot.documents.errors import UnreadableDocument
from mailslot.documents.exif import (
    exif_findings,
    icc_findings,
    info_findings,
    iptc_findings,
    tiff_findings,
)
from mailslot.documents.findings import Findings
from mailslot.documents.parsing import MAX_PIXELS, reading
from mailslot.documents.xmp import xmp_findings

IMAGE_TYPES: Final = frozenset({"jpeg", "png", "gif", "webp", "tiff", "heif"})
PILLOW_FORMATS: Final[dict[str, str]] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "tiff": "TIFF",
    "heif": "HEIF",
}
MAX_FRAMES: Final = 1000
_LOSSLESS_TIFF: Final = frozenset(
    {"raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "packbits", "group3", "group4"}
)

pillow_heif.register_heif_opener()
hachoir_config.quiet = True


DOTS: Final = "yellow dots like a colour printer's tracking pattern (heuristic)"


def open_image(data: bytes, type_: str) -> Image.Image:
    """Open lazily, refusing what the type check disagrees with and anything too large."""
    with reading(type_):
        image = Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[type_]])
        width, height = image.size
    if width * height > MAX_PIXELS:
        raise UnreadableDocument(f"{type_}: image too large ({width}×{height} pixels)")
    return image


def inspect_image(data: bytes, type_: str) -> Findings:
    found = Findings()
    image = open_image(data, type_)
    with reading(type_):
        image.load()
        exif = image.getexif()
        info: dict[str, object] = {str(key): value for key, value in image.info.items()}
        exif_findings(exif, found)
        if type_ == "jpeg":
            iptc_findings(image, found)
        if type_ == "tiff":
            for _ in _frames(image):
                tiff_findings(image, found)
        icc = info.get("icc_profile")
        if isinstance(icc, bytes) and icc:
            icc_findings(icc, found)
        xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
        if isinstance(xmp, str):
            xmp = xmp.encode("utf-8")
        thumbnails = info.get("thumbnails")
        info_findings(info, found, type_.upper())
        mask = dots.dot_mask(image)
    if isinstance(xmp, bytes) and xmp:
        found.extend(xmp_findings(xmp))
    if thumbnails:
        found.add(k.THUMBNAIL, "HEIF thumbnail image (may show the uncropped original)")
    if mask is not None:
        found.add(k.PRINTER, DOTS)
    extra = _trailing_bytes(data, type_)
    if extra:
        found.add(k.TRAILING_DATA, f"{extra} bytes after the end of the image")
    return found


def _frames(image: Image.Image) -> Iterator[Image.Image]:
    """Each frame in turn (the same object, moved to the next frame: copy what you keep)."""
    count = getattr(image, "n_frames", 1)
    if count > MAX_FRAMES:
        raise UnreadableDocument(f"image has too many frames ({count})")
    yield from ImageSequence.Iterator(image)


def _trailing_bytes(data: bytes, type_: str) -> int:
    if type_ in ("webp",):
        declared = int.from_bytes(data[4:8], "little") + 8
        return max(0, len(data) - declared - (declared & 1))
    parsers: dict[str, Callable[..., object]] = {
        "jpeg": JpegFile,
        "png": PngFile,
        "gif": GifFile,
        "tiff": TiffFile,
    }
    parser = parsers.get(type_)
    if parser is None:
        return 0
    with reading(type_):
        parsed = parser(InputIOStream(io.BytesIO(data), source="document"))
        if type_ == "gif":
            end = _gif_end(parsed)
        elif type_ == "tiff":
            end = _tiff_end(parsed)
            if len(data) - end < 16 and not data[end:].strip(b"\x00"):
                return 0  # Pillow aligns each frame of a multi-page TIFF to 16 bytes
        else:
            size = getattr(parsed, "content_size", None)
            end = size // 8 if isinstance(size, int) else len(data)
    return max(0, len(data) - end)


def _tiff_end(parsed: object) -> int:
    """Where the last of the header, the directories (with their values) and the image data
    ends: TIFF has no end marker, and its parts may come in any order."""
    ends = [(f.absolute_address + f.size) // 8 for f in parsed]  # type: ignore[attr-defined]
    return max(ends, default=0)


def _gif_end(parsed: object) -> int:
    for field in parsed:  # type: ignore[attr-defined]
        if field.name.startswith("separator") and field.value == ";":
            return int(field.absolute_address // 8 + 1)
    return 0


# -- clean copies ----------------------------------------------------------------------------


def clean_pixels(image: Image.Image) -> Image.Image:
    """The picture alone: upright, in sRGB, without tracking dots, and with no ``info``."""
    frame = ImageOps.exif_transpose(image) or image
    icc = image.info.get("icc_profile")
    if isinstance(icc, bytes) and icc and frame.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            mode = "RGBA" if frame.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(frame, source, target, outputMode=mode)
            if converted is not None:
                frame = converted
        except ImageCms.PyCMSError:
            pass  # an unusable profile: keep the pixels as they are, without it
    frame = dots.remove_dots(frame)
    clean = frame.copy()
    clean.info = {}
    return clean


def sanitise_image(data: bytes, type_: str) -> bytes:
    image = open_image(data, type_)
    with reading(type_):
        image.load()
        if type_ in ("gif", "webp", "tiff") and getattr(image, "n_frames", 1) > 1:
            return _save_frames(image, type_)
        clean = clean_pixels(image)
        out = io.BytesIO()
        clean.save(out, PILLOW_FORMATS[type_], **_options(image, clean, type_, data))
        return out.getvalue()


def _options(
    original: Image.Image, clean: Image.Image, type_: str, data: bytes
) -> dict[str, object]:
    if type_ == "jpeg":
        options: dict[str, object] = {"quality": 95}
        tables = getattr(original, "quantization", None)
        if tables and clean.mode in ("L", "RGB", "CMYK") and original.mode == clean.mode:
            options = {"qtables": tables, "subsampling": JpegImagePlugin.get_sampling(original)}
        if clean.mode not in ("L", "RGB", "CMYK"):
            raise UnreadableDocument(f"jpeg: unexpected pixel format {clean.mode}")
        return options
    if type_ == "png":
        transparency = original.info.get("transparency")
        return {"transparency": transparency} if transparency is not None else {}
    if type_ == "gif":
        transparency = original.info.get("transparency")
        return {"transparency": transparency} if transparency is not None else {}
    if type_ == "webp":
        return {"lossless": True} if data[12:16] == b"VP8L" else {"quality": 95}
    if type_ == "tiff":
        compression = original.info.get("compression")
        lossless = compression in _LOSSLESS_TIFF
        if compression in ("group3", "group4") and clean.mode != "1":
            lossless = False
        return {"compression": compression if lossless else "tiff_lzw"}
    return {"quality": 90}


def _save_frames(image: Image.Image, type_: str) -> bytes:
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in _frames(image):
        durations.append(int(frame.info.get("duration", 100) or 100))
        clean = frame.copy() if type_ == "gif" else clean_pixels(frame)
        clean.info = {}
        frames.append(clean)
    options: dict[str, object] = {"save_all": True, "append_images": frames[1:]}
    if type_ in ("gif", "webp"):
        options["duration"] = durations
        loop = image.info.get("loop")
        if isinstance(loop, int):
            options["loop"] = loop
    if type_ == "gif":
        transparency = image.info.get("transparency")
        if transparency is not None:
            options["transparency"] = transparency
    if type_ == "tiff":
        compression = image.info.get("compression")
        options["compression"] = compression if compression in _LOSSLESS_TIFF else "tiff_lzw"
    out = io.BytesIO()
    frames[0].save(out, PILLOW_FORMATS[type_], **options)
    return out.getvalue()


def flatten_image(image: Image.Image, *, greyscale: bool) -> Image.Image:
    """One frame as plain pixels for a flattened copy (PNG or a PDF page)."""
    clean = clean_pixels(image)
    if greyscale:
        return clean.convert("L")
    return clean.convert("RGBA" if "A" in clean.getbands() else "RGB")


# APP1…APP13 and APP15 (EXIF, XMP, ICC, IPTC, maker data), and comments; APP14 (Adobe) stays
# because it says how to read CMYK colours. APP0 (JFIF) goes too: its extension can hold a
# thumbnail, and nothing needs it inside a PDF.
_DROPPED_JPEG_MARKERS: Final = frozenset(range(0xE0, 0xF0)) - {0xEE} | {0xFE}


def strip_jpeg_segments(data: bytes) -> bytes:
    """The same JPEG without metadata segments or trailing bytes, its compressed pixels
    untouched (used for images inside PDFs, where orientation and colour come from the page,
    not from the JPEG)."""
    kept: list[bytes] = []
    with reading("jpeg"):
        parsed = JpegFile(InputIOStream(io.BytesIO(data), source="document"))
        for field in parsed:
            start = field.absolute_address // 8
            end = start + field.size // 8
            marker = field["type"].value if field.is_field_set and "type" in field else None
            if marker in _DROPPED_JPEG_MARKERS:
                continue
            kept.append(data[start:end])
            if marker == 0xD9:
                break
    return b"".join(kept)
