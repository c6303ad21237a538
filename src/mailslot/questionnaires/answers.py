"""Answers: form data in, typed values and per-field errors out.

A page posts one step as form fields (strings): ``kind`` for most fields, the value repeated
for a multiple choice, ``when.start`` and ``when.end`` for a date range, ``persons[0].name``
for a group's rows, dates as ``YYYY-MM-DD``. Files arrive separately, already sealed by the
upload code, as :class:`AttachedFile` references per field id.

:func:`validate_step` reads one step against the answers before it: fields hidden by a
condition are skipped and what was sent for them dropped; each shown field gives a typed
value, or an error (an untranslated msgid, :class:`FieldError`) under its path (``kind``,
``persons[0].name``). What was typed is kept as sent (``StepAnswers.raw``) so that a page can
show it again next to its error. :func:`collect` reads every shown step in order and returns
only answers to fields that are still shown: changing an earlier answer drops the answers
that it hides.

Answering never raises: whatever a form holds ends in values and errors.
"""

from __future__ import annotations

import datetime
import re
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Generic, TypeVar

from mailslot.i18n import N_, N_plural
from mailslot.questionnaires.limits import (
    DEFAULT_MAX_FILES,
    DEFAULT_MAX_REPEATS,
    LONG_TEXT_MAX,
    SHORT_TEXT_MAX,
)
from mailslot.questionnaires.logic import field_shown, step_shown
from mailslot.questionnaires.model import Definition, Field, FieldType
from mailslot.questionnaires.values import (
    Answers,
    AttachedFile,
    ByteCount,
    DateRange,
    FieldError,
    Value,
    number_text,
    parse_date,
    parse_number,
)
from mailslot.text import plain_text

FormData = Mapping[str, Sequence[str]]

REQUIRED: Final = N_("Please answer this question.")
ONE_ANSWER: Final = N_("Please give one answer only.")
NOT_AN_OPTION: Final = N_("Please choose one of the options.")
TOO_FEW_CHOICES: Final = N_plural(
    "Please choose at least %(num)s option.",
    "Please choose at least %(num)s of the options.",
)
TOO_MANY_CHOICES: Final = N_plural(
    "Please choose at most %(num)s option.",
    "Please choose at most %(num)s of the options.",
)
TOO_SHORT: Final = N_plural(
    "Please write at least %(num)s character.",
    "Please write at least %(num)s characters.",
)
TOO_LONG: Final = N_plural(
    "Please write at most %(num)s character.",
    "Please write at most %(num)s characters.",
)
YES_OR_NO: Final = N_("Please answer yes or no.")
NOT_A_DATE: Final = N_("Please enter a date as year-month-day, such as 2024-03-31.")
BOTH_DATES: Final = N_("Please enter both dates.")
DATES_REVERSED: Final = N_("The end date is before the start date.")
NOT_A_NUMBER: Final = N_("Please enter a number, such as 12 or 3.5.")
NOT_WHOLE: Final = N_("Please enter a whole number.")
NUMBER_TOO_LOW: Final = N_("Please enter a number of at least %(n)s.")
NUMBER_TOO_HIGH: Final = N_("Please enter a number of at most %(n)s.")
TICK: Final = N_("Please tick the box to go on.")
TOO_MANY_FILES: Final = N_plural(
    "Please attach at most %(num)s file.",
    "Please attach at most %(num)s files.",
)
FILE_TOO_LARGE: Final = N_("Each file can be at most %(size)s.")
TOO_FEW_ROWS: Final = N_plural(
    "Please fill in at least %(num)s entry.",
    "Please fill in at least %(num)s entries.",
)
TOO_MANY_ROWS: Final = N_plural(
    "Please fill in at most %(num)s entry.",
    "Please fill in at most %(num)s entries.",
)

_ROW: Final = re.compile(r"\[(\d{1,3})\]\.")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Parser(Generic[T]):
    """How a typed field reads its text, and what it says when the text does not parse."""

    read: Callable[[str], T | None]
    invalid: str


DATE: Final[Parser[datetime.date]] = Parser(parse_date, NOT_A_DATE)
NUMBER: Final[Parser[Decimal]] = Parser(parse_number, NOT_A_NUMBER)


@dataclass(frozen=True, slots=True)
class StepAnswers:
    index: int
    values: Answers  # valid answers to shown fields
    raw: dict[str, tuple[str, ...]]  # what was sent for shown fields, to show it again
    errors: dict[str, FieldError] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Collected:
    """Every shown step read in order: the answers to keep, and the errors per step."""

    answers: Answers
    steps: tuple[StepAnswers, ...]

    @property
    def errors(self) -> dict[int, dict[str, FieldError]]:
        return {step.index: step.errors for step in self.steps if step.errors}

    @property
    def valid(self) -> bool:
        return not self.errors


