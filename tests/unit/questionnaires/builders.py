"""Small builders of definition JSON for the questionnaire tests."""

from __future__ import annotations

from typing import Any

from mailslot.questionnaires import Definition, parse_definition


def en(text: str) -> dict[str, str]:
    return {"en": text}


def field(field_id: str, kind: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": field_id, "type": kind}
    if kind == "static_text":
        data["text"] = en(f"About {field_id}")
    else:
        data["label"] = en(f"Question {field_id}")
    if kind in ("single_choice", "multiple_choice") and "options" not in extra:
        extra["options"] = options("a", "b", "c")
    return data | extra


def options(*ids: str, **settings: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": i, "label": en(f"Option {i}")} | settings.get(i, {}) for i in ids]


def step(*fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"title": en("A step"), "fields": list(fields)} | extra


def data(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"version": 1, "title": en("A questionnaire"), "steps": list(steps)} | extra


def build(*steps: dict[str, Any], **extra: Any) -> Definition:
    return parse_definition(data(*steps, **extra))
