"""The second pass over a definition: what needs all of it. Every condition names a field
that comes before it (for a step, in an earlier step; for a field, earlier in the questionnaire;
for a rule, anywhere) and that a condition may test, with values that are that field's
options; identity answers never steer anything. Forward references are refused, so conditions
cannot form a cycle."""

from __future__ import annotations

from mailslot.i18n import N_
from mailslot.questionnaires.conditions import Condition, references
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.model import TESTABLE_TYPES, Definition, Field


def check_references(definition: Definition) -> None:
    """Every condition names a field that comes before it and that a condition may test,
    with values that are that field's options; identity answers never steer anything."""
    earlier: dict[str, Field] = {}
    everything = {f.id: f for f in definition.fields()}
    for s, step in enumerate(definition.steps):
        if step.show_if is not None:
            _check(step.show_if, f"steps[{s}].show_if", earlier, everything)
        for f, item in enumerate(step.fields):
            path = f"steps[{s}].fields[{f}]"
            if item.show_if is not None:
                _check(item.show_if, f"{path}.show_if", earlier, everything)
            if item.identity and any(o.route or o.stop for o in item.options):
                raise QuestionnaireError(
                    f"{path}.options", N_("%(path)s: an identity answer cannot route or stop.")
                )
            earlier[item.id] = item
    for r, rule in enumerate(definition.rules):
        _check(rule.condition, f"rules[{r}].if", earlier, everything)


def _check(
    condition: Condition, path: str, earlier: dict[str, Field], everything: dict[str, Field]
) -> None:
    in_groups = {child.id for f in everything.values() for child in f.fields}
    for field_id, values in references(condition):
        target = earlier.get(field_id)
        if target is None:
            if field_id in in_groups:
                message = N_('%(path)s: "%(id)s" is inside a group; conditions cannot use it.')
            elif field_id in everything:
                message = N_(
                    '%(path)s: "%(id)s" comes later; a condition can only use earlier answers.'
                )
            else:
                message = N_('%(path)s: unknown field "%(id)s".')
            raise QuestionnaireError(path, message, id=field_id)
        if target.type not in TESTABLE_TYPES:
            raise QuestionnaireError(
                path,
                N_(
                    '%(path)s: "%(id)s" is a %(type)s field; conditions can only use choices '
                    "and yes/no answers."
                ),
                id=field_id,
                type=target.type.value,
            )
        if target.identity:
            raise QuestionnaireError(
                path,
                N_('%(path)s: "%(id)s" is an identity answer; conditions cannot use it.'),
                id=field_id,
            )
        for value in values:
            if value not in target.option_ids:
                raise QuestionnaireError(
                    path,
                    N_('%(path)s: "%(value)s" is not an option of "%(id)s".'),
                    value=value,
                    id=field_id,
                )
