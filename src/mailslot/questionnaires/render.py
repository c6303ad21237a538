"""Answers as readable text: the questions the source saw and what they answered, in one
language, for staff pages, the case zip and ``mailslot decrypt``.

Only the steps and fields shown for these answers appear; a shown question left empty says
so; static texts are left out (they asked nothing). Identity answers appear only when they
are among ``answers`` (they travel in their own sealed document). A file field lists its
files by name and size, and with ``file_refs`` (what recipients read) the id of the case's
item that holds each.
"""

from __future__ import annotations

import datetime
from typing import Final

from mailslot.i18n import N_, translate
from mailslot.questionnaires.logic import visible_fields, visible_steps
from mailslot.questionnaires.model import FALLBACK_LANGUAGE, Definition, Field, FieldType
from mailslot.questionnaires.values import (
    Answers,
    AttachedFile,
    DateRange,
    Value,
    number_text,
)
from mailslot.sizes import human_size

NO_ANSWER: Final = N_("(no answer)")
YES: Final = N_("Yes")
NO: Final = N_("No")
CONFIRMED: Final = N_("Confirmed")
DATE_RANGE: Final = N_("%(start)s to %(end)s")
ENTRY: Final = N_("Entry %(n)s")
VERSION: Final = N_("Questionnaire version: %(hash)s")
FILE_ITEM: Final = N_("%(name)s (%(size)s), item %(item)s")
INDENT: Final = "  "


def render_text(
    definition: Definition,
    answers: Answers,
    locale: str,
    default_locale: str = FALLBACK_LANGUAGE,
    *,
    version_hash: str | None = None,
    file_refs: bool = False,
) -> str:
    writer = _Writer(locale, default_locale, file_refs=file_refs)
    title = definition.title.text(locale, default_locale)
    lines = [title, "=" * max(3, len(title))]
    if version_hash is not None:
        lines.append(translate(locale, VERSION, {"hash": version_hash}))
    for index in visible_steps(definition, answers):
        step = definition.steps[index]
        heading = step.title.text(locale, default_locale)
        lines += ["", heading, "-" * max(3, len(heading))]
        for field in visible_fields(step, answers):
            if field.identity and field.id not in answers:
                continue
            lines += writer.field(field, answers, "")
    return "\n".join(lines) + "\n"


class _Writer:
    def __init__(self, locale: str, default_locale: str, *, file_refs: bool = False) -> None:
        self.locale = locale
        self.default_locale = default_locale
        self.file_refs = file_refs

    def word(self, message: str, **params: object) -> str:
        return translate(self.locale, message, params or None)

    def field(self, field: Field, answers: Answers, indent: str) -> list[str]:
        if not field.takes_answer or field.label is None:
            return []
        lines = ["", indent + field.label.text(self.locale, self.default_locale)]
        if field.id not in answers:
            return [*lines, indent + INDENT + self.word(NO_ANSWER)]
        value = answers[field.id]
        if field.type is FieldType.GROUP and isinstance(value, tuple):
            for n, row in enumerate(value, start=1):
                lines.append(indent + INDENT + self.word(ENTRY, n=n))
                if isinstance(row, Answers):
                    for child in field.fields:
                        lines += self.field(child, row, indent + INDENT * 2)
            return lines
        text = self.value(field, value)
        return lines + [indent + INDENT + line for line in text.splitlines() or [""]]

    def value(self, field: Field, value: Value) -> str:
        if isinstance(value, bool):
            if field.type is FieldType.ACKNOWLEDGEMENT:
                return self.word(CONFIRMED)
            return self.word(YES if value else NO)
        if isinstance(value, DateRange):
            return self.word(DATE_RANGE, start=value.start.isoformat(), end=value.end.isoformat())
        if isinstance(value, str):
            option = field.option(value) if field.type is FieldType.SINGLE_CHOICE else None
            return value if option is None else self.option(field, value)
        if isinstance(value, tuple):
            return "\n".join(self.item(field, item) for item in value)
        if isinstance(value, datetime.date):
            return value.isoformat()
        return number_text(value)

    def item(self, field: Field, item: object) -> str:
        if isinstance(item, AttachedFile):
            size = human_size(item.size, self.locale)
            if self.file_refs:
                return "- " + self.word(FILE_ITEM, name=item.name, size=size, item=item.ref)
            return f"- {item.name} ({size})"
        return f"- {self.option(field, str(item))}"

    def option(self, field: Field, option_id: str) -> str:
        option = field.option(option_id)
        if option is None:
            return option_id
        return option.label.text(self.locale, self.default_locale)
