"""File names that came from someone else (a source's upload, a bundle's sealed metadata).

``safe_filename`` keeps what a person would recognise and drops what could act as a path or a
control character. ``OutputNames`` goes further for names written to disk: it also bounds the
length in bytes, avoids characters and names that other file systems refuse (a USB stick is
often FAT or exFAT), and never hands out the same name twice in one folder, nor a name of the
form the writing tool keeps for its own files.

No output name starts with a dot, so a writer can keep its temporary files under names that
start with one: nobody who chooses a file name can make it collide with them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_FILENAME_CHARS: Final = 255
# Room for a leading "_", " (99999)" and a suffix under the 255-byte limit of common file
# systems.
MAX_OUTPUT_NAME_BYTES: Final = 200
_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Refused by FAT, exFAT and NTFS; replaced so that output can be copied anywhere.
_FOREIGN_RESERVED: Final = frozenset('<>:"|?*')
_DEVICE_NAMES: Final = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)


def _clean(raw: str) -> str:
    # Drop first, then normalise: dropping a character between a letter and its combining
    # mark would otherwise leave text that is no longer in NFC.
    kept = "".join(
        ch for ch in raw if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
    )
    name = unicodedata.normalize("NFC", kept).replace("\\", "/").rsplit("/", 1)[-1]
    return name.strip(" .")


def safe_filename(raw: str) -> str:
    """Keep what a person would recognise, drop what could act as a path or a control."""
    return _clean(raw)[:MAX_FILENAME_CHARS].rstrip(" .") or "file"


def _cap_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def output_filename(raw: str, *, fallback: str = "file") -> str:
    """A single path component that is safe to create on Linux, macOS and Windows file
    systems: no separators, no control or direction characters, no leading dot, bounded."""
    name = "".join(ch for ch in _clean(raw) if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    name = unicodedata.normalize("NFC", name)
    name = "".join("_" if ch in _FOREIGN_RESERVED else ch for ch in name)
    name = " ".join(name.split()).strip(" .")
    if not name:
        name = fallback
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode()) > 16:
        stem, ext = name, ""
    ext_part = "." + ext if ext else ""
    stem = _cap_bytes(stem, MAX_OUTPUT_NAME_BYTES - len(ext_part.encode())).rstrip(" .")
    if not stem:
        stem = fallback
    if stem.split(".", 1)[0].lower() in _DEVICE_NAMES:
        stem = "_" + stem
    return stem + ext_part


class OutputNames:
    """Hands out distinct output names within one folder (compared without case, since many
    file systems ignore it): ``report.pdf``, then ``report (2).pdf``, …

    ``own`` matches the names the tool gives its own files (an index, numbered messages). A
    name from someone else that has such a form gets a leading ``_``, so that it can neither
    take one of those names nor pass for one of those files.
    """

    def __init__(self, own: re.Pattern[str] | None = None) -> None:
        self._taken: set[str] = set()
        self._own = own

    def reserve(self, name: str) -> None:
        self._taken.add(name.casefold())

    def take(self, raw: str, *, fallback: str = "file") -> str:
        """A name for ``raw``, which someone else chose; ``fallback`` (the tool's own name)
        when nothing of it is left."""
        name = output_filename(raw, fallback="")
        if not name:
            return self.take_own(output_filename(fallback))
        if self._own is not None and self._own.fullmatch(name):
            name = "_" + name
        return self._distinct(name)

    def take_own(self, name: str) -> str:
        """A name that the tool chose itself: kept as it is unless already taken."""
        return self._distinct(name)

    def _distinct(self, name: str) -> str:
        stem, dot, ext = name.rpartition(".")
        if not dot or not stem:
            stem, ext = name, ""
        ext_part = "." + ext if ext else ""
        candidate, n = name, 1
        while candidate.casefold() in self._taken:
            n += 1
            candidate = f"{stem} ({n}){ext_part}"
        self.reserve(candidate)
        return candidate
