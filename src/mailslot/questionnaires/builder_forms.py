"""The builder's forms: what the admins' one page posts, read into a definition.

Each setting of a field, a step or the title has its control (``FieldForm``, ``StepForm``);
:func:`save_all` sets them all on the draft's data at once and the parser reads the result in
full, so a refused post names one control (:func:`locate`) and changes nothing. Texts are per
language: the languages the page shows are set, the others kept as they were.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from mailslot.i18n import DEFAULT_LOCALE, N_
from mailslot.questionnaires.canonical import to_data
from mailslot.questionnaires.conditions import AllOf, AnyOf, Condition, Equals, InSet, Not
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.model import TESTABLE_TYPES, Definition, FieldType
from mailslot.questionnaires.parse import parse_definition

# The settings with a lower and an upper bound, per type (a file has an upper one only).
BOUNDS: Final[dict[FieldType, tuple[str | None, str]]] = {
    FieldType.SHORT_TEXT: ("min_length", "max_length"),
    FieldType.LONG_TEXT: ("min_length", "max_length"),
    FieldType.MULTIPLE_CHOICE: ("min_choices", "max_choices"),
    FieldType.NUMBER: ("min", "max"),
    FieldType.FILE: (None, "max_files"),
    FieldType.GROUP: ("min_repeats", "max_repeats"),
}
# Which control of the field form a problem at a key of the field belongs to.
_CONTROLS: Final = {
    "id": "id",
    "label": "label",
    "text": "label",
    "help": "help",
    "options": "options",
    "show_if": "show_if",
    "max_size": "max_size",
    **dict.fromkeys(("identity", "statistics", "integer"), "flags"),
    **{name: "bounds" for pair in BOUNDS.values() for name in pair if name is not None},
}
# The yes/no settings the form offers, and the types each is for.
FLAGS: Final[dict[str, frozenset[FieldType]]] = {
    "identity": frozenset(FieldType)
    - {FieldType.FILE, FieldType.ACKNOWLEDGEMENT, FieldType.STATIC_TEXT, FieldType.GROUP},
    "statistics": TESTABLE_TYPES,
    "integer": frozenset({FieldType.NUMBER}),
}
OPERATORS: Final = ("equals", "in", "not")
_OPTION_LINE: Final = re.compile(r"\s*([^=]+?)\s*=\s*(.+?)\s*")
_SEPARATORS: Final = re.compile(r"[\s,]+")
_PLACE: Final = re.compile(r"steps\[(\d+)\](?:\.fields\[(\d+)\])?")
_OPTION_SETTING: Final = re.compile(r"options\[\d+\]\.(?:route|stop)\b")
MIB: Final = 1024 * 1024  # a file field's max_size is typed in MiB, stored in bytes


@dataclass(frozen=True, slots=True)
class OptionForm:
    """What one answer of a choice field does: route the case to a channel (by name), or to
    recipients (display names; None when the page did not offer them: kept as they were),
    and stop the submission with a message per language (empty: no stop)."""

    channel: str = ""
    recipients: tuple[str, ...] | None = None
    stops: dict[str, str] = dataclass_field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConditionForm:
    """A condition as the simple form shows it: a field, an operator of :data:`OPERATORS`
    and option ids. ``keep`` is for a condition the form cannot show (and/or): kept as it is."""

    field: str = ""
    operator: str = ""
    values: tuple[str, ...] = ()
    keep: bool = False


@dataclass(frozen=True, slots=True)
class FieldForm:
    """One field's settings as the builder's form posts them: texts per language tag
    (empty: none in that language), bounds as typed, options as ``id = label`` lines per
    language."""

    id: str
    labels: dict[str, str]
    helps: dict[str, str]
    required: bool = False
    low: str = ""
    high: str = ""
    options: dict[str, str] | None = None
    condition: ConditionForm = ConditionForm()
    flags: frozenset[str] = frozenset()  # of FLAGS: those ticked
    children: tuple[FieldForm | None, ...] = ()  # a group's own fields (None: left out)
    answers: dict[str, OptionForm] = dataclass_field(default_factory=dict)  # by option id
    max_size: str = ""  # a file field's, in MiB as typed


def locate(error: QuestionnaireError) -> tuple[int | None, int | None, str]:
    """The step, the field of the step, and the control (:func:`control`) that ``error``
    is about; ``(None, None, "title")`` for the title, ``(None, None, "")`` for the rest."""
    found = _PLACE.match(error.path)
    if found is None:
        top = error.path.split(".", 1)[0]
        return None, None, top if top in {"title", "description"} else ""
    step = int(found[1])
    index = None if found[2] is None else int(found[2])
    return step, index, control(error, step, index)


def control(error: QuestionnaireError, step: int, index: int | None = None) -> str:
    """The control of the step's (or the field's) form that ``error`` is about: ``label``,
    ``help``, ``options``, ``routes`` (an option's route or stop), ``bounds``,
    ``max_size``, ``flags``, ``show_if``, ``id``, ``title``, ``description``; ``""`` for
    the rest."""
    prefix = f"steps[{step}]" + ("" if index is None else f".fields[{index}]")
    if not error.path.startswith(prefix + "."):
        return ""
    rest = error.path[len(prefix) + 1 :]
    key = re.split(r"[.\[]", rest, maxsplit=1)[0]
    if index is not None and _OPTION_SETTING.match(rest):
        return "routes"
    if index is None:
        return key if key in {"title", "description", "show_if"} else ""
    return _CONTROLS.get(key, "")


@dataclass(frozen=True, slots=True)
class StepForm:
    """A step's settings as posted, and its fields' (None: a field the post left out)."""

    titles: dict[str, str]
    condition: ConditionForm
    fields: tuple[FieldForm | None, ...]
    descriptions: dict[str, str] = dataclass_field(default_factory=dict)


def save_all(
    definition: Definition,
    titles: dict[str, str],
    steps: list[StepForm | None],
    descriptions: dict[str, str] | None = None,
) -> Definition:
    """Every form of the page at once (the title, each step, each of its fields; None: a
    step the post left out), read in one pass by the parser: the path of its error (see
    :func:`locate`) names the control."""
    data = to_data(definition)
    data["title"] = merged_texts(data["title"], titles)
    set_text(data, "description", descriptions or {})
    for i, step in enumerate(steps):
        if step is None:
            continue
        target = step_data(data, i)
        target["title"] = merged_texts(target["title"], step.titles)
        set_text(target, "description", step.descriptions)
        set_condition(target, step.condition)
        for j, form in enumerate(step.fields):
            if form is not None:
                apply_field(field_data(data, i, j), f"steps[{i}].fields[{j}]", form)
    return parse_definition(data)


def apply_field(target: dict[str, Any], path: str, form: FieldForm) -> None:
    kind = FieldType(target["type"])
    target["id"] = form.id.strip()
    text_key = "text" if kind is FieldType.STATIC_TEXT else "label"
    for key, texts in ((text_key, form.labels), ("help", form.helps)):
        if key == "help" and kind is FieldType.STATIC_TEXT:
            continue
        label = merged_texts(target.get(key), texts)
        if label:
            target[key] = label
        elif key == text_key:
            raise QuestionnaireError(
                f"{path}.{key}", N_("%(path)s: a text needs at least one language.")
            )
        else:
            target.pop(key, None)
    if kind is not FieldType.STATIC_TEXT and kind is not FieldType.GROUP:
        target.pop("required", None)
        if form.required:
            target["required"] = True
    for flag, kinds in FLAGS.items():
        if kind in kinds:
            target.pop(flag, None)
            if flag in form.flags:
                target[flag] = True
    if kind in BOUNDS:
        low_key, high_key = BOUNDS[kind]
        for bound, typed in ((low_key, form.low), (high_key, form.high)):
            if bound is not None:
                target.pop(bound, None)
                if typed.strip():
                    target[bound] = _bound(typed, kind, f"{path}.{bound}")
    if form.options is not None and kind in (FieldType.SINGLE_CHOICE, FieldType.MULTIPLE_CHOICE):
        target["options"] = _options(form.options, target.get("options", []), f"{path}.options")
    for k, option in enumerate(target.get("options", [])):
        if option["id"] in form.answers:
            set_answer(option, form.answers[option["id"]], f"{path}.options[{k}].route")
    if kind is FieldType.FILE:
        target.pop("max_size", None)
        if form.max_size.strip():
            target["max_size"] = _mebibytes(form.max_size, f"{path}.max_size")
    set_condition(target, form.condition)
    children: list[dict[str, Any]] = target.get("fields", [])
    for k, child in enumerate(form.children):
        if child is not None and k < len(children):
            apply_field(children[k], f"{path}.fields[{k}]", child)


def set_answer(option: dict[str, Any], form: OptionForm, path: str) -> None:
    """An option's route and stop as posted; recipients the page did not offer are kept."""
    recipients = [name.strip() for name in form.recipients or () if name.strip()]
    if form.channel.strip() and recipients:
        raise QuestionnaireError(
            path, N_("%(path)s: a route names either a channel or recipients.")
        )
    kept = option.pop("route", None)
    if form.channel.strip():
        option["route"] = {"channel": form.channel.strip()}
    elif recipients:
        option["route"] = {"recipients": recipients}
    elif form.recipients is None and kept is not None and "recipients" in kept:
        option["route"] = kept
    set_text(option, "stop", form.stops)


def mebibytes(size: int | None) -> str:
    """A size in bytes as the form shows it, in MiB (``10``, ``0.5``); empty for none."""
    if size is None:
        return ""
    return f"{(Decimal(size) / MIB).normalize():f}"


def _mebibytes(typed: str, path: str) -> int:
    try:  # also refused: NaN, infinities, and sizes too large for a decimal
        return int((Decimal(typed.strip().replace(",", ".")) * MIB).to_integral_value())
    except (ArithmeticError, ValueError):
        raise QuestionnaireError(path, N_("%(path)s: expected a number.")) from None


def condition_form(condition: Condition | None) -> ConditionForm:
    match condition:
        case None:
            return ConditionForm()
        case Equals(field, value):
            return ConditionForm(field, "equals", (value,))
        case InSet(field, values):
            return ConditionForm(field, "in", values)
        case Not(Equals(field, value)):
            return ConditionForm(field, "not", (value,))
        case Not(InSet(field, values)):
            return ConditionForm(field, "not", values)
        case Not() | AllOf() | AnyOf():
            return ConditionForm(keep=True)
    raise AssertionError(condition)  # pragma: no cover


def option_lines(options: list[dict[str, Any]], language: str) -> str:
    """A choice field's options as the form shows them: one ``id = label`` a line."""
    return "\n".join(
        f"{option['id']} = {option['label'][language]}"
        for option in options
        if language in option["label"]
    )


def step_data(data: dict[str, Any], step: int) -> dict[str, Any]:
    steps: list[dict[str, Any]] = data["steps"]
    if not 0 <= step < len(steps):
        raise QuestionnaireError(f"steps[{step}]", N_("%(path)s: there is no such step."))
    return steps[step]


def field_data(data: dict[str, Any], step: int, index: int) -> dict[str, Any]:
    fields: list[dict[str, Any]] = step_data(data, step)["fields"]
    if not 0 <= index < len(fields):
        raise QuestionnaireError(
            f"steps[{step}].fields[{index}]", N_("%(path)s: there is no such field.")
        )
    return fields[index]


def set_text(target: dict[str, Any], key: str, texts: dict[str, str]) -> None:
    """An optional text: the languages shown set, the others kept; none left, no text."""
    merged = merged_texts(target.get(key), texts)
    if merged:
        target[key] = merged
    else:
        target.pop(key, None)


def merged_texts(before: dict[str, str] | None, texts: dict[str, str]) -> dict[str, str]:
    """A text with the languages the form showed set (empty: removed), the others kept."""
    merged = {**(before or {}), **texts}
    return {language: text for language, text in merged.items() if text.strip()}


def _bound(typed: str, kind: FieldType, path: str) -> int | Decimal:
    try:
        value = Decimal(typed.strip())
    except InvalidOperation:
        raise QuestionnaireError(path, N_("%(path)s: expected a number.")) from None
    if kind is FieldType.NUMBER:
        return value
    if value != value.to_integral_value():
        raise QuestionnaireError(path, N_("%(path)s: expected a whole number."))
    return int(value)


def _options(
    lines: dict[str, str], before: list[dict[str, Any]], path: str
) -> list[dict[str, Any]]:
    """Options from ``id = label`` lines per language; the default language's lines (else
    the first language's) give the options and their order, the others set their labels.
    What an option had besides (a route, a stop, labels in languages not shown) stays."""
    kept = {option["id"]: option for option in before}
    parsed: dict[str, list[tuple[str, str]]] = {}
    for language, text in lines.items():
        parsed[language] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            match = _OPTION_LINE.fullmatch(line)
            if match is None:
                raise QuestionnaireError(
                    path,
                    N_('%(path)s: line %(line)s (%(language)s) is not "id = label".'),
                    line=number,
                    language=language,
                )
            parsed[language].append((match[1], match[2]))
    lead = (
        DEFAULT_LOCALE
        if parsed.get(DEFAULT_LOCALE)
        else next((language for language, items in parsed.items() if items), DEFAULT_LOCALE)
    )
    options: list[dict[str, Any]] = []
    for option_id, text in parsed.get(lead, []):
        option = copy.deepcopy(kept.get(option_id, {"id": option_id, "label": {}}))
        option["label"] = {
            language: label for language, label in option["label"].items() if language not in lines
        }
        option["label"][lead] = text
        options.append(option)
    by_id = {option["id"]: option for option in options}
    for language, items in parsed.items():
        if language == lead:
            continue
        for option_id, text in items:
            if option_id not in by_id:
                raise QuestionnaireError(
                    path,
                    N_('%(path)s: the option "%(id)s" (%(language)s) is not among the options.'),
                    id=option_id[:40],
                    language=language,
                )
            by_id[option_id]["label"][language] = text
    return options


def set_condition(target: dict[str, Any], form: ConditionForm, key: str = "show_if") -> None:
    """``show_if`` (or a rule's ``if``) as the simple form gives it; none without an operator."""
    if form.keep:
        return
    target.pop(key, None)
    if not form.operator:
        return
    values = [value for value in form.values if value]
    if form.operator == "equals":
        target[key] = {"field": form.field, "equals": values[0] if values else ""}
    elif form.operator == "in":
        target[key] = {"field": form.field, "in": values}
    elif form.operator == "not":
        target[key] = {"not": {"field": form.field, "in": values}}


def split_values(typed: str) -> tuple[str, ...]:
    """Option ids typed in a condition's box, separated by commas or spaces."""
    return tuple(value for value in _SEPARATORS.split(typed) if value)
