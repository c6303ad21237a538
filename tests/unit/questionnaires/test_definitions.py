"""Reading definitions: every type, every setting, and a clear error with the path of the
problem for everything else; limits; the canonical form and the version hash; labels."""

from __future__ import annotations

import copy
import dataclasses
import json
from decimal import Decimal
from typing import Any

import pytest

from mailslot.errors import InvalidInput, MailslotError
from mailslot.i18n import translate
from mailslot.questionnaires import (
    Definition,
    FieldType,
    Label,
    QuestionnaireError,
    definition_hash,
    definition_json,
    limits,
    load_definition,
    parse_definition,
    to_data,
)
from mailslot.questionnaires.conditions import Equals
from tests.unit.questionnaires.builders import build, data, en, field, options, step

pytestmark = pytest.mark.no_database

ISSUE_EXAMPLE = """{"version": 1, "title": {"en": "Report"},
   "steps": [{"title": {"en": "What happened"}, "fields": [
     {"id": "kind", "type": "single_choice", "label": {"en": "Which kind of wrongdoing?"},
      "required": true, "options": [{"id": "fraud", "label": {"en": "Fraud"}},
      {"id": "other", "label": {"en": "Something else"}}]},
     {"id": "detail", "type": "long_text", "label": {"en": "Describe the fraud"},
      "show_if": {"kind": "fraud"}}]}]}"""


def refused(definition: object) -> str:
    with pytest.raises(QuestionnaireError) as caught:
        parse_definition(definition)
    return str(caught.value)


def test_the_issue_example_reads_into_typed_immutable_objects() -> None:
    definition = load_definition(ISSUE_EXAMPLE)
    kind, detail = definition.steps[0].fields
    assert kind.type is FieldType.SINGLE_CHOICE
    assert kind.required is True
    assert [o.id for o in kind.options] == ["fraud", "other"]
    assert kind.options[0].label.text("en") == "Fraud"
    assert detail.type is FieldType.LONG_TEXT
    assert detail.required is False
    assert detail.show_if == Equals("kind", "fraud")
    with pytest.raises(dataclasses.FrozenInstanceError):
        kind.required = False  # type: ignore[misc]


def test_every_type_reads_with_its_settings() -> None:
    definition = build(
        step(
            field("a", "short_text", min_length=2, max_length=20, help=en("Help")),
            field("b", "long_text", max_length=5000),
            field("c", "single_choice"),
            field("d", "multiple_choice", min_choices=1, max_choices=2),
            field("e", "yes_no", identity=True),
            field("f", "date"),
            field("g", "date_range"),
            field("h", "number", min=-1.5, max=10, integer=False),
            field("i", "file", max_files=3, max_size=1000),
            field("j", "acknowledgement", required=True),
            field("k", "static_text", label=en("Heading")),
            field(
                "l",
                "group",
                min_repeats=1,
                max_repeats=4,
                fields=[
                    field("l_name", "short_text", required=True),
                    field("l_kind", "single_choice"),
                ],
            ),
        )
    )
    by_id = {f.id: f for f in definition.fields()}
    assert [f.type.value for f in definition.steps[0].fields] == [t.value for t in FieldType]
    assert (by_id["a"].min_length, by_id["a"].max_length) == (2, 20)
    assert by_id["a"].help == Label.of(en="Help")
    assert (by_id["d"].min_choices, by_id["d"].max_choices) == (1, 2)
    assert by_id["e"].identity is True
    assert (by_id["h"].minimum, by_id["h"].maximum) == (Decimal("-1.5"), Decimal(10))
    assert (by_id["i"].max_files, by_id["i"].max_size) == (3, 1000)
    assert by_id["k"].text == Label.of(en="About k")
    assert [f.id for f in by_id["l"].fields] == ["l_name", "l_kind"]
    assert (by_id["l"].min_repeats, by_id["l"].max_repeats) == (1, 4)
    assert "l_name" in by_id  # a group's own fields are fields of the definition


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("title"), '(top): missing "title".'),
        (lambda d: d.update(version=2), "version: unsupported version (only 1)."),
        (lambda d: d.update(version="1"), "version: unsupported version (only 1)."),
        (lambda d: d.update(extra=1), '(top): unknown key "extra".'),
        (lambda d: d.update(steps=[]), "steps: too few (at least 1)."),
        (
            lambda d: d["steps"][0]["fields"].append(field("a", "yes_no")),
            'steps[0].fields[2].id: duplicate id "a".',
        ),
        (
            lambda d: d["steps"][0]["fields"][1].update(options=options("x", "y", "x")),
            'steps[0].fields[1].options: duplicate id "x".',
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(id="Bad-Id"),
            "steps[0].fields[0].id: an id is 1 to 40 characters: a-z, 0-9 and _.",
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(id="a" * 41),
            "steps[0].fields[0].id: an id is 1 to 40 characters: a-z, 0-9 and _.",
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(id="all"),
            'steps[0].fields[0].id: "all" is a reserved word.',
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(type="essay"),
            'steps[0].fields[0].type: unknown field type "essay".',
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(options=options("x")),
            'steps[0].fields[0]: unknown key "options".',
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(max_length=0),
            "steps[0].fields[0].max_length: expected a whole number from 1 to 1000.",
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(min_length=5, max_length=4),
            "steps[0].fields[0]: the minimum is larger than the maximum.",
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(required="yes"),
            "steps[0].fields[0].required: expected true or false.",
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(label={}),
            "steps[0].fields[0].label: a text needs at least one language.",
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(label={"english": "x"}),
            'steps[0].fields[0].label: "english" is not a language tag.',
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(label={"en": " \u0007 "}),
            "steps[0].fields[0].label.en: the text is empty.",
        ),
        (
            lambda d: d["steps"][0]["fields"][0].update(label="Question"),
            "steps[0].fields[0].label: expected an object.",
        ),
        (
            lambda d: d["steps"][0]["fields"][1].update(options=[]),
            "steps[0].fields[1].options: too few (at least 1).",
        ),
        (
            lambda d: d["steps"][0]["fields"][1]["options"][0].update(route={}),
            "steps[0].fields[1].options[0].route: a route names either a channel or recipients.",
        ),
        (
            lambda d: d.update(rules=[{"if": {"b": "x"}}]),
            "rules[0]: a rule needs either a route or a stop.",
        ),
    ],
)
def test_an_invalid_definition_names_the_path_of_its_problem(mutate: Any, expected: str) -> None:
    definition = data(
        step(field("a", "short_text"), field("b", "single_choice", options=options("x", "y")))
    )
    parse_definition(definition)  # positive control: valid before the change
    mutate(definition)
    assert refused(definition) == expected


