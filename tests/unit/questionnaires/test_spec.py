"""docs/spec/questionnaire.md and its JSON Schema agree with the validator: every example in
the spec and every shipped template passes both; what the schema refuses, the validator
refuses too; and the limits the schema states are the validator's."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import mailslot
from mailslot.questionnaires import (
    QuestionnaireError,
    limits,
    load_definition,
    load_template,
    parse_definition,
    template_names,
    to_data,
)
from mailslot.questionnaires.templates import template_data
from tests.unit.questionnaires.builders import data, field, step

pytestmark = pytest.mark.no_database

ROOT = Path(mailslot.__file__).resolve().parents[2]
LOCALE = Path(mailslot.__file__).resolve().parent / "locale"
SPEC = ROOT / "docs" / "spec" / "questionnaire.md"
SCHEMA = json.loads((ROOT / "docs" / "spec" / "questionnaire.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def spec_examples() -> list[str]:
    return re.findall(r"```json questionnaire\n(.*?)```", SPEC.read_text(), re.DOTALL)


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_spec_has_examples() -> None:
    assert len(spec_examples()) >= 2


@pytest.mark.parametrize("example", spec_examples())
def test_every_example_in_the_spec_is_valid(example: str) -> None:
    VALIDATOR.validate(json.loads(example))
    load_definition(example)


@pytest.mark.parametrize("name", template_names())
def test_every_template_is_valid(name: str) -> None:
    VALIDATOR.validate(template_data(name))
    definition = load_template(name)
    VALIDATOR.validate(to_data(definition))  # with every language filled in


BASE = data(
    step(
        field("kind", "single_choice"),
        field("text", "short_text", max_length=10),
        field("group", "group", fields=[field("name", "short_text")]),
    ),
    step(field("more", "yes_no"), show_if={"kind": "a"}),
)


def changed(change: Any) -> dict[str, Any]:
    result = copy.deepcopy(BASE)
    change(result)
    return result


SCHEMA_REFUSES = {
    "version 2": lambda d: d.update(version=2),
    "no title": lambda d: d.pop("title"),
    "unknown top key": lambda d: d.update(colour="red"),
    "no steps": lambda d: d.update(steps=[]),
    "too many steps": lambda d: d.update(steps=d["steps"] * 16),
    "step without fields": lambda d: d["steps"][0].update(fields=[]),
    "unknown step key": lambda d: d["steps"][0].update(id="one"),
    "unknown type": lambda d: d["steps"][0]["fields"][0].update(type="slider"),
    "bad id": lambda d: d["steps"][0]["fields"][1].update(id="Text"),
    "reserved id": lambda d: d["steps"][0]["fields"][1].update(id="not"),
    "no label": lambda d: d["steps"][0]["fields"][1].pop("label"),
    "empty label": lambda d: d["steps"][0]["fields"][1].update(label={}),
    "blank text": lambda d: d["steps"][0]["fields"][1].update(label={"en": "   "}),
    "bad language": lambda d: d["steps"][0]["fields"][1].update(label={"EN": "x"}),
    "label too long": lambda d: d["steps"][0]["fields"][1].update(label={"en": "x" * 1001}),
    "key of another type": lambda d: d["steps"][0]["fields"][1].update(options=[]),
    "max_length zero": lambda d: d["steps"][0]["fields"][1].update(max_length=0),
    "max_length too big": lambda d: d["steps"][0]["fields"][1].update(max_length=1001),
    "required not bool": lambda d: d["steps"][0]["fields"][1].update(required=1),
    "no options": lambda d: d["steps"][0]["fields"][0].pop("options"),
    "empty options": lambda d: d["steps"][0]["fields"][0].update(options=[]),
    "option without label": lambda d: d["steps"][0]["fields"][0]["options"][0].pop("label"),
    "bad route": lambda d: d["steps"][0]["fields"][0]["options"][0].update(
        route={"channel": "x", "recipients": ["y"]}
    ),
    "empty recipients": lambda d: d["steps"][0]["fields"][0]["options"][0].update(
        route={"recipients": []}
    ),
    "group in group": lambda d: d["steps"][0]["fields"][2]["fields"].append(
        field("inner", "group", fields=[field("x", "yes_no")])
    ),
    "file in group": lambda d: d["steps"][0]["fields"][2]["fields"].append(field("f", "file")),
    "condition in group": lambda d: d["steps"][0]["fields"][2]["fields"][0].update(
        show_if={"kind": "a"}
    ),
    "identity in group": lambda d: d["steps"][0]["fields"][2]["fields"][0].update(identity=True),
    "route in group": lambda d: d["steps"][0]["fields"][2]["fields"].append(
        field(
            "c", "single_choice", options=[{"id": "a", "label": {"en": "A"}, "stop": {"en": "S"}}]
        )
    ),
    "identity on a file": lambda d: d["steps"][0]["fields"].append(
        field("f", "file", identity=True)
    ),
    "required static text": lambda d: d["steps"][0]["fields"].append(
        field("s", "static_text", required=True)
    ),
    "static text without text": lambda d: d["steps"][0]["fields"].append(
        {"id": "s", "type": "static_text"}
    ),
    "repeats over 50": lambda d: d["steps"][0]["fields"][2].update(max_repeats=51),
    "too many files": lambda d: d["steps"][0]["fields"].append(field("f", "file", max_files=21)),
    "number bound too big": lambda d: d["steps"][0]["fields"].append(
        field("n", "number", max=1e16)
    ),
    "empty condition": lambda d: d["steps"][1].update(show_if={}),
    "condition with list": lambda d: d["steps"][1].update(show_if={"kind": ["a"]}),
    "all of nothing": lambda d: d["steps"][1].update(show_if={"all": []}),
    "equals and in": lambda d: d["steps"][1].update(
        show_if={"field": "kind", "equals": "a", "in": ["b"]}
    ),
    "rule without action": lambda d: d.update(rules=[{"if": {"kind": "a"}}]),
    "rule with both": lambda d: d.update(
        rules=[{"if": {"kind": "a"}, "stop": {"en": "S"}, "route": {"channel": "c"}}]
    ),
}


@pytest.mark.parametrize("name", sorted(SCHEMA_REFUSES))
def test_what_the_schema_refuses_the_validator_refuses(name: str) -> None:
    VALIDATOR.validate(BASE)  # positive controls: both accept the base
    parse_definition(BASE)
    bad = changed(SCHEMA_REFUSES[name])
    assert not VALIDATOR.is_valid(bad)
    with pytest.raises(QuestionnaireError):
        parse_definition(bad)


def test_the_schema_states_the_validators_limits() -> None:
    definitions = SCHEMA["$defs"]
    assert SCHEMA["properties"]["steps"]["maxItems"] == limits.MAX_STEPS
    assert SCHEMA["properties"]["rules"]["maxItems"] == limits.MAX_RULES
    assert definitions["step"]["properties"]["fields"]["maxItems"] == limits.MAX_FIELDS
    group = definitions["type_group"]["properties"]
    assert group["fields"]["maxItems"] == limits.MAX_GROUP_FIELDS
    assert group["max_repeats"]["maximum"] == limits.MAX_REPEATS
    assert definitions["type_single_choice"]["properties"]["options"]["maxItems"] == (
        limits.MAX_OPTIONS
    )
    assert definitions["type_file"]["properties"]["max_files"]["maximum"] == limits.MAX_FILES
    assert definitions["type_file"]["properties"]["max_size"]["maximum"] == limits.MAX_FILE_SIZE
    for name, most in (
        ("label", limits.MAX_LABEL_CHARS),
        ("help", limits.MAX_HELP_CHARS),
        ("staticText", limits.MAX_STATIC_CHARS),
    ):
        assert definitions[name]["additionalProperties"]["maxLength"] == most
        assert definitions[name]["maxProperties"] == limits.MAX_LANGUAGES
    assert definitions["label"]["propertyNames"]["pattern"] == (f"^{limits.LANGUAGE_TAG.pattern}$")
    short = definitions["type_short_text"]["properties"]["max_length"]["maximum"]
    long = definitions["type_long_text"]["properties"]["max_length"]["maximum"]
    assert (short, long) == (limits.SHORT_TEXT_MAX, limits.LONG_TEXT_MAX)
    number = definitions["type_number"]["properties"]["max"]
    assert number["maximum"] == limits.MAX_NUMBER
    assert definitions["name"]["maxLength"] == limits.MAX_NAME_CHARS
