"""The builder page's one form, both ways: what it posts read into the builder's forms
(:func:`read_forms`), and each step's and question's controls filled for the page
(:func:`steps_view`), from the draft or from what was typed when a post was refused.

Control names carry their place: ``title_en``; ``s0_title_en`` for step 0;
``s0f2_label_en`` for its question 2; ``s0f2c1_id`` for that group's own question 1;
``s0f2_o_fraud_channel``, ``s0f2_o_fraud_recipients``, ``s0f2_o_fraud_stop_en`` for what its
answer ``fraud`` does (route, stop).
"""

from __future__ import annotations

from typing import Any, Final

from mailslot.questionnaires import builder
from mailslot.questionnaires.canonical import to_data
from mailslot.questionnaires.model import TESTABLE_TYPES, Definition, Field, FieldType, Label, Step

# What a group's rows may ask (parse.py refuses the others there).
_CHILD_TYPES: Final = tuple(
    kind.value
    for kind in FieldType
    if kind not in {FieldType.GROUP, FieldType.FILE, FieldType.ACKNOWLEDGEMENT}
)


def posted_texts(fields: dict[str, str], prefix: str, languages: tuple[str, ...]) -> dict[str, str]:
    return {tag: fields[f"{prefix}{tag}"] for tag in languages if f"{prefix}{tag}" in fields}


def _condition(fields: dict[str, str], prefix: str) -> builder.ConditionForm:
    operator = fields.get(prefix + "cond_op", "")
    if operator == "keep":
        return builder.ConditionForm(keep=True)
    return builder.ConditionForm(
        field=fields.get(prefix + "cond_field", ""),
        operator=operator if operator in builder.OPERATORS else "",
        values=builder.split_values(fields.get(prefix + "cond_values", "")),
    )


def read_forms(
    draft: Definition, fields: dict[str, str], languages: tuple[str, ...]
) -> tuple[dict[str, str], list[builder.StepForm | None]]:
    """The title, steps and fields as posted; a step or field the post left out is None."""
    steps: list[builder.StepForm | None] = []
    for i, step in enumerate(draft.steps):
        prefix = f"s{i}_"
        if prefix + "cond_op" not in fields:
            steps.append(None)
            continue
        forms = [
            _field_form(fields, f"s{i}f{j}_", languages, item) for j, item in enumerate(step.fields)
        ]
        steps.append(
            builder.StepForm(
                titles=posted_texts(fields, prefix + "title_", languages),
                condition=_condition(fields, prefix),
                fields=tuple(forms),
                descriptions=posted_texts(fields, prefix + "description_", languages),
            )
        )
    return posted_texts(fields, "title_", languages), steps


def _field_form(
    fields: dict[str, str], key: str, languages: tuple[str, ...], item: Field
) -> builder.FieldForm | None:
    """One field's settings as posted under ``key`` (a group's own fields under
    ``KEYcN_``), or None if the post left it out."""
    if key + "id" not in fields:
        return None
    options = posted_texts(fields, key + "options_", languages)
    return builder.FieldForm(
        id=fields[key + "id"],
        labels=posted_texts(fields, key + "label_", languages),
        helps=posted_texts(fields, key + "help_", languages),
        required=fields.get(key + "required") == "1",
        low=fields.get(key + "low", ""),
        high=fields.get(key + "high", ""),
        options=options or None,
        condition=_condition(fields, key),
        flags=frozenset(flag for flag in builder.FLAGS if fields.get(key + flag) == "1"),
        children=tuple(
            _field_form(fields, f"{key[:-1]}c{k}_", languages, child)
            for k, child in enumerate(item.fields)
        ),
        answers={
            option.id: _option_form(fields, f"{key}o_{option.id}_", languages)
            for option in item.options
            if f"{key}o_{option.id}_channel" in fields
        },
        max_size=fields.get(key + "max_size", ""),
    )


def _option_form(
    fields: dict[str, str], key: str, languages: tuple[str, ...]
) -> builder.OptionForm:
    """An answer's route and stop as posted (recipients: one display name a line)."""
    recipients = fields.get(key + "recipients")
    return builder.OptionForm(
        channel=fields.get(key + "channel", ""),
        recipients=None if recipients is None else tuple(recipients.splitlines()),
        stops=posted_texts(fields, key + "stop_", languages),
    )


def _label_texts(label: Label | None, languages: tuple[str, ...]) -> dict[str, str]:
    return {tag: (label.get(tag) or "") if label else "" for tag in languages}


