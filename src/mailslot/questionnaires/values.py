"""The values answers take, one type per field type (``Value``), the :class:`Answers` that
hold them by field id, and the :class:`FieldError` an answer gets instead when it is not
valid. Dates and numbers are read here too, the same way from a form and from a sealed
document."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from mailslot.i18n import translate, translate_message
from mailslot.sizes import human_size

_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER: Final = re.compile(r"-?\d{1,16}(\.\d{1,15})?")


@dataclass(frozen=True, slots=True)
class DateRange:
    start: datetime.date
    end: datetime.date


@dataclass(frozen=True, slots=True)
class AttachedFile:
    """A file a source attached, as the upload code sealed it: ``ref`` is its handle there
    (what it is, an item id or a session's blob, is the caller's business)."""

    name: str
    size: int
    ref: str


Value = (
    str  # short_text, long_text, single_choice (the option id)
    | bool  # yes_no, acknowledgement (always True)
    | Decimal  # number
    | datetime.date  # date
    | DateRange  # date_range
    | tuple[str, ...]  # multiple_choice (option ids, in the options' order)
    | tuple[AttachedFile, ...]  # file
    | tuple["Answers", ...]  # group: one Answers per row
)


class Answers(Mapping[str, Value]):
    """Typed answers by field id: an immutable mapping."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Value] | None = None) -> None:
        self._values: dict[str, Value] = dict(values or {})

    def __getitem__(self, key: str) -> Value:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Answers({self._values!r})"

    def merged(self, other: Mapping[str, Value]) -> Answers:
        return Answers({**self._values, **other})

    def without(self, field_ids: set[str] | frozenset[str]) -> Answers:
        return Answers({k: v for k, v in self._values.items() if k not in field_ids})


class ByteCount(int):
    """A size among an error's parameters, written in the reader's units when shown."""


@dataclass(frozen=True, slots=True)
class FieldError:
    # An untranslated msgid, or for a message that counts its singular and plural msgids
    # (``i18n.N_plural``) with the count as the ``num`` parameter.
    message: str | tuple[str, str]
    params: tuple[tuple[str, int | str], ...] = ()

    def text(self, locale: str) -> str:
        params: dict[str, object] = {
            key: human_size(value, locale) if isinstance(value, ByteCount) else value
            for key, value in self.params
        }
        if isinstance(self.message, tuple):
            return translate_message(locale, *self.message, params)
        return translate(locale, self.message, params or None)


def parse_date(text: str) -> datetime.date | None:
    text = text.strip()
    if not _DATE.fullmatch(text):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def parse_number(text: str) -> Decimal | None:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def number_text(value: Decimal) -> str:
    """A number as people write it: ``12``, ``3.5`` (no exponent, no trailing zeros)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def form_data(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Form fields as ``(name, value)`` pairs (a multi-dict's items) grouped by name."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: tuple(values) for name, values in grouped.items()}
