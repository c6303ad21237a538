"""Building a questionnaire one edit at a time, for the admins' builder page.

Pure functions: each takes a :class:`Definition` and an edit and returns a new definition,
read again in full by :func:`parse.parse_definition`, so an edit that would make a broken
form raises the parser's :class:`QuestionnaireError` (its ``path`` names the place; see
:func:`control`) and the definition before it stays as it was. The page keeps no state: the
draft travels as JSON in its forms (protected by their CSRF token) and is read in full again
on every post (:func:`read_draft`). The forms that set a field's, a step's or the title's
settings (an option's route and stop, a file field's size in MiB among them) are in
``builder_forms.py``, the questionnaire's own rules in ``builder_rules.py`` (both
re-exported here).
"""

from __future__ import annotations

import json
from typing import Any, Final

from mailslot.i18n import N_, translate
from mailslot.questionnaires.builder_forms import (
    BOUNDS,
    FLAGS,
    MIB,
    OPERATORS,
    ConditionForm,
    FieldForm,
    OptionForm,
    StepForm,
    apply_field,
    condition_form,
    control,
    field_data,
    locate,
    mebibytes,
    merged_texts,
    option_lines,
    save_all,
    set_condition,
    split_values,
    step_data,
)
from mailslot.questionnaires.builder_rules import (
    RuleForm,
    add_rule,
    remove_rule,
    rule_at,
    set_rules,
    testable_ids,
)
from mailslot.questionnaires.canonical import to_data
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.model import Definition, FieldType, language_tag
from mailslot.questionnaires.parse import load_definition, parse_definition
from mailslot.questionnaires.templates import load_template

__all__ = [
    "BOUNDS",
    "FLAGS",
    "MIB",
    "OPERATORS",
    "ConditionForm",
    "FieldForm",
    "OptionForm",
    "RuleForm",
    "StepForm",
    "add_child",
    "add_field",
    "add_rule",
    "add_step",
    "condition_form",
    "control",
    "draft_text",
    "locate",
    "mebibytes",
    "move_child",
    "move_field",
    "move_step",
    "option_lines",
    "read_draft",
    "remove_child",
    "remove_field",
    "remove_rule",
    "remove_step",
    "rule_at",
    "save_all",
    "set_field",
    "set_rules",
    "set_step",
    "set_title",
    "split_values",
    "start",
    "testable_ids",
]

NEW_QUESTION: Final = N_("New question")
NEW_STEP: Final = N_("New step")
NEW_QUESTIONNAIRE: Final = N_("Questionnaire")
FIRST_OPTION: Final = N_("First answer")
SECOND_OPTION: Final = N_("Second answer")


# Starting points and the draft.


def start(template: str | None, locales: tuple[str, ...]) -> Definition:
    """A shipped template (``templates.TEMPLATES``), or an empty questionnaire: one step
    with one question, in ``locales``."""
    if template:
        return load_template(template)
    return parse_definition(
        {
            "version": 1,
            "title": _texts(NEW_QUESTIONNAIRE, locales),
            "steps": [_new_step(_texts(NEW_STEP, locales), "question_1", locales)],
        }
    )


def read_draft(text: str) -> Definition:
    """The draft posted back by the page, checked in full like an imported file."""
    return load_definition(text)


def draft_text(definition: Definition) -> str:
    return json.dumps(to_data(definition), ensure_ascii=False, separators=(",", ":"))


# Edits of steps.


def set_title(definition: Definition, texts: dict[str, str]) -> Definition:
    data = to_data(definition)
    data["title"] = merged_texts(data["title"], texts)
    return _parsed(data)


def add_step(definition: Definition, locales: tuple[str, ...]) -> Definition:
    data = to_data(definition)
    data["steps"].append(_new_step(_texts(NEW_STEP, locales), _free_id(definition), locales))
    return _parsed(data)


def set_step(
    definition: Definition, step: int, titles: dict[str, str], condition: ConditionForm
) -> Definition:
    data = to_data(definition)
    target = step_data(data, step)
    target["title"] = merged_texts(target["title"], titles)
    set_condition(target, condition)
    return _parsed(data)


def remove_step(definition: Definition, step: int) -> Definition:
    data = to_data(definition)
    step_data(data, step)
    del data["steps"][step]
    return _parsed(data)


def move_step(definition: Definition, step: int, by: int) -> Definition:
    data = to_data(definition)
    _move(data["steps"], step, by, f"steps[{step}]")
    return _parsed(data)


# Edits of fields.