@pytest.mark.parametrize(
    ("group_field", "expected"),
    [
        (
            field("g_file", "file"),
            "steps[0].fields[0].fields[0]: a group cannot hold fields of type file.",
        ),
        (
            field("g_g", "group", fields=[field("x", "yes_no")]),
            "steps[0].fields[0].fields[0]: a group cannot hold fields of type group.",
        ),
        (
            field("g_ack", "acknowledgement"),
            "steps[0].fields[0].fields[0]: a group cannot hold fields of type acknowledgement.",
        ),
        (
            field("g_c", "yes_no", show_if={"field": "a", "equals": "yes"}),
            "steps[0].fields[0].fields[0].show_if: conditions cannot be used inside a group.",
        ),
        (
            field("g_i", "short_text", identity=True),
            'steps[0].fields[0].fields[0]: unknown key "identity".',
        ),
        (
            field("g_r", "single_choice", options=options("x", x={"route": {"channel": "other"}})),
            "steps[0].fields[0].fields[0].options[0]: conditions cannot be used inside a group.",
        ),
    ],
)
def test_a_group_holds_simple_answers_only(group_field: dict[str, Any], expected: str) -> None:
    assert refused(data(step(field("g", "group", fields=[group_field])))) == expected


@pytest.mark.parametrize("kind", ["file", "acknowledgement", "static_text", "group"])
def test_identity_is_refused_where_it_means_nothing(kind: str) -> None:
    extra = {"fields": [field("x", "yes_no")]} if kind == "group" else {}
    message = refused(data(step(field("f", kind, identity=True, **extra))))
    assert message == 'steps[0].fields[0]: unknown key "identity".'


def test_the_error_is_an_invalid_input_with_a_translatable_message() -> None:
    with pytest.raises(QuestionnaireError) as caught:
        parse_definition(data(step(field("a", "yes_no"), field("a", "date"))))
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert isinstance(error, MailslotError)
    assert error.path == "steps[0].fields[1].id"
    assert error.message == '%(path)s: duplicate id "%(id)s".'
    assert translate("en", error.message, error.params) == str(error)
    assert "steps[0].fields[1].id" in translate("ko", error.message, error.params)


def test_load_definition_is_strict_json() -> None:
    for text in (
        '{"version": 1, "version": 1}',
        '{"version": NaN}',
        "[" * 100_000,
        b"\xff\xfe",
        "not json",
    ):
        with pytest.raises(QuestionnaireError):
            load_definition(text)
    with pytest.raises(QuestionnaireError, match="duplicate key"):
        load_definition('{"version": 1, "version": 1}')


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda: data(*[step(field(f"f{i}", "yes_no")) for i in range(limits.MAX_STEPS + 1)]),
            "steps: too many (at most 30).",
        ),
        (
            lambda: data(
                *[step(*[field(f"f{s}_{i}", "yes_no") for i in range(100)]) for s in range(4)]
            ),
            "steps[3].fields[0]: too many fields in the questionnaire (at most 300).",
        ),
        (
            lambda: data(
                step(field("c", "single_choice", options=options(*[f"o{i}" for i in range(201)])))
            ),
            "steps[0].fields[0].options: too many (at most 200).",
        ),
        (
            lambda: data(
                step(
                    *[
                        field(
                            f"c{n}",
                            "single_choice",
                            options=options(*[f"o{i}" for i in range(200)]),
                        )
                        for n in range(11)
                    ]
                )
            ),
            "steps[0].fields[10].options: too many options in the questionnaire (at most 2000).",
        ),
        (
            lambda: data(step(field("a", "yes_no", label={"en": "x" * 1001}))),
            "steps[0].fields[0].label.en: too long (at most 1000 characters).",
        ),
        (
            lambda: data(
                step(
                    field(
                        "a",
                        "yes_no",
                        label={f"x{chr(97 + i // 26)}{chr(97 + i % 26)}": "x" for i in range(41)},
                    )
                )
            ),
            "steps[0].fields[0].label: too many languages (at most 40).",
        ),
        (
            lambda: data(
                *[
                    step(
                        *[
                            field(f"s{s}f{i}", "static_text", text={"en": "x" * 10000})
                            for i in range(10)
                        ]
                    )
                    for s in range(6)
                ]
            ),
            "steps[5].fields[2].text.en: the texts are too long together (at most 524288 "
            "characters).",
        ),
    ],
)
def test_limits_keep_a_hostile_definition_small(make: Any, expected: str) -> None:
    assert refused(make()) == expected


