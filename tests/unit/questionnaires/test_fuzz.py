"""Hypothesis on definitions and answers.

- Anything at all given as a definition (random JSON, random text or bytes, a valid
  definition with one part replaced) is either read or refused with ``QuestionnaireError``,
  never another exception.
- Definitions drawn from a strategy of valid ones read back from their canonical form, pass
  the JSON Schema, and accept a drawn set of valid answers, step by step as a source would
  give them; the answers seal, read back equal, and render in every language.
- Any form data for any step of them gives values and errors, never an exception.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import json
import string
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mailslot
from mailslot.questionnaires import (
    Answers,
    AttachedFile,
    Definition,
    QuestionnaireError,
    QuestionnaireRef,
    collect,
    definition_hash,
    load_definition,
    parse_definition,
    read_document,
    render_text,
    route,
    seal_form,
    stop_message,
    to_data,
    validate_step,
)
from mailslot.questionnaires.logic import field_shown, step_shown
from mailslot.questionnaires.model import Field, FieldType

pytestmark = pytest.mark.no_database

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SCHEMA = json.loads(
    (
        Path(mailslot.__file__).resolve().parents[2] / "docs/spec/questionnaire.schema.json"
    ).read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "type",
                    "label",
                    "en",
                    "steps",
                    "fields",
                    "options",
                    "version",
                    "title",
                    "show_if",
                    "all",
                    "not",
                    "field",
                    "in",
                    "equals",
                    "route",
                    "stop",
                    "rules",
                    "if",
                    "min",
                    "max",
                    "x",
                ]
            )
            | st.text(max_size=5),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)

words = st.text(alphabet=string.ascii_letters + "가나다 ", min_size=1, max_size=12).filter(
    lambda s: s.strip() != ""
)
labels = st.fixed_dictionaries({"en": words}, optional={"ko": words})
TESTABLE = ("single_choice", "multiple_choice", "yes_no")
SIMPLE = (
    "short_text",
    "long_text",
    "single_choice",
    "multiple_choice",
    "yes_no",
    "date",
    "date_range",
    "number",
)


@st.composite
def conditions(draw: st.DrawFn, testable: list[dict[str, Any]], depth: int = 0) -> Any:
    target = draw(st.sampled_from(testable))
    ids = [o["id"] for o in target.get("options", [])] or ["yes", "no"]
    leaf = draw(st.sampled_from(["short", "equals", "in"]))
    if depth < 2 and draw(st.booleans()):
        kind = draw(st.sampled_from(["all", "any", "not"]))
        if kind == "not":
            return {"not": draw(conditions(testable, depth + 1))}
        return {kind: draw(st.lists(conditions(testable, depth + 1), min_size=1, max_size=3))}
    if leaf == "short":
        return {target["id"]: draw(st.sampled_from(ids))}
    if leaf == "equals":
        return {"field": target["id"], "equals": draw(st.sampled_from(ids))}
    return {
        "field": target["id"],
        "in": draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3)),
    }


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"f{self.n}"


@st.composite
def fields(draw: st.DrawFn, ids: Ids, kinds: tuple[str, ...], top: bool) -> dict[str, Any]:
    kind = draw(st.sampled_from(kinds))
    item: dict[str, Any] = {"id": ids.next(), "type": kind}
    if kind == "static_text":
        item["text"] = draw(labels)
        return item
    item["label"] = draw(labels)
    if draw(st.booleans()):
        item["help"] = draw(labels)
    if kind not in ("group",) and draw(st.booleans()):
        item["required"] = True
    if kind in ("short_text", "long_text"):
        low = draw(st.integers(0, 5))
        if draw(st.booleans()):
            item["min_length"] = low
        if draw(st.booleans()):
            item["max_length"] = draw(st.integers(max(low, 1), 40))
    elif kind in ("single_choice", "multiple_choice"):
        count = draw(st.integers(1, 4))
        item["options"] = [{"id": f"o{i}", "label": draw(labels)} for i in range(count)]
        if top:
            for option in item["options"]:
                if draw(st.integers(0, 4)) == 0:
                    option["route"] = draw(
                        st.sampled_from(
                            [{"channel": "c1"}, {"channel": "c2"}, {"recipients": ["Kim", "Lee"]}]
                        )
                    )
                if draw(st.integers(0, 8)) == 0:
                    option["stop"] = draw(labels)
        if kind == "multiple_choice" and draw(st.booleans()):
            low = draw(st.integers(0, count))
            item["min_choices"] = low
            item["max_choices"] = draw(st.integers(max(low, 1), count))
    elif kind == "number":
        low = draw(st.integers(-100, 100))
        if draw(st.booleans()):
            item["min"] = low
        if draw(st.booleans()):
            item["max"] = draw(st.integers(low, 200))
        if draw(st.booleans()):
            item["integer"] = True
    elif kind == "file":
        item["max_files"] = draw(st.integers(1, 3))
        if draw(st.booleans()):
            item["max_size"] = draw(st.integers(1, 10_000))
    elif kind == "group":
        children = draw(st.lists(fields(ids, SIMPLE, top=False), min_size=1, max_size=3))
        item["fields"] = children
        low = draw(st.integers(0, 2))
        item["min_repeats"] = low
        item["max_repeats"] = draw(st.integers(max(low, 1), 3))
    if top and kind in SIMPLE and draw(st.integers(0, 6)) == 0:
        item["identity"] = True
        for option in item.get("options", []):
            option.pop("route", None)
            option.pop("stop", None)
    return item


@st.composite
def definitions(draw: st.DrawFn) -> dict[str, Any]:
    ids = Ids()
    testable: list[dict[str, Any]] = []
    steps = []
    all_kinds = tuple(t.value for t in FieldType)
    for _ in range(draw(st.integers(1, 4))):
        step: dict[str, Any] = {"title": draw(labels), "fields": []}
        if testable and draw(st.booleans()):
            step["show_if"] = draw(conditions(list(testable)))
        for _ in range(draw(st.integers(1, 4))):
            item = draw(fields(ids, all_kinds, top=True))
            if testable and draw(st.integers(0, 2)) == 0:
                item["show_if"] = draw(conditions(list(testable)))
            step["fields"].append(item)
            if item["type"] in TESTABLE and not item.get("identity"):
                testable.append(item)
        steps.append(step)
    result: dict[str, Any] = {"version": 1, "title": draw(labels), "steps": steps}
    if testable and draw(st.booleans()):
        result["rules"] = [
            {
                "if": draw(conditions(testable)),
                **draw(st.sampled_from([{"route": {"channel": "r"}}, {"stop": {"en": "Stop"}}])),
            }
        ]
    return result


@st.composite
def raw_value(draw: st.DrawFn, item: Field, key: str) -> dict[str, list[str]]:
    """Form data that answers ``item`` validly under ``key``."""
    kind = item.type
    optional = not item.required
    skippable = kind not in (FieldType.MULTIPLE_CHOICE, FieldType.GROUP)
    if kind is FieldType.STATIC_TEXT or (optional and skippable and draw(st.integers(0, 3)) == 0):
        return {}
    if kind in (FieldType.SHORT_TEXT, FieldType.LONG_TEXT):
        low = max(item.min_length or 0, 1)
        high = item.max_length or 40
        return {
            key: [
                draw(
                    st.text(
                        alphabet=string.ascii_letters,
                        min_size=low,
                        max_size=max(low, min(high, 40)),
                    )
                )
            ]
        }
    if kind is FieldType.SINGLE_CHOICE:
        return {key: [draw(st.sampled_from(item.option_ids))]}
    if kind is FieldType.MULTIPLE_CHOICE:
        low = max(item.min_choices or 0, 1 if item.required else 0)
        high = item.max_choices if item.max_choices is not None else len(item.options)
        chosen = draw(
            st.lists(st.sampled_from(item.option_ids), unique=True, min_size=low, max_size=high)
        )
        return {key: chosen}
    if kind is FieldType.YES_NO:
        return {key: [draw(st.sampled_from(["yes", "no"]))]}
    if kind is FieldType.ACKNOWLEDGEMENT:
        return {key: ["yes"]}
    dates = st.dates(datetime.date(1900, 1, 1), datetime.date(2100, 12, 31))
    if kind is FieldType.DATE:
        return {key: [draw(dates).isoformat()]}
    if kind is FieldType.DATE_RANGE:
        first, last = sorted([draw(dates), draw(dates)])
        return {f"{key}.start": [first.isoformat()], f"{key}.end": [last.isoformat()]}
    if kind is FieldType.NUMBER:
        low = int(item.minimum) if item.minimum is not None else -1000
        high = int(item.maximum) if item.maximum is not None else 1000
        number = draw(st.integers(low, high))
        tail = "" if item.integer or number == high else draw(st.sampled_from(["", ".5", ".25"]))
        return {key: [f"{number}{tail}" if number >= 0 or not tail else f"{number + 1}{tail}"]}
    if kind is FieldType.GROUP:
        raw: dict[str, list[str]] = {}
        low = item.min_repeats or 0
        for row in range(draw(st.integers(low, item.max_repeats or 3))):
            entry: dict[str, list[str]] = {}
            for child in item.fields:
                entry |= draw(raw_value(child, f"{key}[{row}].{child.id}"))
            if not any(value.strip() for values in entry.values() for value in values):
                # A blank entry is not an entry: answer its first question.
                first = item.fields[0]
                entry |= draw(raw_value(replace(first, required=True), f"{key}[{row}].{first.id}"))
            raw |= entry
        return raw
    return {}


def files_for(item: Field) -> list[AttachedFile]:
    size = item.max_size or 100
    return [AttachedFile(f"file{i}.pdf", size, f"ref{i}") for i in range(item.max_files or 1)]


@st.composite
def answered(draw: st.DrawFn, definition: Definition) -> tuple[dict[int, Any], dict[str, Any]]:
    """Form data for every step shown, as a source would give it, valid throughout."""
    steps_raw: dict[int, dict[str, list[str]]] = {}
    files: dict[str, list[AttachedFile]] = {}
    answers = Answers()
    for index, step in enumerate(definition.steps):
        if not step_shown(step, answers):
            continue
        raw: dict[str, list[str]] = {}
        for item in step.fields:
            so_far, _ = validate_step(definition, index, raw, earlier=answers, files=files)
            if not field_shown(item, answers.merged(so_far.values)):
                continue
            if item.type is FieldType.FILE:
                if item.required or draw(st.booleans()):
                    files[item.id] = files_for(item)
                continue
            raw |= draw(raw_value(item, item.id))
        read, errors = validate_step(definition, index, raw, earlier=answers, files=files)
        assert errors == {}, (raw, errors)
        answers = answers.merged(read.values)
        steps_raw[index] = raw
    return steps_raw, files


@FUZZ
@given(json_values)
def test_any_json_is_read_or_refused_with_a_questionnaire_error(value: object) -> None:
    with contextlib.suppress(QuestionnaireError):
        parse_definition(value)


@FUZZ
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_any_text_is_read_or_refused_with_a_questionnaire_error(text: str | bytes) -> None:
    with contextlib.suppress(QuestionnaireError):
        load_definition(text)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found += paths(inner, (*prefix, i))
    return found


@FUZZ
@given(definitions(), st.data())
def test_a_valid_definition_with_one_part_changed_is_read_or_refused(
    base: dict[str, Any], data: st.DataObject
) -> None:
    changed = copy.deepcopy(base)
    path = data.draw(st.sampled_from(paths(changed)[1:]))
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    try:
        definition = parse_definition(changed)
    except QuestionnaireError:
        return
    assert parse_definition(to_data(definition)) == definition


@FUZZ
@given(definitions(), st.data())
def test_valid_definitions_accept_valid_answers_and_seal_them(
    data_: dict[str, Any], data: st.DataObject
) -> None:
    definition = parse_definition(data_)
    assert parse_definition(to_data(definition)) == definition
    assert parse_definition(json.loads(json.dumps(to_data(definition)))) == definition
    VALIDATOR.validate(data_)
    VALIDATOR.validate(to_data(definition))

    steps_raw, files = data.draw(answered(definition))
    result = collect(definition, steps_raw, files)
    assert result.valid, result.errors
    ref = QuestionnaireRef("q", 1, definition_hash(definition))
    sealed = seal_form(ref, definition, result.answers)
    back = read_document(definition, sealed.answers).answers
    if sealed.identity is not None:
        back = back.merged(read_document(definition, sealed.identity).answers)
    assert back == result.answers
    for locale in ("en", "ko"):
        assert render_text(definition, back, locale).startswith(definition.title.text(locale))
        stop_message(definition, back, locale)
    route(definition, back)


form_values = st.lists(
    st.text(max_size=8) | st.sampled_from(["yes", "no", "o0", "2024-01-01", "1.5", ""]), max_size=3
)


@FUZZ
@given(definitions(), st.data())
def test_any_form_data_gives_values_and_errors(data_: dict[str, Any], data: st.DataObject) -> None:
    definition = parse_definition(data_)
    keys = [f.id for f in definition.fields()]
    keys += [f"{k}.start" for k in keys] + [f"{k}[0].{c}" for k in keys for c in keys[:3]]
    raw = data.draw(
        st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), form_values, max_size=8)
    )
    index = data.draw(st.integers(0, len(definition.steps) - 1))
    answers, errors = validate_step(definition, index, raw)
    assert set(answers.raw) <= set(raw)
    assert all(error.text("ko") for error in errors.values())