def add_field(definition: Definition, step: int, kind: str, locales: tuple[str, ...]) -> Definition:
    try:
        field_type = FieldType(kind)
    except ValueError:
        raise QuestionnaireError(
            f"steps[{step}]", N_('%(path)s: unknown field type "%(type)s".'), type=kind[:50]
        ) from None
    data = to_data(definition)
    step_data(data, step)["fields"].append(_new_field(field_type, _free_id(definition), locales))
    return _parsed(data)


def set_field(definition: Definition, step: int, index: int, form: FieldForm) -> Definition:
    data = to_data(definition)
    apply_field(field_data(data, step, index), f"steps[{step}].fields[{index}]", form)
    return _parsed(data)


# Edits of a group's own fields.


def add_child(
    definition: Definition, step: int, index: int, kind: str, locales: tuple[str, ...]
) -> Definition:
    data = to_data(definition)
    group = _group(data, step, index)
    try:
        field_type = FieldType(kind)
    except ValueError:
        raise QuestionnaireError(
            f"steps[{step}].fields[{index}]",
            N_('%(path)s: unknown field type "%(type)s".'),
            type=kind[:50],
        ) from None
    group["fields"].append(_new_field(field_type, _free_id(definition), locales))
    return _parsed(data)


def remove_child(definition: Definition, step: int, index: int, child: int) -> Definition:
    data = to_data(definition)
    children = _group(data, step, index)["fields"]
    if not 0 <= child < len(children):
        raise QuestionnaireError(
            f"steps[{step}].fields[{index}].fields[{child}]",
            N_("%(path)s: there is no such field."),
        )
    del children[child]
    return _parsed(data)


def move_child(definition: Definition, step: int, index: int, child: int, by: int) -> Definition:
    data = to_data(definition)
    path = f"steps[{step}].fields[{index}].fields[{child}]"
    _move(_group(data, step, index)["fields"], child, by, path)
    return _parsed(data)


def remove_field(definition: Definition, step: int, index: int) -> Definition:
    data = to_data(definition)
    fields = step_data(data, step)["fields"]
    field_data(data, step, index)
    del fields[index]
    return _parsed(data)


def move_field(definition: Definition, step: int, index: int, by: int) -> Definition:
    data = to_data(definition)
    _move(step_data(data, step)["fields"], index, by, f"steps[{step}].fields[{index}]")
    return _parsed(data)


# What the forms show.


# Helpers.


def _parsed(data: dict[str, Any]) -> Definition:
    return parse_definition(data)


def _texts(msgid: str, locales: tuple[str, ...]) -> dict[str, str]:
    return {language_tag(locale): translate(locale, msgid) for locale in locales}


def _new_step(title: dict[str, str], field_id: str, locales: tuple[str, ...]) -> dict[str, Any]:
    return {"title": title, "fields": [_new_field(FieldType.SHORT_TEXT, field_id, locales)]}


def _new_field(kind: FieldType, field_id: str, locales: tuple[str, ...]) -> dict[str, Any]:
    key = "text" if kind is FieldType.STATIC_TEXT else "label"
    field: dict[str, Any] = {"id": field_id, "type": kind.value, key: _texts(NEW_QUESTION, locales)}
    if kind in (FieldType.SINGLE_CHOICE, FieldType.MULTIPLE_CHOICE):
        field["options"] = [
            {"id": "first", "label": _texts(FIRST_OPTION, locales)},
            {"id": "second", "label": _texts(SECOND_OPTION, locales)},
        ]
    if kind is FieldType.GROUP:
        field["fields"] = [
            {"id": f"{field_id}_name", "type": "short_text", "label": _texts(NEW_QUESTION, locales)}
        ]
    return field


def _free_id(definition: Definition) -> str:
    taken = {field.id for field in definition.fields()}
    number = 1
    while f"question_{number}" in taken or f"question_{number}_name" in taken:
        number += 1
    return f"question_{number}"


def _group(data: dict[str, Any], step: int, index: int) -> dict[str, Any]:
    group = field_data(data, step, index)
    if group["type"] != FieldType.GROUP.value:
        raise QuestionnaireError(
            f"steps[{step}].fields[{index}]", N_("%(path)s: this is not a group.")
        )
    return group


def _move(items: list[Any], index: int, by: int, path: str) -> None:
    if not 0 <= index < len(items):
        raise QuestionnaireError(path, N_("%(path)s: there is no such field."))
    to = max(0, min(len(items) - 1, index + by))
    items.insert(to, items.pop(index))
