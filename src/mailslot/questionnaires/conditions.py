"""Conditions over earlier answers: when a field or a step is shown, when a rule applies.

The JSON grammar (``docs/spec/questionnaire.md``, "Conditions")::

    {"kind": "fraud"}                          the shorthand: every named field equals its value
    {"field": "kind", "equals": "fraud"}       one field equals one option
    {"field": "kind", "in": ["fraud", "tax"]}  one field equals any of the options
    {"all": [C, ...]}  {"any": [C, ...]}  {"not": C}

Only single choice, multiple choice and yes/no fields can be tested (a multiple choice
"equals" an option when that option is among those chosen; yes/no fields have the options
``yes`` and ``no``). A field that is hidden or unanswered equals nothing, so ``{"not": …}``
of it holds. Which fields a condition may name is checked where the definition is read
(``parse.py``: only earlier fields, never an identity field).

Evaluation takes the answers as a plain mapping from field id to value, so this module
depends on nothing else in the package.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from mailslot.i18n import N_
from mailslot.questionnaires.errors import QuestionnaireError

# What every id (of a field, an option) looks like.
ID_PATTERN: Final = re.compile(r"[a-z0-9_]{1,40}")
# Bounds, so that a hostile definition cannot make evaluation or the checks expensive.
MAX_DEPTH: Final = 8
MAX_PARTS: Final = 64
MAX_VALUES: Final = 200
# Words of the grammar, so never field ids (the shorthand could not tell them apart).
KEYWORDS: Final = frozenset({"all", "any", "not", "field", "equals", "in"})


@dataclass(frozen=True, slots=True)
class Equals:
    field: str
    value: str


@dataclass(frozen=True, slots=True)
class InSet:
    field: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


@dataclass(frozen=True, slots=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    conditions: tuple[Condition, ...]


Condition = Equals | InSet | Not | AllOf | AnyOf


def holds(condition: Condition, answers: Mapping[str, object]) -> bool:
    """Whether ``condition`` holds for ``answers`` (field id to typed value)."""
    match condition:
        case Equals(field, value):
            return _chosen(answers.get(field), value)
        case InSet(field, values):
            return any(_chosen(answers.get(field), value) for value in values)
        case Not(inner):
            return not holds(inner, answers)
        case AllOf(parts):
            return all(holds(part, answers) for part in parts)
        case AnyOf(parts):
            return any(holds(part, answers) for part in parts)


def _chosen(answer: object, option: str) -> bool:
    if isinstance(answer, bool):
        return option == ("yes" if answer else "no")
    if isinstance(answer, str):
        return answer == option
    if isinstance(answer, tuple):
        return option in answer
    return False


def references(condition: Condition) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Each field a condition names, with the option ids it compares it to."""
    match condition:
        case Equals(field, value):
            yield field, (value,)
        case InSet(field, values):
            yield field, values
        case Not(inner):
            yield from references(inner)
        case AllOf(parts) | AnyOf(parts):
            for part in parts:
                yield from references(part)


def to_data(condition: Condition) -> object:
    """The JSON form; the shorthand is written out, so equal conditions hash alike."""
    match condition:
        case Equals(field, value):
            return {"field": field, "equals": value}
        case InSet(field, values):
            return {"field": field, "in": list(values)}
        case Not(inner):
            return {"not": to_data(inner)}
        case AllOf(parts):
            return {"all": [to_data(part) for part in parts]}
        case AnyOf(parts):
            return {"any": [to_data(part) for part in parts]}


class _Budget:
    def __init__(self, path: str) -> None:
        self.path = path
        self.parts = 0

    def spend(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise QuestionnaireError(
                self.path,
                N_("%(path)s: the condition is too large (at most %(max)s parts)."),
                max=MAX_PARTS,
            )


def parse_condition(data: object, path: str) -> Condition:
    """Read a condition's JSON; its shape only (the fields it names are checked later)."""
    return _parse(data, path, 1, _Budget(path))


def _parse(data: object, path: str, depth: int, budget: _Budget) -> Condition:
    if depth > MAX_DEPTH:
        raise _too_deep(path)
    budget.spend()
    if not isinstance(data, dict) or not data:
        raise QuestionnaireError(path, N_("%(path)s: not a condition."))
    keys = set(data)
    if keys in ({"all"}, {"any"}):
        key = next(iter(keys))
        items = data[key]
        inner = f"{path}.{key}"
        if not isinstance(items, list) or not items:
            raise QuestionnaireError(inner, N_("%(path)s: expected a list of conditions."))
        parts = tuple(
            _parse(item, f"{inner}[{i}]", depth + 1, budget) for i, item in enumerate(items)
        )
        return AllOf(parts) if key == "all" else AnyOf(parts)
    if keys == {"not"}:
        return Not(_parse(data["not"], f"{path}.not", depth + 1, budget))
    if keys == {"field", "equals"}:
        return Equals(_name(data["field"], f"{path}.field"), _value(data["equals"], path))
    if keys == {"field", "in"}:
        values = data["in"]
        inner = f"{path}.in"
        if not isinstance(values, list) or not values:
            raise QuestionnaireError(inner, N_("%(path)s: expected a list of option ids."))
        if len(values) > MAX_VALUES:
            raise QuestionnaireError(
                inner, N_("%(path)s: too many (at most %(max)s)."), max=MAX_VALUES
            )
        field = _name(data["field"], f"{path}.field")
        return InSet(field, tuple(_value(v, f"{inner}[{i}]") for i, v in enumerate(values)))
    if keys & KEYWORDS:
        raise QuestionnaireError(path, N_("%(path)s: not a condition."))
    # The shorthand: {"kind": "fraud", "urgent": "yes"}, every pair must hold.
    leaves = [
        Equals(_name(key, f"{path}.{key}"), _value(value, f"{path}.{key}"))
        for key, value in data.items()
    ]
    if len(leaves) == 1:
        return leaves[0]
    # Bounded as if written out ({"all": [{"field": …, "equals": …}, …]}), which is how
    # canonical.py writes it, so that the written-out form always reads back.
    if depth + 1 > MAX_DEPTH:
        raise _too_deep(path)
    for _ in leaves:
        budget.spend()
    return AllOf(tuple(leaves))


def _too_deep(path: str) -> QuestionnaireError:
    return QuestionnaireError(
        path,
        N_("%(path)s: the condition is nested too deeply (at most %(max)s levels)."),
        max=MAX_DEPTH,
    )


def _name(data: object, path: str) -> str:
    if not isinstance(data, str) or not ID_PATTERN.fullmatch(data):
        raise QuestionnaireError(path, N_("%(path)s: an id is 1 to 40 characters: a-z, 0-9 and _."))
    return data


def _value(data: object, path: str) -> str:
    return _name(data, path)
