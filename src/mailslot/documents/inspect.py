"""Inspection: what a file says about who made it, on what, where and when.

``inspect_bytes`` detects the type from the content, hands the bytes to the module for that
type, and returns a :class:`FileReport`. A type it does not know is reported as not
inspected, never as clean. It raises only :class:`DocumentError`. It reads ``data`` and
writes nothing anywhere; the caller (the sandbox) decides where the bytes come from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from mailslot.documents import archive, audio, odf, ole, ooxml, pdf, video
from mailslot.documents.detect import UNKNOWN, detect_type
from mailslot.documents.findings import NOT_INSPECTED, FileReport, Findings
from mailslot.documents.images import IMAGE_TYPES, inspect_image

__all__ = ["detect_type", "inspect_bytes"]

_INSPECTORS: Final[dict[str, Callable[[bytes, str], Findings]]] = {
    "pdf": lambda data, _type: pdf.inspect_pdf(data),
    "docx": lambda data, _type: ooxml.inspect_ooxml(data),
    "xlsx": lambda data, _type: ooxml.inspect_ooxml(data),
    "pptx": lambda data, _type: ooxml.inspect_ooxml(data),
    "odt": lambda data, _type: odf.inspect_odf(data),
    "ods": lambda data, _type: odf.inspect_odf(data),
    "odp": lambda data, _type: odf.inspect_odf(data),
    "ole": lambda data, _type: ole.inspect_ole(data),
    "zip": lambda data, _type: archive.inspect_zip(data),
    "mp3": audio.inspect_audio,
    "ogg": audio.inspect_audio,
    "flac": audio.inspect_audio,
    "wav": audio.inspect_audio,
    "m4a": video.inspect_iso,
    "mp4": video.inspect_iso,
    "mov": video.inspect_iso,
}


def inspect_bytes(data: bytes, name: str) -> FileReport:
    type_ = detect_type(data, name)
    if type_ == UNKNOWN:
        return FileReport(name, type_, (), inspected=False, note=NOT_INSPECTED)
    return findings_for(data, type_).report(name, type_)


def findings_for(data: bytes, type_: str) -> Findings:
    if type_ in IMAGE_TYPES:
        return inspect_image(data, type_)
    return _INSPECTORS[type_](data, type_)
