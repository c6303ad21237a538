"""Answers from form data: each type's values and errors, everything typed kept to show it
again, group rows, files, and answers that a changed earlier answer hides being dropped."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from mailslot.questionnaires import (
    Answers,
    AttachedFile,
    DateRange,
    collect,
    form_data,
    validate_step,
)
from mailslot.questionnaires.answers import (
    BOTH_DATES,
    DATES_REVERSED,
    FILE_TOO_LARGE,
    NOT_A_DATE,
    NOT_A_NUMBER,
    NOT_AN_OPTION,
    NOT_WHOLE,
    NUMBER_TOO_HIGH,
    NUMBER_TOO_LOW,
    ONE_ANSWER,
    REQUIRED,
    TICK,
    TOO_FEW_CHOICES,
    TOO_FEW_ROWS,
    TOO_LONG,
    TOO_MANY_CHOICES,
    TOO_MANY_FILES,
    TOO_MANY_ROWS,
    TOO_SHORT,
    YES_OR_NO,
)
from mailslot.questionnaires.values import FieldError
from tests.unit.questionnaires.builders import build, field, step

pytestmark = pytest.mark.no_database


def one(item: dict[str, Any], raw: dict[str, list[str]], **kwargs: Any) -> tuple[Any, Any]:
    """The value and the error (message, params) of a one-field step."""
    definition = build(step(item))
    answers, errors = validate_step(definition, 0, raw, **kwargs)
    error = errors.get(item["id"])
    return answers.values.get(item["id"]), (error.message, dict(error.params)) if error else None


@pytest.mark.parametrize(
    ("item", "raw", "value", "error"),
    [
        (field("t", "short_text"), {"t": ["  Hello  "]}, "Hello", None),
        (field("t", "short_text"), {"t": ["a\nb"]}, "ab", None),
        (field("t", "short_text"), {}, None, None),
        (field("t", "short_text", required=True), {"t": ["  "]}, None, (REQUIRED, {})),
        (field("t", "short_text"), {"t": ["x", "y"]}, None, (ONE_ANSWER, {})),
        (field("t", "short_text", max_length=3), {"t": ["abcd"]}, None, (TOO_LONG, {"num": 3})),
        (field("t", "short_text"), {"t": ["x" * 1001]}, None, (TOO_LONG, {"num": 1000})),
        (field("t", "short_text", min_length=3), {"t": ["ab"]}, None, (TOO_SHORT, {"num": 3})),
        (field("t", "long_text"), {"t": ["one\r\ntwo\u0000"]}, "one\ntwo", None),
        (field("c", "single_choice"), {"c": ["b"]}, "b", None),
        (field("c", "single_choice"), {"c": [""]}, None, None),
        (field("c", "single_choice", required=True), {"c": [""]}, None, (REQUIRED, {})),
        (field("c", "single_choice"), {"c": ["z"]}, None, (NOT_AN_OPTION, {})),
        (field("c", "single_choice"), {"c": ["a", "b"]}, None, (ONE_ANSWER, {})),
        (field("m", "multiple_choice"), {"m": ["c", "a", "a"]}, ("a", "c"), None),
        (field("m", "multiple_choice"), {"m": []}, None, None),
        (field("m", "multiple_choice", required=True), {}, None, (REQUIRED, {})),
        (field("m", "multiple_choice"), {"m": ["a", "z"]}, None, (NOT_AN_OPTION, {})),
        (
            field("m", "multiple_choice", min_choices=2),
            {"m": ["a"]},
            None,
            (TOO_FEW_CHOICES, {"num": 2}),
        ),
        (field("m", "multiple_choice", min_choices=2), {}, None, (TOO_FEW_CHOICES, {"num": 2})),
        (
            field("m", "multiple_choice", max_choices=1),
            {"m": ["a", "b"]},
            None,
            (TOO_MANY_CHOICES, {"num": 1}),
        ),
        (field("y", "yes_no"), {"y": ["yes"]}, True, None),
        (field("y", "yes_no"), {"y": ["no"]}, False, None),
        (field("y", "yes_no"), {"y": ["maybe"]}, None, (YES_OR_NO, {})),
        (field("y", "yes_no", required=True), {}, None, (REQUIRED, {})),
        (field("d", "date"), {"d": ["2024-02-29"]}, datetime.date(2024, 2, 29), None),
        (field("d", "date"), {"d": ["2023-02-29"]}, None, (NOT_A_DATE, {})),
        (field("d", "date"), {"d": ["20240101"]}, None, (NOT_A_DATE, {})),  # ISO, but not ours
        (field("d", "date"), {"d": ["1 May"]}, None, (NOT_A_DATE, {})),
        (
            field("r", "date_range"),
            {"r.start": ["2024-01-01"], "r.end": ["2024-01-31"]},
            DateRange(datetime.date(2024, 1, 1), datetime.date(2024, 1, 31)),
            None,
        ),
        (
            field("r", "date_range"),
            {"r.start": ["2024-01-01"], "r.end": ["2024-01-01"]},
            DateRange(datetime.date(2024, 1, 1), datetime.date(2024, 1, 1)),
            None,
        ),
        (
            field("r", "date_range"),
            {"r.start": ["2024-02-01"], "r.end": ["2024-01-01"]},
            None,
            (DATES_REVERSED, {}),
        ),
        (
            field("r", "date_range"),
            {"r.start": ["2024-02-01"], "r.end": [""]},
            None,
            (BOTH_DATES, {}),
        ),
        (
            field("r", "date_range"),
            {"r.start": ["x"], "r.end": ["2024-01-01"]},
            None,
            (NOT_A_DATE, {}),
        ),
        (field("r", "date_range", required=True), {"r.start": [""]}, None, (REQUIRED, {})),
        (field("n", "number"), {"n": [" -3.50 "]}, Decimal("-3.50"), None),
        (field("n", "number"), {"n": ["1e5"]}, None, (NOT_A_NUMBER, {})),
        (field("n", "number"), {"n": ["NaN"]}, None, (NOT_A_NUMBER, {})),
        (field("n", "number", integer=True), {"n": ["2.5"]}, None, (NOT_WHOLE, {})),
        (field("n", "number", integer=True), {"n": ["2.0"]}, Decimal("2.0"), None),
        (field("n", "number", min=1.5), {"n": ["1"]}, None, (NUMBER_TOO_LOW, {"n": "1.5"})),
        (field("n", "number", max=100), {"n": ["101"]}, None, (NUMBER_TOO_HIGH, {"n": "100"})),
        (field("k", "acknowledgement", required=True), {"k": ["yes"]}, True, None),
        (field("k", "acknowledgement", required=True), {}, None, (TICK, {})),
        (field("k", "acknowledgement"), {}, None, None),
        (field("k", "acknowledgement"), {"k": ["on"]}, None, (TICK, {})),
    ],
)
def test_each_type(item: dict[str, Any], raw: dict[str, list[str]], value: Any, error: Any) -> None:
    assert one(item, raw) == (value, error)


def test_files_come_from_the_upload_code() -> None:
    a, b = AttachedFile("a.pdf", 10, "ref-a"), AttachedFile("b.jpg", 2000, "ref-b")
    item = field("f", "file", max_files=2, max_size=1500)
    assert one(item, {}, files={"f": [a]}) == ((a,), None)
    assert one(item, {}, files={"f": [a, b, a]}) == (None, (TOO_MANY_FILES, {"num": 2}))
    assert one(item, {}, files={"f": [b]}) == (None, (FILE_TOO_LARGE, {"size": 1500}))
    assert one(field("f", "file", required=True), {}) == (None, (REQUIRED, {}))
    assert one(field("f", "file"), {}, files={"f": [a] * 5}) == ((a,) * 5, None)
    assert one(field("f", "file"), {}, files={"f": [a] * 6}) == (None, (TOO_MANY_FILES, {"num": 5}))


def test_error_messages_are_translated_when_shown() -> None:
    error = FieldError(TOO_LONG, (("num", 3),))
    assert error.text("en") == "Please write at most 3 characters."
    korean = error.text("ko")
    assert "3" in korean
    assert korean != error.text("en")
    size = validate_step(
        build(step(field("f", "file", max_size=1536))),
        0,
        {},
        files={"f": [AttachedFile("a", 2000, "r")]},
    )[1]["f"]
    assert size.text("en") == "Each file can be at most 1.5 KiB."


def test_everything_typed_is_kept_even_when_invalid() -> None:
    definition = build(
        step(
            field("t", "short_text", max_length=2),
            field("n", "number"),
            field("r", "date_range"),
            field("m", "multiple_choice"),
        )
    )
    raw = {
        "t": ["too long"],
        "n": ["twelve"],
        "r.start": ["2024-05-01"],
        "r.end": ["nope"],
        "m": ["a", "b"],
        "unrelated": ["x"],
    }
    answers, errors = validate_step(definition, 0, raw)
    assert set(errors) == {"t", "n", "r"}
    assert answers.raw == {
        "t": ("too long",),
        "n": ("twelve",),
        "r.start": ("2024-05-01",),
        "r.end": ("nope",),
        "m": ("a", "b"),
    }
    assert answers.values == Answers({"m": ("a", "b")})
    assert answers.errors == errors


def test_group_rows() -> None:
    persons = field(
        "p",
        "group",
        min_repeats=1,
        max_repeats=2,
        fields=[
            field("name", "short_text", required=True),
            field("role", "single_choice"),
            field("seen", "date"),
        ],
    )
    definition = build(step(persons))
    raw = {
        "p[0].name": ["Kim"],
        "p[0].role": ["a"],
        "p[3].name": ["Lee"],
        "p[1].name": [""],
        "p[1].role": [""],
    }  # row 1 is a blank spare row
    answers, errors = validate_step(definition, 0, raw)
    assert errors == {}
    assert answers.values["p"] == (Answers({"name": "Kim", "role": "a"}), Answers({"name": "Lee"}))
    assert "p[1].name" not in answers.raw

    answers, errors = validate_step(definition, 0, {"p[0].role": ["b"], "p[1].seen": ["x"]})
    assert {k: e.message for k, e in errors.items()} == {
        "p[0].name": REQUIRED,
        "p[1].name": REQUIRED,
        "p[1].seen": NOT_A_DATE,
    }
    assert "p" not in answers.values
    assert answers.raw == {"p[0].role": ("b",), "p[1].seen": ("x",)}

    _, errors = validate_step(definition, 0, {})
    assert {k: (e.message, dict(e.params)) for k, e in errors.items()} == {
        "p": (TOO_FEW_ROWS, {"num": 1})
    }
    three = {f"p[{i}].name": [f"N{i}"] for i in range(3)}
    _, errors = validate_step(definition, 0, three)
    assert errors["p"].message == TOO_MANY_ROWS
    # Indexes past 999 or written oddly are not rows.
    _, errors = validate_step(definition, 0, {"p[1000].name": ["x"], "p[x].name": ["y"]})
    assert errors["p"].message == TOO_FEW_ROWS


def test_a_group_without_entries_has_no_answer() -> None:
    definition = build(step(field("p", "group", fields=[field("n", "short_text")])))
    answers, errors = validate_step(definition, 0, {"p[0].n": [" "]})
    assert (answers.values, errors) == (Answers(), {})


def test_fields_hidden_in_a_step_drop_what_was_sent_for_them() -> None:
    definition = build(
        step(
            field(
                "kind",
                "single_choice",
                options=[
                    {"id": "fraud", "label": {"en": "F"}},
                    {"id": "other", "label": {"en": "O"}},
                ],
            ),
            field("detail", "long_text", required=True, show_if={"kind": "fraud"}),
        )
    )
    shown, errors = validate_step(definition, 0, {"kind": ["fraud"], "detail": ["Invoices"]})
    assert (shown.values, errors) == (Answers({"kind": "fraud", "detail": "Invoices"}), {})
    hidden, errors = validate_step(definition, 0, {"kind": ["other"], "detail": ["Invoices"]})
    assert (hidden.values, hidden.raw, errors) == (
        Answers({"kind": "other"}),
        {"kind": ("other",)},
        {},
    )
    # Newly shown and required: the page shows it again with the error.
    _, errors = validate_step(definition, 0, {"kind": ["fraud"]})
    assert errors["detail"].message == REQUIRED


def test_collect_drops_answers_that_a_changed_answer_hides() -> None:
    definition = build(
        step(field("kind", "single_choice")),
        step(field("amount", "number"), show_if={"kind": "a"}),
        step(field("more", "yes_no"), field("why", "short_text", show_if={"more": "yes"})),
    )
    steps_raw = {0: {"kind": ["a"]}, 1: {"amount": ["12"]}, 2: {"more": ["yes"], "why": ["x"]}}
    first = collect(definition, steps_raw)
    assert first.valid
    assert first.answers == Answers({"kind": "a", "amount": Decimal(12), "more": True, "why": "x"})
    steps_raw[0] = {"kind": ["b"]}
    steps_raw[2] = {"more": ["no"], "why": ["x"]}
    second = collect(definition, steps_raw)
    assert second.answers == Answers({"kind": "b", "more": False})
    assert [s.index for s in second.steps] == [0, 2]


def test_collect_reports_errors_per_step() -> None:
    definition = build(step(field("a", "yes_no", required=True)), step(field("b", "date")))
    result = collect(definition, {1: {"b": ["soon"]}})
    assert not result.valid
    assert {i: set(e) for i, e in result.errors.items()} == {0: {"a"}, 1: {"b"}}


def test_an_earlier_answer_to_this_step_does_not_leak_into_its_conditions() -> None:
    definition = build(
        step(
            field("kind", "single_choice"),
            field("detail", "short_text", show_if={"kind": "a"}, required=True),
        ),
    )
    # The session still holds the old answer "a"; the new form leaves the choice empty.
    answers, errors = validate_step(definition, 0, {}, earlier=Answers({"kind": "a"}))
    assert (answers.values, errors) == (Answers(), {})


def test_form_data_groups_a_multi_dict() -> None:
    assert form_data([("m", "a"), ("t", "x"), ("m", "b")]) == {"m": ("a", "b"), "t": ("x",)}


def test_answers_are_an_immutable_mapping() -> None:
    answers = Answers({"a": "x"})
    assert dict(answers) == {"a": "x"}
    assert answers.merged({"b": True}) == Answers({"a": "x", "b": True})
    assert answers == Answers({"a": "x"})
    with pytest.raises(TypeError):
        answers["b"] = "y"  # type: ignore[index]
