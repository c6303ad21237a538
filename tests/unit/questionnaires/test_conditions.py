"""Conditions: each kind evaluated, the JSON grammar read, and the references a definition
may make (only earlier fields, only choices and yes/no, only their options; no identity
answers, no group fields), so that no condition can look forward or form a cycle."""

from __future__ import annotations

from typing import Any

import pytest

from mailslot.questionnaires import QuestionnaireError, parse_definition
from mailslot.questionnaires.conditions import (
    MAX_DEPTH,
    MAX_PARTS,
    AllOf,
    AnyOf,
    Equals,
    InSet,
    Not,
    holds,
    parse_condition,
)
from tests.unit.questionnaires.builders import data, field, step

pytestmark = pytest.mark.no_database

ANSWERS = {"kind": "fraud", "areas": ("tax", "health"), "urgent": True, "calm": False}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"kind": "fraud"}, True),
        ({"kind": "other"}, False),
        ({"field": "kind", "equals": "fraud"}, True),
        ({"field": "kind", "in": ["other", "fraud"]}, True),
        ({"field": "kind", "in": ["other", "waste"]}, False),
        ({"areas": "tax"}, True),  # a multiple choice equals each option chosen
        ({"areas": "energy"}, False),
        ({"field": "areas", "in": ["energy", "health"]}, True),
        ({"urgent": "yes"}, True),
        ({"urgent": "no"}, False),
        ({"calm": "no"}, True),
        ({"missing": "yes"}, False),  # hidden or unanswered equals nothing
        ({"not": {"missing": "yes"}}, True),
        ({"not": {"kind": "fraud"}}, False),
        ({"all": [{"kind": "fraud"}, {"urgent": "yes"}]}, True),
        ({"all": [{"kind": "fraud"}, {"urgent": "no"}]}, False),
        ({"any": [{"kind": "other"}, {"urgent": "yes"}]}, True),
        ({"any": [{"kind": "other"}, {"urgent": "no"}]}, False),
        ({"kind": "fraud", "urgent": "yes"}, True),  # the shorthand with two fields: all
        ({"kind": "fraud", "urgent": "no"}, False),
        ({"not": {"any": [{"kind": "other"}, {"all": [{"calm": "no"}, {"areas": "x"}]}]}}, True),
    ],
)
def test_each_condition_kind(condition: object, expected: bool) -> None:
    assert holds(parse_condition(condition, "c"), ANSWERS) is expected


def test_the_grammar_reads_into_its_types() -> None:
    assert parse_condition({"a": "b"}, "c") == Equals("a", "b")
    assert parse_condition({"field": "a", "in": ["b", "c"]}, "c") == InSet("a", ("b", "c"))
    assert parse_condition({"not": {"a": "b"}}, "c") == Not(Equals("a", "b"))
    assert parse_condition({"any": [{"a": "b"}]}, "c") == AnyOf((Equals("a", "b"),))
    assert parse_condition({"a": "b", "c": "d"}, "c") == AllOf((Equals("a", "b"), Equals("c", "d")))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ([], "c: not a condition."),
        ({}, "c: not a condition."),
        ({"all": []}, "c.all: expected a list of conditions."),
        ({"all": {"a": "b"}}, "c.all: expected a list of conditions."),
        ({"field": "a"}, "c: not a condition."),
        ({"field": "a", "equals": "b", "not": {}}, "c: not a condition."),
        ({"field": "a", "in": []}, "c.in: expected a list of option ids."),
        ({"a": ["b"]}, "c.a: an id is 1 to 40 characters: a-z, 0-9 and _."),
        ({"A": "b"}, "c.A: an id is 1 to 40 characters: a-z, 0-9 and _."),
        ({"not": "x"}, "c.not: not a condition."),
    ],
)
def test_malformed_conditions_are_refused_with_their_path(condition: object, expected: str) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        parse_condition(condition, "c")
    assert str(caught.value) == expected


