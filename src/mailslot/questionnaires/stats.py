"""Counts per answer of a questionnaire's choice fields, with the small-count suppression of
the statistics pages (``mailslot.stats.services``: counts from 1 to ``k - 1`` hidden, and in
a breakdown that adds up to the total, more hidden until the hidden ones hold ``k``).

A single choice or yes/no field is such a breakdown: its options and "no answer" add up to
the number of answer sets. A multiple choice is not (a source may choose several options),
so each of its counts is protected on its own. Identity answers and a group's own fields are
never counted: the first are sealed apart, the second may be answered several times per case.

This works on answers already opened: the caller decides where plaintext may be counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailslot.questionnaires.model import Definition, Field, FieldType, Label
from mailslot.questionnaires.values import Answers
from mailslot.stats.services import Count, protect_breakdown, protect_count


@dataclass(frozen=True, slots=True)
class AnswerCount:
    option: str | None  # an option id; None for "no answer"
    label: Label | None
    count: Count


@dataclass(frozen=True, slots=True)
class FieldCounts:
    field: Field
    total: Count  # the answer sets counted
    counts: tuple[AnswerCount, ...]


def countable(definition: Definition) -> list[Field]:
    kinds = {FieldType.SINGLE_CHOICE, FieldType.MULTIPLE_CHOICE, FieldType.YES_NO}
    return [
        field
        for step in definition.steps
        for field in step.fields
        if field.type in kinds and not field.identity
    ]


def choice_counts(
    definition: Definition, answer_sets: Iterable[Answers], *, k: int
) -> list[FieldCounts]:
    sets = list(answer_sets)
    result = []
    for field in countable(definition):
        options = field.option_ids
        tally = dict.fromkeys(options, 0)
        unanswered = 0
        for answers in sets:
            value = answers.get(field.id)
            chosen: tuple[str, ...]
            if isinstance(value, bool):
                chosen = ("yes" if value else "no",)
            elif isinstance(value, str):
                chosen = (value,)
            elif isinstance(value, tuple):
                chosen = tuple(v for v in value if isinstance(v, str))
            else:
                chosen = ()
            if not chosen:
                unanswered += 1
            for option in chosen:
                if option in tally:
                    tally[option] += 1
        raw = [tally[option] for option in options] + [unanswered]
        if field.type is FieldType.MULTIPLE_CHOICE:
            protected = [protect_count(value, k) for value in raw]
        else:
            protected = protect_breakdown(raw, k)
        labels = [_label(field, option) for option in options] + [None]
        keys: list[str | None] = [*options, None]
        counts = tuple(
            AnswerCount(key, label, count)
            for key, label, count in zip(keys, labels, protected, strict=True)
        )
        result.append(FieldCounts(field, protect_count(len(sets), k), counts))
    return result


def _label(field: Field, option_id: str) -> Label | None:
    option = field.option(option_id)
    return None if option is None else option.label
