"""A questionnaire definition as typed, immutable objects (read by ``parse.py``).

A definition has a title and steps; each step has fields; a field has a type and the
settings that type allows (the rest stay at their defaults, which ``parse.py`` enforces).
Texts people read are :class:`Label` objects: one text per language, chosen at render time
with a fallback (:meth:`Label.text`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from mailslot.questionnaires.conditions import ID_PATTERN, Condition

__all__ = [
    "ID_PATTERN",
    "Definition",
    "Field",
    "FieldType",
    "Label",
    "Option",
    "Route",
    "Rule",
    "Step",
]

FALLBACK_LANGUAGE: Final = "en"


class FieldType(StrEnum):
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    YES_NO = "yes_no"
    DATE = "date"
    DATE_RANGE = "date_range"
    NUMBER = "number"
    FILE = "file"
    ACKNOWLEDGEMENT = "acknowledgement"
    STATIC_TEXT = "static_text"
    GROUP = "group"


TEXT_TYPES: Final = frozenset({FieldType.SHORT_TEXT, FieldType.LONG_TEXT})
CHOICE_TYPES: Final = frozenset({FieldType.SINGLE_CHOICE, FieldType.MULTIPLE_CHOICE})
# The fields a condition may test, and the only ones whose options may route or stop.
TESTABLE_TYPES: Final = frozenset({*CHOICE_TYPES, FieldType.YES_NO})
YES_NO_OPTIONS: Final = ("yes", "no")


def language_tag(locale: str) -> str:
    """The BCP 47 tag that labels use for a locale (``zh_Hans`` is ``zh-Hans``)."""
    return locale.replace("_", "-")


@dataclass(frozen=True, slots=True)
class Label:
    """One text per language: ``(language tag, text)`` pairs, sorted by tag. Tags are BCP 47
    (``zh-Hans``); a locale given as ``zh_Hans`` finds the same text."""

    texts: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, **texts: str) -> Label:
        return cls(tuple(sorted(texts.items())))

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(language for language, _ in self.texts)

    def get(self, language: str) -> str | None:
        for tag, text in self.texts:
            if tag == language:
                return text
        return None

    def text(self, locale: str, default_locale: str = FALLBACK_LANGUAGE) -> str:
        """The text in ``locale``; else in the organisation's default language; else in
        English; else in the first language there is (by tag, so always the same one)."""
        for language in (locale, default_locale, FALLBACK_LANGUAGE):
            found = self.get(language_tag(language))
            if found is not None:
                return found
        return self.texts[0][1]


@dataclass(frozen=True, slots=True)
class Route:
    """Where an answer sends the case: a channel by name, or recipients by display name."""

    channel: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    label: Label
    route: Route | None = None
    stop: Label | None = None


@dataclass(frozen=True, slots=True)
class Field:
    id: str
    type: FieldType
    label: Label | None = None  # None only for static text, which may go without a heading
    help: Label | None = None
    required: bool = False
    show_if: Condition | None = None
    identity: bool = False  # sealed apart from the other answers (identity on request)
    statistics: bool = False  # choice and yes/no: answers counted in aggregate, in clear
    # short_text, long_text
    min_length: int | None = None
    max_length: int | None = None
    # single_choice, multiple_choice
    options: tuple[Option, ...] = ()
    min_choices: int | None = None  # multiple_choice
    max_choices: int | None = None  # multiple_choice
    # number
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    integer: bool = False
    # file
    max_files: int | None = None
    max_size: int | None = None
    # static_text
    text: Label | None = None
    # group
    fields: tuple[Field, ...] = ()
    min_repeats: int | None = None
    max_repeats: int | None = None

    def option(self, option_id: str) -> Option | None:
        for option in self.options:
            if option.id == option_id:
                return option
        return None

    @property
    def option_ids(self) -> tuple[str, ...]:
        if self.type is FieldType.YES_NO:
            return YES_NO_OPTIONS
        return tuple(option.id for option in self.options)

    @property
    def takes_answer(self) -> bool:
        return self.type is not FieldType.STATIC_TEXT


@dataclass(frozen=True, slots=True)
class Step:
    title: Label
    fields: tuple[Field, ...]
    description: Label | None = None
    show_if: Condition | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A condition over the answers that routes the case or stops the submission."""

    condition: Condition
    route: Route | None = None
    stop: Label | None = None


@dataclass(frozen=True, slots=True)
class Definition:
    title: Label
    steps: tuple[Step, ...]
    description: Label | None = None
    rules: tuple[Rule, ...] = ()

    def fields(self) -> Iterator[Field]:
        """Every field in order, a group's own fields right after the group."""
        for step in self.steps:
            for field in step.fields:
                yield field
                yield from field.fields

    def field(self, field_id: str) -> Field | None:
        for field in self.fields():
            if field.id == field_id:
                return field
        return None
