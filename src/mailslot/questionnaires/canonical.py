"""A definition written back as JSON, and its version hash.

``to_data`` writes what ``parse_definition`` reads, so that ``parse(to_data(d)) == d``; keys
left at their defaults are left out and conditions are written out in full (no shorthand).
``definition_json`` is that data as canonical JSON (sorted keys, no spaces, UTF-8), and
``definition_hash`` the SHA-256 of it: two files that differ only in layout, key order or
condition shorthand have the same hash, and any change people could see gives a new one.
Answers record the hash of the version they were given against (``sealed.py``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final

from mailslot import crypto
from mailslot.questionnaires import conditions
from mailslot.questionnaires.model import Definition, Field, Label, Option, Route, Rule, Step

HASH_PREFIX: Final = "sha256:"


def to_data(definition: Definition) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "title": _label(definition.title),
        "steps": [_step(step) for step in definition.steps],
    }
    if definition.description is not None:
        data["description"] = _label(definition.description)
    if definition.rules:
        data["rules"] = [_rule(rule) for rule in definition.rules]
    return data


def canonical_json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def definition_json(definition: Definition) -> bytes:
    return canonical_json(to_data(definition))


def definition_hash(definition: Definition) -> str:
    """``sha256:`` and the hex SHA-256 of the canonical JSON: the version's identity."""
    return HASH_PREFIX + crypto.content_sha256(definition_json(definition))


def _label(label: Label) -> dict[str, str]:
    return dict(label.texts)


def _route(route: Route) -> dict[str, Any]:
    if route.channel is not None:
        return {"channel": route.channel}
    return {"recipients": list(route.recipients)}


def _number(value: Decimal) -> int | float:
    # parse.py keeps numbers that a float carries exactly to JSON and back.
    return int(value) if value == value.to_integral_value() else float(value)


def _step(step: Step) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": _label(step.title),
        "fields": [_field(field) for field in step.fields],
    }
    if step.description is not None:
        data["description"] = _label(step.description)
    if step.show_if is not None:
        data["show_if"] = conditions.to_data(step.show_if)
    return data


def _option(option: Option) -> dict[str, Any]:
    data: dict[str, Any] = {"id": option.id, "label": _label(option.label)}
    if option.route is not None:
        data["route"] = _route(option.route)
    if option.stop is not None:
        data["stop"] = _label(option.stop)
    return data


def _field(field: Field) -> dict[str, Any]:
    data: dict[str, Any] = {"id": field.id, "type": field.type.value}
    labels = {"label": field.label, "help": field.help, "text": field.text}
    data |= {key: _label(value) for key, value in labels.items() if value is not None}
    flags = {
        "required": field.required,
        "identity": field.identity,
        "integer": field.integer,
        "statistics": field.statistics,
    }
    data |= {key: True for key, value in flags.items() if value}
    if field.show_if is not None:
        data["show_if"] = conditions.to_data(field.show_if)
    if field.options:
        data["options"] = [_option(option) for option in field.options]
    if field.fields:
        data["fields"] = [_field(child) for child in field.fields]
    numbers = {
        "min_length": field.min_length,
        "max_length": field.max_length,
        "min_choices": field.min_choices,
        "max_choices": field.max_choices,
        "max_files": field.max_files,
        "max_size": field.max_size,
        "min_repeats": field.min_repeats,
        "max_repeats": field.max_repeats,
    }
    data |= {key: value for key, value in numbers.items() if value is not None}
    bounds = {"min": field.minimum, "max": field.maximum}
    data |= {key: _number(value) for key, value in bounds.items() if value is not None}
    return data


def _rule(rule: Rule) -> dict[str, Any]:
    data: dict[str, Any] = {"if": conditions.to_data(rule.condition)}
    if rule.route is not None:
        data["route"] = _route(rule.route)
    if rule.stop is not None:
        data["stop"] = _label(rule.stop)
    return data
