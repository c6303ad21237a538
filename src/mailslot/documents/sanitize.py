"""Sanitised copies: the same file without what identifies its maker, or a flattened one.

``sanitize_bytes`` never changes ``data`` (bytes are immutable, and no library is given a
writable view of them). Every copy is inspected again before it is returned: a copy that
still carries a finding is refused with :class:`NotSanitisable`, so a gap in a sanitiser
shows up as an error, never as a copy that only looks clean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mailslot.documents import archive, audio, odf, ooxml_clean, video
from mailslot.documents.detect import MEDIA_TYPES, UNKNOWN, detect_type
from mailslot.documents.errors import NotSanitisable
from mailslot.documents.flatten import flatten_pdf, flatten_picture
from mailslot.documents.images import IMAGE_TYPES, sanitise_image
from mailslot.documents.inspect import findings_for
from mailslot.documents.office import LEGACY, OFFICE_TYPES, Converter, legacy_kind
from mailslot.documents.pdf import sanitise_pdf


@dataclass(frozen=True)
class SanitizedCopy:
    name: str
    data: bytes
    media_type: str


_SANITISERS: Final[dict[str, Callable[[bytes, str], bytes]]] = {
    "pdf": lambda data, _type: sanitise_pdf(data),
    "docx": ooxml_clean.sanitise_ooxml,
    "xlsx": ooxml_clean.sanitise_ooxml,
    "pptx": ooxml_clean.sanitise_ooxml,
    "odt": odf.sanitise_odf,
    "ods": odf.sanitise_odf,
    "odp": odf.sanitise_odf,
    "zip": lambda data, _type: archive.sanitise_zip(data, sanitise_member),
    "mp3": audio.sanitise_audio,
    "ogg": audio.sanitise_audio,
    "flac": audio.sanitise_audio,
    "wav": audio.sanitise_audio,
    "m4a": video.sanitise_iso,
    "mp4": video.sanitise_iso,
    "mov": video.sanitise_iso,
}
_EXTENSIONS: Final[dict[str, str]] = {"jpeg": "jpg", "heif": "heic", "tiff": "tif"}


def sanitize_bytes(
    data: bytes,
    name: str,
    *,
    flatten: bool = False,
    greyscale: bool = False,
    office: Converter | None = None,
) -> SanitizedCopy:
    """A clean copy of ``data``; flattened (pixels only) with ``flatten``. An office file is
    flattened through the PDF ``office`` makes of its clean copy (LibreOffice, inside
    bubblewrap only: :mod:`.office`); without ``office`` it is refused."""
    type_ = detect_type(data, name)
    if type_ == UNKNOWN:
        raise NotSanitisable("unknown type: no copy can be made")
    if greyscale and not flatten:
        raise NotSanitisable("greyscale applies to flattened copies only")
    if flatten:
        if type_ == "pdf":
            copy, out_type = flatten_pdf(data, greyscale=greyscale), "pdf"
        elif type_ in IMAGE_TYPES:
            copy, out_type = flatten_picture(data, type_, greyscale=greyscale), "png"
        elif type_ in OFFICE_TYPES and office is not None:
            copy, out_type = (
                flatten_pdf(_office_pdf(data, type_, office), greyscale=greyscale),
                "pdf",
            )
        elif type_ in OFFICE_TYPES:
            raise NotSanitisable(
                f"{type_}: office files are flattened only where the document sandbox runs "
                "inside bubblewrap (LibreOffice needs the file in the box's memory-backed /tmp; "
                "without it the plaintext would touch a disk)"
            )
        else:
            raise NotSanitisable(f"{type_}: only PDFs, images and office files can be flattened")
        _check(copy, out_type)
    elif type_ == "ole" and office is not None:
        # No library writes a legacy file: its clean copy is its OOXML counterpart, which
        # LibreOffice makes inside the box and which is then cleaned like any OOXML file.
        legacy = legacy_kind(data)
        out_type = LEGACY[legacy]
        copy = sanitise_member(office(data, legacy, out_type), out_type)
    else:
        copy, out_type = sanitise_member(data, type_), type_
    return SanitizedCopy(_copy_name(name, out_type), copy, MEDIA_TYPES[out_type])


def sanitise_member(data: bytes, type_: str) -> bytes:
    """A same-format clean copy, checked by inspecting it again."""
    if type_ in IMAGE_TYPES:
        copy = sanitise_image(data, type_)
    elif type_ in _SANITISERS:
        copy = _SANITISERS[type_](data, type_)
    elif type_ == "ole":
        raise NotSanitisable(
            "legacy Office files (.doc, .xls, .ppt) have a clean copy only where the document "
            "sandbox runs inside bubblewrap (LibreOffice makes its DOCX, XLSX or PPTX there); "
            "elsewhere save the file as DOCX, XLSX, PPTX or PDF on an offline computer and "
            "sanitise that"
        )
    else:
        raise NotSanitisable(f"{type_}: no same-format copy can be made of this type")
    _check(copy, type_)
    return copy


def _office_pdf(data: bytes, type_: str, convert: Converter) -> bytes:
    """The PDF LibreOffice makes of the file's clean copy, never of the file itself: it would
    print tracked changes, deleted text included. A legacy file becomes its OOXML counterpart
    first, which has a clean copy."""
    if type_ == "ole":
        legacy = legacy_kind(data)
        data, type_ = convert(data, legacy, LEGACY[legacy]), LEGACY[legacy]
    return convert(sanitise_member(data, type_), type_, "pdf")


def _check(copy: bytes, type_: str) -> None:
    left = findings_for(copy, type_).items
    if left:
        kinds = ", ".join(sorted({f.kind for f in left}))
        raise NotSanitisable(f"{type_}: the copy still carries {kinds}; no copy was made")


def _copy_name(name: str, type_: str) -> str:
    base = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.strip(".") else base
    return f"{stem or 'document'}-clean.{_EXTENSIONS.get(type_, type_)}"