def validate_step(
    definition: Definition,
    step_index: int,
    raw: FormData,
    *,
    earlier: Mapping[str, Value] | None = None,
    files: Mapping[str, Sequence[AttachedFile]] | None = None,
) -> tuple[StepAnswers, dict[str, FieldError]]:
    """Read one step's form data; ``earlier`` holds the answers of the steps before it
    (answers to this step's own fields there are ignored)."""
    step = definition.steps[step_index]
    own = {f.id for f in step.fields}
    before = {k: v for k, v in (earlier or {}).items() if k not in own}
    values: dict[str, Value] = {}
    reader = _Reader(raw, files or {})
    seen = ChainMap[str, Value](values, before)
    for item in step.fields:
        if item.takes_answer and field_shown(item, seen):
            value = reader.field(item, item.id)
            if value is not None:
                values[item.id] = value
    answers = StepAnswers(step_index, Answers(values), reader.kept, reader.errors)
    return answers, reader.errors


def collect(
    definition: Definition,
    steps_raw: Mapping[int, FormData],
    files: Mapping[str, Sequence[AttachedFile]] | None = None,
) -> Collected:
    """Read every step shown for the answers so far, in order; hidden steps are skipped and
    whatever was once sent for them is dropped."""
    answers = Answers()
    steps = []
    for index, step in enumerate(definition.steps):
        if not step_shown(step, answers):
            continue
        read, _ = validate_step(
            definition, index, steps_raw.get(index, {}), earlier=answers, files=files
        )
        answers = answers.merged(read.values)
        steps.append(read)
    return Collected(answers, tuple(steps))


