"""What the answers so far decide: which steps and fields are shown, where the case goes,
and whether the submission stops here.

``answers`` is a mapping from field id to typed value (``answers.Answers``) holding only
answers to fields that were shown; ``answers.collect`` drops the rest. Conditions name only
earlier fields (checked in ``parse.py``), so evaluating them against every answer gives the
same result as evaluating them against the answers before them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mailslot.questionnaires.conditions import holds, references
from mailslot.questionnaires.model import FALLBACK_LANGUAGE, Definition, Field, Label, Step


@dataclass(frozen=True, slots=True)
class Routing:
    """Where the answers send the case. ``channel`` is the first channel named by a chosen
    option or a rule that holds (in the definition's order); ``recipients`` are all the
    recipients named that way, each once, in order. Empty when nothing routes."""

    channel: str | None = None
    recipients: tuple[str, ...] = ()


def step_shown(step: Step, answers: Mapping[str, object]) -> bool:
    return step.show_if is None or holds(step.show_if, answers)


def field_shown(field: Field, answers: Mapping[str, object]) -> bool:
    return field.show_if is None or holds(field.show_if, answers)


def visible_steps(definition: Definition, answers: Mapping[str, object]) -> tuple[int, ...]:
    """The indexes of the steps shown for these answers, in order."""
    return tuple(i for i, step in enumerate(definition.steps) if step_shown(step, answers))


def visible_fields(step: Step, answers: Mapping[str, object]) -> tuple[Field, ...]:
    return tuple(field for field in step.fields if field_shown(field, answers))


def next_step(
    definition: Definition, answers: Mapping[str, object], current: int | None
) -> int | None:
    """The shown step after ``current`` (the first one for None); None after the last."""
    start = -1 if current is None else current
    return next((i for i in visible_steps(definition, answers) if i > start), None)


def previous_step(
    definition: Definition, answers: Mapping[str, object], current: int
) -> int | None:
    return next((i for i in reversed(visible_steps(definition, answers)) if i < current), None)


def _answered_fields(definition: Definition, answers: Mapping[str, object]) -> list[Field]:
    """The shown fields with an answer, in order (a group's own fields never route)."""
    shown = []
    for index in visible_steps(definition, answers):
        step = definition.steps[index]
        shown += [field for field in visible_fields(step, answers) if field.id in answers]
    return shown


def _selected(answer: object) -> list[str]:
    if isinstance(answer, str):
        return [answer]
    if isinstance(answer, tuple):
        return [value for value in answer if isinstance(value, str)]
    return []


def route(definition: Definition, answers: Mapping[str, object]) -> Routing:
    channels: list[str] = []
    recipients: list[str] = []
    routes = [
        option.route
        for field in _answered_fields(definition, answers)
        for value in _selected(answers[field.id])
        if (option := field.option(value)) is not None and option.route is not None
    ]
    routes += [
        rule.route
        for rule in definition.rules
        if rule.route is not None and holds(rule.condition, answers)
    ]
    for found in routes:
        if found.channel is not None:
            channels.append(found.channel)
        recipients.extend(found.recipients)
    return Routing(
        channel=channels[0] if channels else None,
        recipients=tuple(dict.fromkeys(recipients)),
    )


def stop(
    definition: Definition, answers: Mapping[str, object], *, through_step: int | None = None
) -> Label | None:
    """The first stop that the answers reach: a chosen option's, then a rule's.

    ``through_step``: the last step answered so far. A rule is only tried once every field
    it names has been answered or passed (a rule "not fraud" must not stop a source before
    the question is even asked); None means the whole questionnaire is answered.
    """
    for field in _answered_fields(definition, answers):
        for value in _selected(answers[field.id]):
            option = field.option(value)
            if option is not None and option.stop is not None:
                return option.stop
    last = len(definition.steps) - 1 if through_step is None else through_step
    step_of = {
        field.id: index for index, step in enumerate(definition.steps) for field in step.fields
    }
    for rule in definition.rules:
        named = [step_of.get(field_id, 0) for field_id, _ in references(rule.condition)]
        if rule.stop is not None and max(named) <= last and holds(rule.condition, answers):
            return rule.stop
    return None


def stop_message(
    definition: Definition,
    answers: Mapping[str, object],
    locale: str,
    default_locale: str = FALLBACK_LANGUAGE,
    *,
    through_step: int | None = None,
) -> str | None:
    """The text of :func:`stop` in ``locale`` (with the usual fallback), or None."""
    found = stop(definition, answers, through_step=through_step)
    return None if found is None else found.text(locale, default_locale)
