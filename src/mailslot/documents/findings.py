"""What an inspection reports: findings of a few fixed kinds, per file.

The kinds and the JSON shape are specified in ``docs/spec/inspect-report.md``; what each kind
means for a source is in ``docs/documents.md``. A finding's ``detail`` is plain English, built
from the file's own values, and bounded in length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from mailslot.i18n import N_

GPS: Final = "gps"
AUTHOR: Final = "author"
DEVICE: Final = "device"
SERIAL: Final = "serial"
TIMESTAMP: Final = "timestamp"
THUMBNAIL: Final = "thumbnail"
REVISION: Final = "revision"
ATTACHMENT: Final = "attachment"
SCRIPT: Final = "script"
TRAILING_DATA: Final = "trailing_data"
PRINTER: Final = "printer"

KINDS: Final[tuple[str, ...]] = (
    GPS,
    AUTHOR,
    DEVICE,
    SERIAL,
    TIMESTAMP,
    THUMBNAIL,
    REVISION,
    ATTACHMENT,
    SCRIPT,
    TRAILING_DATA,
    PRINTER,
)

# Each kind as people read it (translated where it is shown; docs/documents.md says what each
# means). The staff page's web/documents.KIND_LABELS has the same msgids.
LABELS: Final = {
    GPS: N_("Location (GPS)"),
    AUTHOR: N_("Author, user or organisation"),
    DEVICE: N_("Device or software"),
    SERIAL: N_("Serial number or device identifier"),
    TIMESTAMP: N_("Date and time"),
    THUMBNAIL: N_("Embedded preview image"),
    REVISION: N_("Earlier version, change or comment"),
    ATTACHMENT: N_("Embedded file"),
    SCRIPT: N_("Script or macro"),
    TRAILING_DATA: N_("Data after the end of the file"),
    PRINTER: N_("Printer information"),
}

NOT_INSPECTED: Final = "not inspected"
MAX_DETAIL_CHARS: Final = 300
# A hostile file could carry a million tags; a report past this many says so and stops.
MAX_FINDINGS: Final = 500


@dataclass(frozen=True)
class Finding:
    kind: str
    detail: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")


@dataclass(frozen=True)
class FileReport:
    file: str
    type: str
    findings: tuple[Finding, ...]
    inspected: bool = True
    note: str = ""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "file": self.file,
            "type": self.type,
            "findings": [{"kind": f.kind, "detail": f.detail} for f in self.findings],
        }
        if not self.inspected:
            out["inspected"] = False
            out["note"] = self.note
        elif self.note:
            out["note"] = self.note
        return out

    def kinds(self) -> frozenset[str]:
        return frozenset(f.kind for f in self.findings)


def printable(value: object) -> str:
    """A value from a file as one bounded line of text: bytes decoded leniently, control
    characters replaced, long values cut."""
    if isinstance(value, bytes):
        text = value.rstrip(b"\x00").decode("utf-8", "replace")
    else:
        text = str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    text = " ".join(text.split())
    if len(text) > MAX_DETAIL_CHARS:
        text = text[: MAX_DETAIL_CHARS - 1] + "…"
    return text


@dataclass
class Findings:
    """Collects findings in order, once each, up to ``MAX_FINDINGS``."""

    items: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, kind: str, detail: str, value: object = None) -> None:
        text = detail if value is None else f"{detail}: {printable(value)}"
        text = printable(text)
        key = (kind, text)
        if key in self._seen:
            return
        if len(self.items) >= MAX_FINDINGS:
            if len(self.items) == MAX_FINDINGS:
                self.note("more findings than a report lists; the rest were left out")
            return
        self._seen.add(key)
        self.items.append(Finding(kind, text))

    def extend(self, other: Findings, prefix: str = "") -> None:
        for item in other.items:
            self.add(item.kind, f"{prefix}{item.detail}")
        for text in other.notes:
            self.note(f"{prefix}{text}")

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def report(self, name: str, type_: str) -> FileReport:
        return FileReport(name, type_, tuple(self.items), note="; ".join(self.notes))
