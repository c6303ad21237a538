"""Steps shown, where answers route a case, and when they stop a submission."""

from __future__ import annotations

import pytest

from mailslot.questionnaires import (
    Answers,
    Routing,
    collect,
    next_step,
    previous_step,
    route,
    stop_message,
    visible_fields,
    visible_steps,
)
from tests.unit.questionnaires.builders import build, en, field, options, step

pytestmark = pytest.mark.no_database

DEFINITION = build(
    step(
        field(
            "kind",
            "single_choice",
            options=options(
                "fraud",
                "safety",
                "complaint",
                "other",
                fraud={"route": {"channel": "compliance"}},
                safety={"route": {"recipients": ["Safety officer", "Kim"]}},
                complaint={
                    "stop": {"en": "Not here: write to customer service.", "ko": "여기가 아닙니다."}
                },
            ),
        ),
        field("urgent", "yes_no"),
    ),
    step(field("amount", "number"), show_if={"kind": "fraud"}),
    step(
        field(
            "areas",
            "multiple_choice",
            options=options("x", "y", x={"route": {"recipients": ["Kim", "Lee"]}}),
        )
    ),
    step(field("who", "short_text"), show_if={"not": {"urgent": "yes"}}),
    rules=[
        {"if": {"all": [{"kind": "safety"}, {"urgent": "yes"}]}, "route": {"channel": "urgent"}},
        {
            "if": {"not": {"field": "kind", "in": ["fraud", "safety", "complaint"]}},
            "stop": en("Please choose a kind we handle."),
        },
        {"if": {"areas": "y"}, "stop": en("Y stops.")},
    ],
)


def test_steps_shown_follow_the_answers() -> None:
    assert visible_steps(DEFINITION, Answers()) == (0, 2, 3)
    fraud = Answers({"kind": "fraud", "urgent": True})
    assert visible_steps(DEFINITION, fraud) == (0, 1, 2)
    assert next_step(DEFINITION, fraud, None) == 0
    assert next_step(DEFINITION, fraud, 0) == 1
    assert next_step(DEFINITION, fraud, 2) is None
    assert previous_step(DEFINITION, fraud, 2) == 1
    assert previous_step(DEFINITION, Answers({"kind": "safety"}), 2) == 0
    assert previous_step(DEFINITION, fraud, 0) is None


def test_fields_shown_follow_the_answers() -> None:
    definition = build(step(field("a", "yes_no"), field("b", "date", show_if={"a": "yes"})))
    labels = [f.id for f in visible_fields(definition.steps[0], Answers({"a": True}))]
    assert labels == ["a", "b"]
    assert [f.id for f in visible_fields(definition.steps[0], Answers())] == ["a"]


def test_routing() -> None:
    assert route(DEFINITION, Answers()) == Routing()
    assert route(DEFINITION, Answers({"kind": "fraud"})) == Routing(channel="compliance")
    assert route(DEFINITION, Answers({"kind": "safety", "urgent": True, "areas": ("x",)})) == (
        Routing(channel="urgent", recipients=("Safety officer", "Kim", "Lee"))
    )
    assert route(DEFINITION, Answers({"kind": "safety", "urgent": False})) == Routing(
        recipients=("Safety officer", "Kim")
    )


def test_routing_ignores_answers_to_hidden_fields() -> None:
    definition = build(
        step(field("a", "yes_no")),
        step(
            field("c", "single_choice", options=options("x", x={"route": {"channel": "hidden"}})),
            show_if={"a": "yes"},
        ),
    )
    # Answers that a caller forgot to clean still do not route from a hidden step.
    assert route(definition, Answers({"a": False, "c": "x"})) == Routing()
    assert route(definition, Answers({"a": True, "c": "x"})) == Routing(channel="hidden")


def test_stops() -> None:
    complaint = Answers({"kind": "complaint"})
    assert stop_message(DEFINITION, complaint, "en") == "Not here: write to customer service."
    assert stop_message(DEFINITION, complaint, "ko") == "여기가 아닙니다."
    assert stop_message(DEFINITION, complaint, "fr", "ko") == "여기가 아닙니다."
    assert stop_message(DEFINITION, Answers({"kind": "fraud"}), "en") is None
    assert stop_message(DEFINITION, Answers({"kind": "other"}), "en") == (
        "Please choose a kind we handle."
    )


def test_a_rule_waits_until_the_fields_it_names_were_asked() -> None:
    # "areas" is on step 2: at step 0 the rule about it is not tried yet.
    answers = collect(DEFINITION, {0: {"kind": ["fraud"]}, 2: {"areas": ["y"]}}).answers
    assert stop_message(DEFINITION, Answers({"kind": "fraud"}), "en", through_step=0) is None
    assert stop_message(DEFINITION, answers, "en", through_step=2) == "Y stops."
    # Before "kind" is answered, "not kind in (...)" would hold; it is not tried at step -1.
    assert stop_message(DEFINITION, Answers(), "en", through_step=-1) is None
    assert stop_message(DEFINITION, Answers(), "en") == "Please choose a kind we handle."