def test_a_definition_over_the_byte_limit_is_refused_before_parsing() -> None:
    text = json.dumps(data(step(field("a", "yes_no")))) + " " * limits.MAX_DEFINITION_BYTES
    with pytest.raises(QuestionnaireError, match="too large"):
        load_definition(text)


@pytest.mark.parametrize(
    "bound",
    [1e16, -1e16, float("nan"), float("inf"), Decimal("0.1234567890123456"), True, "1"],
)
def test_number_bounds_must_be_plain_numbers(bound: object) -> None:
    refused(data(step(field("n", "number", min=bound))))


def test_number_bounds_keep_their_value() -> None:
    definition = build(step(field("n", "number", min=0.1, max=Decimal("12.50"))))
    number = definition.steps[0].fields[0]
    assert (number.minimum, number.maximum) == (Decimal("0.1"), Decimal("12.5"))


def test_multiple_choice_bounds_are_within_the_options() -> None:
    assert refused(data(step(field("m", "multiple_choice", max_choices=4)))) == (
        "steps[0].fields[0].max_choices: expected a whole number from 1 to 3."
    )


def test_the_canonical_form_reads_back_and_hashes_the_same_however_it_was_written() -> None:
    definition = load_definition(ISSUE_EXAMPLE)
    assert parse_definition(to_data(definition)) == definition
    written_out = json.loads(ISSUE_EXAMPLE)
    written_out["steps"][0]["fields"][1]["show_if"] = {"field": "kind", "equals": "fraud"}
    reordered = json.dumps(dict(reversed(list(written_out.items()))), indent=4)
    other = load_definition(reordered)
    assert other == definition
    assert definition_hash(other) == definition_hash(definition)
    assert definition_hash(definition).startswith("sha256:")
    assert len(definition_hash(definition)) == len("sha256:") + 64
    assert json.loads(definition_json(definition)) == to_data(definition)


def test_any_visible_change_makes_a_new_version() -> None:
    original = json.loads(ISSUE_EXAMPLE)
    base = definition_hash(parse_definition(original))
    changes = [
        lambda d: d["steps"][0]["fields"][0]["label"].update(ko="어떤 종류의 부정행위입니까?"),
        lambda d: d["steps"][0]["fields"][0]["options"].reverse(),
        lambda d: d["steps"][0]["fields"][0].update(required=False),
        lambda d: d["steps"][0]["fields"][1].pop("show_if"),
        lambda d: d["title"].update(en="Report!"),
    ]
    hashes = set()
    for change in changes:
        changed = copy.deepcopy(original)
        change(changed)
        hashes.add(definition_hash(parse_definition(changed)))
    assert base not in hashes
    assert len(hashes) == len(changes)


def test_labels_fall_back_to_the_default_language_then_english_then_the_first() -> None:
    label = Label.of(en="Fraud", ko="사기", de="Betrug")
    assert label.text("ko") == "사기"
    assert label.text("fr", "de") == "Betrug"
    assert label.text("fr", "ja") == "Fraud"
    assert Label.of(zh="欺诈", de="Betrug").text("fr", "ja") == "Betrug"  # first by tag
    definition = build(step(field("a", "yes_no", label={"ko": "질문", "zh-Hans": "问题"})))
    assert definition.steps[0].fields[0].label == Label.of(ko="질문", **{"zh-Hans": "问题"})
    assert definition.steps[0].fields[0].label is not None
    assert definition.steps[0].fields[0].label.text("en", "zh-Hans") == "问题"
    # A locale identifier (zh_Hans) finds the label of its BCP 47 tag (zh-Hans).
    assert definition.steps[0].fields[0].label.text("zh_Hans") == "问题"


def test_control_characters_are_dropped_from_texts() -> None:
    definition = build(step(field("a", "yes_no", label=en("Line\u0000one\nline two\u001b"))))
    assert definition.steps[0].fields[0].label == Label.of(en="Lineone\nline two")


def test_definition_field_lookup() -> None:
    definition: Definition = load_definition(ISSUE_EXAMPLE)
    assert definition.field("detail") is definition.steps[0].fields[1]
    assert definition.field("nothing") is None