class _Reader:
    """Reads fields from one step's form data, gathering errors and what was sent."""

    def __init__(self, raw: FormData, files: Mapping[str, Sequence[AttachedFile]]) -> None:
        self.raw = raw
        self.files = files
        self.kept: dict[str, tuple[str, ...]] = {}
        self.errors: dict[str, FieldError] = {}

    def fail(self, path: str, message: str | tuple[str, str], **params: int | str) -> None:
        self.errors[path] = FieldError(message, tuple(params.items()))

    def sent(self, key: str) -> tuple[str, ...]:
        values = tuple(v for v in self.raw.get(key, ()) if isinstance(v, str))
        if values:
            self.kept[key] = values
        return values

    def single(self, key: str) -> str | None:
        """The one value sent under ``key`` ('' when none); None after an error."""
        values = self.sent(key)
        if len(values) > 1:
            self.fail(key, ONE_ANSWER)
            return None
        return values[0] if values else ""

    def field(self, item: Field, key: str) -> Value | None:
        """The field's value, or None when it is empty (an error if required) or invalid."""
        read = _READERS.get(item.type)
        return read(self, item, key) if read is not None else None

    def empty(self, item: Field, key: str) -> None:
        if item.required:
            self.fail(key, TICK if item.type is FieldType.ACKNOWLEDGEMENT else REQUIRED)

    def text(self, item: Field, key: str) -> str | None:
        sent = self.single(key)
        if sent is None:
            return None
        long = item.type is FieldType.LONG_TEXT
        text = plain_text(sent, multiline=long).strip()
        if not text:
            self.empty(item, key)
            return None
        high = item.max_length or (LONG_TEXT_MAX if long else SHORT_TEXT_MAX)
        if len(text) > high:
            self.fail(key, TOO_LONG, num=high)
            return None
        if item.min_length is not None and len(text) < item.min_length:
            self.fail(key, TOO_SHORT, num=item.min_length)
            return None
        return text

    def choice(self, item: Field, key: str) -> str | bool | None:
        sent = self.single(key)
        if sent is None:
            return None
        if not sent:
            self.empty(item, key)
            return None
        if sent not in item.option_ids:
            self.fail(key, YES_OR_NO if item.type is FieldType.YES_NO else NOT_AN_OPTION)
            return None
        return (sent == "yes") if item.type is FieldType.YES_NO else sent

    def choices(self, item: Field, key: str) -> tuple[str, ...] | None:
        sent = {v for v in self.sent(key) if v}
        if sent - set(item.option_ids):
            self.fail(key, NOT_AN_OPTION)
            return None
        chosen = tuple(option for option in item.option_ids if option in sent)
        if not chosen:
            if item.min_choices:
                self.fail(key, TOO_FEW_CHOICES, num=item.min_choices)
                return None
            self.empty(item, key)
            return None
        if item.min_choices is not None and len(chosen) < item.min_choices:
            self.fail(key, TOO_FEW_CHOICES, num=item.min_choices)
            return None
        if item.max_choices is not None and len(chosen) > item.max_choices:
            self.fail(key, TOO_MANY_CHOICES, num=item.max_choices)
            return None
        return chosen

    def parsed(self, item: Field, key: str, parse: Parser[T]) -> T | None:
        """One value sent under ``key`` read by ``parse`` (:data:`DATE` or :data:`NUMBER`):
        None when nothing was sent (an error if required) or when it does not parse."""
        sent = self.single(key)
        if sent is None:
            return None
        if not sent.strip():
            self.empty(item, key)
            return None
        value = parse.read(sent)
        if value is None:
            self.fail(key, parse.invalid)
        return value

    def date(self, item: Field, key: str) -> datetime.date | None:
        return self.parsed(item, key, DATE)

    def date_range(self, item: Field, key: str) -> DateRange | None:
        start, end = self.single(f"{key}.start"), self.single(f"{key}.end")
        if start is None or end is None:
            return None
        if not start.strip() and not end.strip():
            self.empty(item, key)
            return None
        if not start.strip() or not end.strip():
            self.fail(key, BOTH_DATES)
            return None
        first, last = DATE.read(start), DATE.read(end)
        if first is None or last is None:
            self.fail(key, DATE.invalid)
            return None
        if last < first:
            self.fail(key, DATES_REVERSED)
            return None
        return DateRange(first, last)

    def number(self, item: Field, key: str) -> Decimal | None:
        value = self.parsed(item, key, NUMBER)
        if value is None:
            return None
        if item.integer and value != value.to_integral_value():
            self.fail(key, NOT_WHOLE)
            return None
        if item.minimum is not None and value < item.minimum:
            self.fail(key, NUMBER_TOO_LOW, n=number_text(item.minimum))
            return None
        if item.maximum is not None and value > item.maximum:
            self.fail(key, NUMBER_TOO_HIGH, n=number_text(item.maximum))
            return None
        return value

    def acknowledgement(self, item: Field, key: str) -> bool | None:
        sent = self.single(key)
        if sent is None:
            return None
        if not sent:
            self.empty(item, key)
            return None
        if sent != "yes":
            self.fail(key, TICK)
            return None
        return True

    def attached(self, item: Field, key: str) -> tuple[AttachedFile, ...] | None:
        files = tuple(self.files.get(item.id, ()))
        if not files:
            self.empty(item, key)
            return None
        most = item.max_files or DEFAULT_MAX_FILES
        if len(files) > most:
            self.fail(key, TOO_MANY_FILES, num=most)
            return None
        if item.max_size is not None and any(f.size > item.max_size for f in files):
            self.fail(key, FILE_TOO_LARGE, size=ByteCount(item.max_size))
            return None
        return files

    def group(self, item: Field, key: str) -> tuple[Answers, ...] | None:
        prefix = f"{key}["
        indexes = sorted(
            {
                int(match[1])
                for name in self.raw
                if name.startswith(prefix) and (match := _ROW.match(name, len(key))) is not None
            }
        )
        failed = len(self.errors)
        rows = []
        for index in indexes:
            row_key = f"{key}[{index}]"
            kept = len(self.kept)
            row: dict[str, Value] = {}
            for child in item.fields:
                if not child.takes_answer:
                    continue
                value = self.field(child, f"{row_key}.{child.id}")
                if value is not None:
                    row[child.id] = value
            if self._blank_since(kept, row_key):
                continue  # a spare row left empty: not an entry
            rows.append(Answers(row))
        if len(self.errors) > failed:
            return None
        low = item.min_repeats or 0
        high = item.max_repeats or DEFAULT_MAX_REPEATS
        if len(rows) < low:
            self.fail(key, TOO_FEW_ROWS, num=low)
            return None
        if len(rows) > high:
            self.fail(key, TOO_MANY_ROWS, num=high)
            return None
        return tuple(rows) if rows else None

    def _blank_since(self, kept: int, row_key: str) -> bool:
        """Whether everything sent for a row (recorded since ``kept``) is blank; if so, the
        row's kept values and errors are forgotten."""
        keys = list(self.kept)[kept:]
        if any(v.strip() for k in keys for v in self.kept[k]):
            return False
        for k in keys:
            del self.kept[k]
        for path in [p for p in self.errors if p.startswith(f"{row_key}.")]:
            del self.errors[path]
        return True


# How each type of field is read (static texts take no answer: none).
_READERS: Final[dict[FieldType, Callable[[_Reader, Field, str], Value | None]]] = {
    FieldType.SHORT_TEXT: _Reader.text,
    FieldType.LONG_TEXT: _Reader.text,
    FieldType.SINGLE_CHOICE: _Reader.choice,
    FieldType.YES_NO: _Reader.choice,
    FieldType.MULTIPLE_CHOICE: _Reader.choices,
    FieldType.DATE: _Reader.date,
    FieldType.DATE_RANGE: _Reader.date_range,
    FieldType.NUMBER: _Reader.number,
    FieldType.ACKNOWLEDGEMENT: _Reader.acknowledgement,
    FieldType.FILE: _Reader.attached,
    FieldType.GROUP: _Reader.group,
}