def steps_view(
    draft: Definition, languages: tuple[str, ...], context: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each step's and field's controls, filled from the draft, or from what was typed when
    the post was refused (nothing typed is lost)."""
    submitted: dict[str, str] = context["submitted"]
    data = to_data(draft)
    views = []
    testable: list[str] = []
    for i, step in enumerate(draft.steps):
        view = _step_view(step, languages, testable)
        view["values"].update(_typed(submitted, f"s{i}_"))
        view["fields"] = []
        for j, item in enumerate(step.fields):
            field_view = _field_view(item, data["steps"][i]["fields"][j], languages, testable)
            field_view["values"].update(_typed(submitted, f"s{i}f{j}_"))
            for k, child in enumerate(field_view["children"]):
                child["values"].update(_typed(submitted, f"s{i}f{j}c{k}_"))
            view["fields"].append(field_view)
            if item.type in TESTABLE_TYPES and not item.identity:
                testable.append(item.id)
        views.append(view)
    return views


def _typed(submitted: dict[str, str], prefix: str) -> dict[str, str]:
    values = {k.removeprefix(prefix): v for k, v in submitted.items() if k.startswith(prefix)}
    if values:  # an unticked box is not posted
        for box in ("required", *builder.FLAGS):
            values.setdefault(box, "")
    return values


def _step_view(step: Step, languages: tuple[str, ...], testable: list[str]) -> dict[str, Any]:
    condition = builder.condition_form(step.show_if)
    values = {f"title_{tag}": text for tag, text in _label_texts(step.title, languages).items()}
    values |= {
        f"description_{tag}": text
        for tag, text in _label_texts(step.description, languages).items()
    }
    values |= _condition_values(condition)
    return {"step": step, "values": values, "testable": list(testable), "keep": condition.keep}


def _field_view(
    item: Field,
    data: dict[str, Any],
    languages: tuple[str, ...],
    testable: list[str],
    *,
    nested: bool = False,
) -> dict[str, Any]:
    """A field's controls; ``nested``: one of a group's own fields, which has no condition
    and is neither an identity answer nor counted."""
    condition = builder.condition_form(item.show_if)
    label = item.text if item.type is FieldType.STATIC_TEXT else item.label
    values = {"id": item.id, "required": "1" if item.required else ""}
    values |= {flag: "1" if getattr(item, flag) else "" for flag in builder.FLAGS}
    values |= {f"label_{tag}": text for tag, text in _label_texts(label, languages).items()}
    values |= {f"help_{tag}": text for tag, text in _label_texts(item.help, languages).items()}
    bounds = builder.BOUNDS.get(item.type)
    if bounds is not None:
        low, high = bounds
        values["low"] = "" if low is None or low not in data else str(data[low])
        values["high"] = "" if high not in data else str(data[high])
    if item.options:
        values |= {
            f"options_{tag}": builder.option_lines(data["options"], tag) for tag in languages
        }
        if not nested:
            values |= _answer_values(item, languages)
    if item.type is FieldType.FILE:
        values["max_size"] = builder.mebibytes(item.max_size)
    values |= _condition_values(condition)
    return {
        "field": item,
        "values": values,
        "bounds": bounds,
        "flags": [
            flag
            for flag, kinds in builder.FLAGS.items()
            if item.type in kinds and not (nested and flag in {"identity", "statistics"})
        ],
        "nested": nested,
        "choices": bool(item.options),
        "answers": [] if nested else [option.id for option in item.options],
        "testable": list(testable),
        "keep": condition.keep,
        "children": [
            _field_view(child, data["fields"][k], languages, [], nested=True)
            for k, child in enumerate(item.fields)
        ],
        "child_types": _CHILD_TYPES,
    }


def _answer_values(item: Field, languages: tuple[str, ...]) -> dict[str, str]:
    """Each answer's route (a channel, or recipients one a line) and stop per language."""
    values: dict[str, str] = {}
    for option in item.options:
        key = f"o_{option.id}_"
        route = option.route
        values[key + "channel"] = (route.channel if route else None) or ""
        values[key + "recipients"] = "\n".join(route.recipients if route else ())
        values |= {
            f"{key}stop_{tag}": text for tag, text in _label_texts(option.stop, languages).items()
        }
    return values


def read_rules(
    draft: Definition, fields: dict[str, str], languages: tuple[str, ...]
) -> list[builder.RuleForm | None]:
    """The questionnaire's rules as posted (``r0_cond_op``, ``r0_channel``...); None: one
    the post left out."""
    return [
        builder.RuleForm(_condition(fields, f"r{i}_"), _option_form(fields, f"r{i}_", languages))
        if f"r{i}_cond_op" in fields
        else None
        for i in range(len(draft.rules))
    ]


def rules_view(
    draft: Definition, languages: tuple[str, ...], context: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each rule's controls, from the draft or as typed when the post was refused."""
    views = []
    for i, rule in enumerate(draft.rules):
        condition = builder.condition_form(rule.condition)
        route = rule.route
        values = _condition_values(condition) | {
            "channel": (route.channel if route else None) or "",
            "recipients": "\n".join(route.recipients if route else ()),
        }
        values |= {f"stop_{tag}": text for tag, text in _label_texts(rule.stop, languages).items()}
        values.update(_typed(context["submitted"], f"r{i}_"))
        views.append({"values": values, "keep": condition.keep})
    return views


def _condition_values(condition: builder.ConditionForm) -> dict[str, str]:
    return {
        "cond_field": condition.field,
        "cond_op": "keep" if condition.keep else condition.operator,
        "cond_values": ", ".join(condition.values),
    }
