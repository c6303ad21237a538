"""The questionnaire's own rules in the builder (``Definition.rules``): a condition over the
answers that routes the case or stops the submission, one form each.

Like the other edits, each reads the definition again in full (:func:`parse_definition`): a
refused rule raises the parser's error, whose path (``rules[N]...``) :func:`rule_at` turns
into the rule's number for the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from mailslot.i18n import N_, translate
from mailslot.questionnaires.builder_forms import (
    ConditionForm,
    OptionForm,
    set_answer,
    set_condition,
)
from mailslot.questionnaires.canonical import to_data
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.model import (
    TESTABLE_TYPES,
    Definition,
    Field,
    FieldType,
    language_tag,
)
from mailslot.questionnaires.parse import parse_definition

NEW_RULE_STOP: Final = N_("This line cannot take this report.")
_RULE: Final = re.compile(r"rules\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class RuleForm:
    """One rule as posted: its condition, and its route or stop (as an answer's)."""

    condition: ConditionForm
    outcome: OptionForm


def testable_ids(definition: Definition) -> list[str]:
    """The fields a rule may test: choices and yes/no at the top level, not identity ones."""
    return [
        field.id
        for field in _top_fields(definition)
        if field.type in TESTABLE_TYPES and not field.identity
    ]


def add_rule(definition: Definition, locales: tuple[str, ...]) -> Definition:
    """A new rule: the first answer of the first field a rule may test stops the submission
    (for the admin to change)."""
    testable = [field for field in _top_fields(definition) if field.id in testable_ids(definition)]
    if not testable:
        raise QuestionnaireError(
            "rules", N_("%(path)s: a rule needs a choice or yes/no question to test.")
        )
    field = testable[0]
    first = "yes" if field.type is FieldType.YES_NO else field.options[0].id
    data = to_data(definition)
    stop = {language_tag(locale): translate(locale, NEW_RULE_STOP) for locale in locales}
    data.setdefault("rules", []).append(
        {"if": {"field": field.id, "equals": first}, "stop": stop or {"en": NEW_RULE_STOP}}
    )
    return parse_definition(data)


def remove_rule(definition: Definition, rule: int) -> Definition:
    data = to_data(definition)
    _rule(data, rule)
    del data["rules"][rule]
    if not data["rules"]:
        del data["rules"]
    return parse_definition(data)


def set_rules(definition: Definition, forms: list[RuleForm | None]) -> Definition:
    """Every rule as posted (None: one the post left out, kept as it was)."""
    data = to_data(definition)
    for i, form in enumerate(forms):
        if form is not None:
            target = _rule(data, i)
            set_condition(target, form.condition, "if")
            set_answer(target, form.outcome, f"rules[{i}].route")
    return parse_definition(data)


def rule_at(error: QuestionnaireError) -> int | None:
    """The number of the rule ``error`` is about, if it is about one."""
    found = _RULE.match(error.path)
    return None if found is None else int(found[1])


def _top_fields(definition: Definition) -> list[Field]:
    return [field for step in definition.steps for field in step.fields]


def _rule(data: dict[str, Any], rule: int) -> dict[str, Any]:
    rules: list[dict[str, Any]] = data.get("rules", [])
    if not 0 <= rule < len(rules):
        raise QuestionnaireError(f"rules[{rule}]", N_("%(path)s: there is no such rule."))
    return rules[rule]
