"""Counts per answer of a questionnaire's choice fields, with the small-count suppression of
the statistics pages (``mailslot.stats.services``: counts from 1 to ``k - 1`` hidden, and in
a breakdown that adds up to the total, more hidden until the hidden ones hold ``k``).

A single choice or yes/no field is such a breakdown: its options and "no answer" add up to
the number of answer sets. A multiple choice is not (a source may choose several options),
so each of its counts is protected on its own. Identity answers and a group's own fields are
never counted: the first are sealed apart, the second may be answered several times per case.

:func:`choice_counts` works on answers already opened, :func:`protected` on tallies kept
apart (``counts.py``): the caller decides where plaintext may be counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mailslot.questionnaires.model import Definition, Field, FieldType, Label
from mailslot.questionnaires.values import Answers, Value
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


def chosen_options(value: Value | None) -> tuple[str, ...]:
    """The option ids an answer to a choice or yes/no field chose (none: no answer)."""
    if isinstance(value, bool):
        return ("yes" if value else "no",)
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def choice_counts(
    definition: Definition, answer_sets: Iterable[Answers], *, k: int
) -> list[FieldCounts]:
    sets = list(answer_sets)
    result = []
    for field in countable(definition):
        tally = dict.fromkeys(field.option_ids, 0)
        unanswered = 0
        for answers in sets:
            chosen = chosen_options(answers.get(field.id))
            if not chosen:
                unanswered += 1
            for option in chosen:
                if option in tally:
                    tally[option] += 1
        result.append(protected(field, tally, unanswered, len(sets), k=k))
    return result


def protected(
    field: Field, tally: Mapping[str, int], unanswered: int, total: int, *, k: int
) -> FieldCounts:
    """One field's counts (per option id, and the answer sets without an answer), as
    published: protected as a breakdown, or count by count for a multiple choice."""
    options = field.option_ids
    raw = [tally.get(option, 0) for option in options] + [unanswered]
    if field.type is FieldType.MULTIPLE_CHOICE:
        shown = [protect_count(value, k) for value in raw]
    else:
        shown = protect_breakdown(raw, k)
    labels = [_label(field, option) for option in options] + [None]
    keys: list[str | None] = [*options, None]
    counts = tuple(
        AnswerCount(key, label, count)
        for key, label, count in zip(keys, labels, shown, strict=True)
    )
    return FieldCounts(field, protect_count(total, k), counts)


def _label(field: Field, option_id: str) -> Label | None:
    option = field.option(option_id)
    return None if option is None else option.label