def test_depth_and_size_are_bounded() -> None:
    deep: object = {"a": "b"}
    for _ in range(MAX_DEPTH - 1):
        deep = {"not": deep}
    parse_condition(deep, "c")  # positive control: exactly at the limit
    with pytest.raises(QuestionnaireError, match="nested too deeply"):
        parse_condition({"not": deep}, "c")
    wide = {"any": [{"a": "b"}] * (MAX_PARTS - 1)}
    parse_condition(wide, "c")
    with pytest.raises(QuestionnaireError, match="too large"):
        parse_condition({"any": [{"a": "b"}] * MAX_PARTS}, "c")
    # The shorthand is bounded as if written out, so its canonical form always reads back.
    shorthand = {f"f{i}": "b" for i in range(MAX_PARTS)}
    with pytest.raises(QuestionnaireError, match="too large"):
        parse_condition(shorthand, "c")
    at_bottom: object = {"a": "b", "c": "d"}
    for _ in range(MAX_DEPTH - 1):
        at_bottom = {"not": at_bottom}
    with pytest.raises(QuestionnaireError, match="nested too deeply"):
        parse_condition(at_bottom, "c")


def choice(field_id: str, **extra: Any) -> dict[str, Any]:
    return field(field_id, "single_choice", **extra)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # A field may look at an earlier field of its own step...
        ([step(choice("a"), field("b", "yes_no", show_if={"a": "b"}))], None),
        # ...or of an earlier step; a step only at earlier steps.
        ([step(choice("a")), step(field("b", "yes_no"), show_if={"a": "c"})], None),
        (
            [step(field("b", "yes_no", show_if={"a": "b"}), choice("a"))],
            'steps[0].fields[0].show_if: "a" comes later; a condition can only use earlier '
            "answers.",
        ),
        (
            [step(choice("a"), show_if={"a": "b"})],
            'steps[0].show_if: "a" comes later; a condition can only use earlier answers.',
        ),
        (
            [step(field("s", "yes_no", show_if={"s": "yes"}))],
            'steps[0].fields[0].show_if: "s" comes later; a condition can only use earlier '
            "answers.",
        ),
        (
            [step(choice("a")), step(field("b", "yes_no", show_if={"z": "b"}))],
            'steps[1].fields[0].show_if: unknown field "z".',
        ),
        (
            [step(field("t", "short_text")), step(field("b", "yes_no", show_if={"t": "x"}))],
            'steps[1].fields[0].show_if: "t" is a short_text field; conditions can only use '
            "choices and yes/no answers.",
        ),
        (
            [step(choice("a")), step(field("b", "yes_no", show_if={"a": "z"}))],
            'steps[1].fields[0].show_if: "z" is not an option of "a".',
        ),
        (
            [step(field("y", "yes_no")), step(field("b", "yes_no", show_if={"y": "maybe"}))],
            'steps[1].fields[0].show_if: "maybe" is not an option of "y".',
        ),
        (
            [step(choice("a", identity=True)), step(field("b", "yes_no", show_if={"a": "b"}))],
            'steps[1].fields[0].show_if: "a" is an identity answer; conditions cannot use it.',
        ),
        (
            [
                step(field("g", "group", fields=[choice("g_a")])),
                step(field("b", "yes_no", show_if={"g_a": "b"})),
            ],
            'steps[1].fields[0].show_if: "g_a" is inside a group; conditions cannot use it.',
        ),
    ],
)
def test_references(steps: list[dict[str, Any]], expected: str | None) -> None:
    definition = data(*steps)
    if expected is None:
        parse_definition(definition)
        return
    with pytest.raises(QuestionnaireError) as caught:
        parse_definition(definition)
    assert str(caught.value) == expected


def test_rules_may_name_any_field_but_not_identity_answers() -> None:
    stop = {"en": "Stop"}
    parse_definition(
        data(
            step(choice("a")), step(choice("b")), rules=[{"if": {"a": "a", "b": "c"}, "stop": stop}]
        )
    )
    with pytest.raises(QuestionnaireError, match="identity answer"):
        parse_definition(
            data(
                step(field("y", "yes_no", identity=True)),
                rules=[{"if": {"y": "yes"}, "stop": stop}],
            )
        )


def test_identity_options_neither_route_nor_stop() -> None:
    routed = {"id": "a", "label": {"en": "A"}, "route": {"channel": "other"}}
    with pytest.raises(QuestionnaireError) as caught:
        parse_definition(data(step(choice("c", identity=True, options=[routed]))))
    assert str(caught.value) == (
        "steps[0].fields[0].options: an identity answer cannot route or stop."
    )
