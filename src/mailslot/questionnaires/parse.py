"""Reading a questionnaire definition: JSON in, a :class:`Definition` out, or one
:class:`QuestionnaireError` naming the path of the first problem. Never a half-valid object.

Two passes. The first, here, reads the shape: every key known for its place and type, every
value of its kind and within its bounds (``limits.py`` keeps a hostile import small: the
JSON's size, steps, fields, options, rules, languages, text lengths, condition depth), and
every id well formed and unique. The second (``references.py``) checks what needs the whole
definition: every condition names an earlier field that a condition may test, with values
that are its options.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from mailslot.i18n import N_
from mailslot.questionnaires.conditions import KEYWORDS, parse_condition
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.limits import (
    DEFAULT_MAX_REPEATS,
    FORMAT_VERSION,
    LANGUAGE_TAG,
    LONG_TEXT_MAX,
    MAX_DEFINITION_BYTES,
    MAX_DIGITS,
    MAX_FIELDS,
    MAX_FILE_SIZE,
    MAX_FILES,
    MAX_GROUP_FIELDS,
    MAX_HELP_CHARS,
    MAX_LABEL_CHARS,
    MAX_LANGUAGES,
    MAX_NAME_CHARS,
    MAX_NUMBER,
    MAX_OPTIONS,
    MAX_REPEATS,
    MAX_ROUTE_RECIPIENTS,
    MAX_RULES,
    MAX_STATIC_CHARS,
    MAX_STEPS,
    MAX_TOTAL_OPTIONS,
    MAX_TOTAL_TEXT,
    SHORT_TEXT_MAX,
)
from mailslot.questionnaires.model import (
    ID_PATTERN,
    TEXT_TYPES,
    Definition,
    Field,
    FieldType,
    Label,
    Option,
    Route,
    Rule,
    Step,
)
from mailslot.questionnaires.references import check_references
from mailslot.text import plain_text

_COMMON: Final = frozenset({"id", "type", "label", "help", "required", "show_if", "identity"})
_KEYS: Final[dict[FieldType, frozenset[str]]] = {
    FieldType.SHORT_TEXT: _COMMON | {"min_length", "max_length"},
    FieldType.LONG_TEXT: _COMMON | {"min_length", "max_length"},
    FieldType.SINGLE_CHOICE: _COMMON | {"options", "statistics"},
    FieldType.MULTIPLE_CHOICE: _COMMON | {"options", "min_choices", "max_choices", "statistics"},
    FieldType.YES_NO: _COMMON | {"statistics"},
    FieldType.DATE: _COMMON,
    FieldType.DATE_RANGE: _COMMON,
    FieldType.NUMBER: _COMMON | {"min", "max", "integer"},
    FieldType.FILE: (_COMMON - {"identity"}) | {"max_files", "max_size"},
    FieldType.ACKNOWLEDGEMENT: _COMMON - {"identity"},
    FieldType.STATIC_TEXT: frozenset({"id", "type", "label", "text", "show_if"}),
    FieldType.GROUP: frozenset(
        {"id", "type", "label", "help", "show_if", "fields", "min_repeats", "max_repeats"}
    ),
}
_TYPE_NAMES: Final = frozenset(kind.value for kind in FieldType)
# A group's rows hold simple answers only: no files, terms, nested groups or conditions.
_IN_GROUP: Final = frozenset(FieldType) - {
    FieldType.GROUP,
    FieldType.FILE,
    FieldType.ACKNOWLEDGEMENT,
}


def load_definition(text: str | bytes) -> Definition:
    """Parse a definition from JSON text (at most ``MAX_DEFINITION_BYTES``), strictly: no
    duplicate keys, no NaN or infinities."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_DEFINITION_BYTES:
        raise QuestionnaireError(
            "",
            N_("%(path)s: the definition is too large (at most %(max)s bytes)."),
            max=MAX_DEFINITION_BYTES,
        )

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise QuestionnaireError("", '%(path)s: duplicate key "%(key)s".', key=key)
            result[key] = value
        return result

    def refuse(_: str) -> Any:
        raise QuestionnaireError("", N_("%(path)s: not valid JSON."))

    try:
        data = json.loads(
            text, object_pairs_hook=no_duplicates, parse_float=Decimal, parse_constant=refuse
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise QuestionnaireError("", N_("%(path)s: not valid JSON.")) from None
    return parse_definition(data)


def parse_definition(data: object) -> Definition:
    """A definition from parsed JSON (dicts, lists, str, int, float or Decimal, bool)."""
    reader = _Reader()
    if (
        isinstance(data, dict)
        and "version" in data
        and (type(data["version"]) is not int or data["version"] != FORMAT_VERSION)
    ):
        raise QuestionnaireError("version", N_("%(path)s: unsupported version (only 1)."))
    top = reader.obj(
        data,
        "",
        required={"version", "title", "steps"},
        allowed={"version", "title", "description", "steps", "rules"},
    )
    steps_data = reader.items(top["steps"], "steps", 1, MAX_STEPS)
    definition = Definition(
        title=reader.label(top["title"], "title", MAX_LABEL_CHARS),
        description=reader.optional_label(top, "description", "", MAX_HELP_CHARS),
        steps=tuple(reader.step(item, f"steps[{i}]") for i, item in enumerate(steps_data)),
        rules=tuple(
            reader.rule(item, f"rules[{i}]")
            for i, item in enumerate(reader.items(top.get("rules", []), "rules", 0, MAX_RULES))
        ),
    )
    check_references(definition)
    return definition


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class _Reader:
    """The first pass, with the running totals that bound a whole definition."""

    field_count: int = 0
    option_count: int = 0
    text: int = 0
    ids: set[str] = field(default_factory=set)

    # Values of one kind.

    def obj(
        self,
        data: object,
        path: str,
        *,
        required: set[str] | frozenset[str],
        allowed: set[str] | frozenset[str],
    ) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise QuestionnaireError(path, N_("%(path)s: expected an object."))
        for key in data:
            if key not in allowed:
                raise QuestionnaireError(path, '%(path)s: unknown key "%(key)s".', key=key)
        for key in sorted(required):
            if key not in data:
                raise QuestionnaireError(path, N_('%(path)s: missing "%(key)s".'), key=key)
        return data

    def items(self, data: object, path: str, least: int, most: int) -> list[Any]:
        if not isinstance(data, list):
            raise QuestionnaireError(path, N_("%(path)s: expected a list."))
        if len(data) < least:
            raise QuestionnaireError(path, N_("%(path)s: too few (at least %(min)s)."), min=least)
        if len(data) > most:
            raise QuestionnaireError(path, N_("%(path)s: too many (at most %(max)s)."), max=most)
        return data

    def text_value(self, data: object, path: str, most: int) -> str:
        if not isinstance(data, str):
            raise QuestionnaireError(path, N_("%(path)s: expected text."))
        if len(data) > most:
            raise QuestionnaireError(
                path, N_("%(path)s: too long (at most %(max)s characters)."), max=most
            )
        value = plain_text(data, multiline=True)
        if not value.strip():
            raise QuestionnaireError(path, N_("%(path)s: the text is empty."))
        self.text += len(value)
        if self.text > MAX_TOTAL_TEXT:
            raise QuestionnaireError(
                path,
                N_("%(path)s: the texts are too long together (at most %(max)s characters)."),
                max=MAX_TOTAL_TEXT,
            )
        return value

    def boolean(self, data: object, path: str) -> bool:
        if not isinstance(data, bool):
            raise QuestionnaireError(path, N_("%(path)s: expected true or false."))
        return data

    def whole(self, data: object, path: str, least: int, most: int) -> int:
        if type(data) is not int or not least <= data <= most:
            raise QuestionnaireError(
                path,
                N_("%(path)s: expected a whole number from %(min)s to %(max)s."),
                min=least,
                max=most,
            )
        return data

    def number(self, data: object, path: str) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | Decimal):
            raise QuestionnaireError(path, N_("%(path)s: expected a number."))
        try:
            value = Decimal(data) if isinstance(data, int | Decimal) else Decimal(repr(data))
            if not value.is_finite() or abs(value) > MAX_NUMBER:
                raise InvalidOperation
            if value == value.to_integral_value():
                return Decimal(int(value))
            # At most 15 significant digits, so that the JSON number reads back the same.
            value = value.normalize()
            if len(value.as_tuple().digits) > MAX_DIGITS:
                raise InvalidOperation
            return value
        except (InvalidOperation, OverflowError):
            raise QuestionnaireError(
                path,
                N_(
                    "%(path)s: expected a number from -%(max)s to %(max)s, with at most "
                    "%(digits)s significant digits."
                ),
                max=MAX_NUMBER,
                digits=MAX_DIGITS,
            ) from None

    def ident(self, data: object, path: str) -> str:
        if not isinstance(data, str) or not ID_PATTERN.fullmatch(data):
            raise QuestionnaireError(
                path, N_("%(path)s: an id is 1 to 40 characters: a-z, 0-9 and _.")
            )
        return data

    def label(self, data: object, path: str, most: int) -> Label:
        if not isinstance(data, dict):
            raise QuestionnaireError(path, N_("%(path)s: expected an object."))
        if not data:
            raise QuestionnaireError(path, N_("%(path)s: a text needs at least one language."))
        if len(data) > MAX_LANGUAGES:
            raise QuestionnaireError(
                path, N_("%(path)s: too many languages (at most %(max)s)."), max=MAX_LANGUAGES
            )
        texts = []
        for language, text in data.items():
            if not isinstance(language, str) or not LANGUAGE_TAG.fullmatch(language):
                raise QuestionnaireError(
                    path,
                    '%(path)s: "%(language)s" is not a language tag.',
                    language=str(language)[:50],
                )
            texts.append((language, self.text_value(text, _join(path, language), most)))
        return Label(tuple(sorted(texts)))

    def optional_label(self, data: dict[str, Any], key: str, path: str, most: int) -> Label | None:
        return self.label(data[key], _join(path, key), most) if key in data else None

    def optional(
        self, data: dict[str, Any], key: str, path: str, read: Callable[[object, str], Any]
    ) -> Any:
        return read(data[key], _join(path, key)) if key in data else None

    # The parts of a definition.

    def step(self, data: object, path: str) -> Step:
        step = self.obj(
            data,
            path,
            required={"title", "fields"},
            allowed={"title", "description", "show_if", "fields"},
        )
        fields = self.items(step["fields"], _join(path, "fields"), 1, MAX_FIELDS)
        return Step(
            title=self.label(step["title"], _join(path, "title"), MAX_LABEL_CHARS),
            description=self.optional_label(step, "description", path, MAX_HELP_CHARS),
            show_if=self.optional(step, "show_if", path, parse_condition),
            fields=tuple(
                self.field(item, _join(path, f"fields[{i}]"), in_group=False)
                for i, item in enumerate(fields)
            ),
        )

    def field(self, data: object, path: str, *, in_group: bool) -> Field:
        self.field_count += 1
        if self.field_count > MAX_FIELDS:
            raise QuestionnaireError(
                path,
                N_("%(path)s: too many fields in the questionnaire (at most %(max)s)."),
                max=MAX_FIELDS,
            )
        if not isinstance(data, dict):
            raise QuestionnaireError(path, N_("%(path)s: expected an object."))
        if "type" not in data:
            raise QuestionnaireError(path, N_('%(path)s: missing "%(key)s".'), key="type")
        kind = data["type"]
        if not isinstance(kind, str) or kind not in _TYPE_NAMES:
            raise QuestionnaireError(
                _join(path, "type"),
                N_('%(path)s: unknown field type "%(type)s".'),
                type=str(kind)[:50],
            )
        kind = FieldType(kind)
        if in_group and kind not in _IN_GROUP:
            raise QuestionnaireError(
                path, N_("%(path)s: a group cannot hold fields of type %(type)s."), type=kind.value
            )
        # Identity answers are sealed apart, field by field: never inside a group's rows.
        # Nor are they counted: a group's rows may answer one question several times.
        allowed = _KEYS[kind] - {"show_if", "identity", "statistics"} if in_group else _KEYS[kind]
        if in_group and "show_if" in data:
            raise QuestionnaireError(
                _join(path, "show_if"), N_("%(path)s: conditions cannot be used inside a group.")
            )
        required = (
            {"id", "type", "text"} if kind is FieldType.STATIC_TEXT else {"id", "type", "label"}
        )
        raw = self.obj(data, path, required=required, allowed=allowed)
        field_id = self.ident(raw["id"], _join(path, "id"))
        if field_id in KEYWORDS:
            raise QuestionnaireError(
                _join(path, "id"), '%(path)s: "%(id)s" is a reserved word.', id=field_id
            )
        if field_id in self.ids:
            raise QuestionnaireError(
                _join(path, "id"), '%(path)s: duplicate id "%(id)s".', id=field_id
            )
        self.ids.add(field_id)
        identity = bool(self.optional(raw, "identity", path, self.boolean))
        statistics = bool(self.optional(raw, "statistics", path, self.boolean))
        if identity and statistics:
            raise QuestionnaireError(
                _join(path, "statistics"),
                N_("%(path)s: identity answers are never counted."),
            )
        return Field(
            id=field_id,
            type=kind,
            label=self.optional_label(raw, "label", path, MAX_LABEL_CHARS),
            help=self.optional_label(raw, "help", path, MAX_HELP_CHARS),
            required=bool(self.optional(raw, "required", path, self.boolean)),
            show_if=self.optional(raw, "show_if", path, parse_condition),
            identity=identity,
            statistics=statistics,
            text=self.optional_label(raw, "text", path, MAX_STATIC_CHARS),
            **self._settings(kind, raw, path, in_group=in_group),
        )

    def _settings(
        self, kind: FieldType, raw: dict[str, Any], path: str, *, in_group: bool
    ) -> dict[str, Any]:
        """The settings of one type, each checked against the others."""
        if kind in TEXT_TYPES:
            cap = SHORT_TEXT_MAX if kind is FieldType.SHORT_TEXT else LONG_TEXT_MAX
            low = self.optional(raw, "min_length", path, lambda d, p: self.whole(d, p, 0, cap))
            high = self.optional(raw, "max_length", path, lambda d, p: self.whole(d, p, 1, cap))
            _ordered(low, high, path)
            return {"min_length": low, "max_length": high}
        if kind in (FieldType.SINGLE_CHOICE, FieldType.MULTIPLE_CHOICE):
            options = self.options(raw.get("options"), _join(path, "options"), in_group=in_group)
            settings: dict[str, Any] = {"options": options}
            if kind is FieldType.MULTIPLE_CHOICE:
                count = len(options)
                low = self.optional(
                    raw, "min_choices", path, lambda d, p: self.whole(d, p, 0, count)
                )
                high = self.optional(
                    raw, "max_choices", path, lambda d, p: self.whole(d, p, 1, count)
                )
                _ordered(low, high, path)
                settings |= {"min_choices": low, "max_choices": high}
            return settings
        if kind is FieldType.NUMBER:
            low = self.optional(raw, "min", path, self.number)
            high = self.optional(raw, "max", path, self.number)
            _ordered(low, high, path)
            integer = bool(self.optional(raw, "integer", path, self.boolean))
            return {"minimum": low, "maximum": high, "integer": integer}
        if kind is FieldType.FILE:
            return {
                "max_files": self.optional(
                    raw, "max_files", path, lambda d, p: self.whole(d, p, 1, MAX_FILES)
                ),
                "max_size": self.optional(
                    raw, "max_size", path, lambda d, p: self.whole(d, p, 1, MAX_FILE_SIZE)
                ),
            }
        if kind is FieldType.GROUP:
            items = self.items(raw.get("fields"), _join(path, "fields"), 1, MAX_GROUP_FIELDS)
            low = self.optional(
                raw, "min_repeats", path, lambda d, p: self.whole(d, p, 0, MAX_REPEATS)
            )
            high = self.optional(
                raw, "max_repeats", path, lambda d, p: self.whole(d, p, 1, MAX_REPEATS)
            )
            _ordered(low, high if high is not None else DEFAULT_MAX_REPEATS, path)
            fields = tuple(
                self.field(item, _join(path, f"fields[{i}]"), in_group=True)
                for i, item in enumerate(items)
            )
            return {"fields": fields, "min_repeats": low, "max_repeats": high}
        return {}

    def options(self, data: object, path: str, *, in_group: bool) -> tuple[Option, ...]:
        items = self.items(data, path, 1, MAX_OPTIONS)
        self.options_seen(len(items), path)
        seen: set[str] = set()
        options = []
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            allowed = {"id", "label"} if in_group else {"id", "label", "route", "stop"}
            if in_group and isinstance(item, dict) and {"route", "stop"} & set(item):
                raise QuestionnaireError(
                    where, N_("%(path)s: conditions cannot be used inside a group.")
                )
            raw = self.obj(item, where, required={"id", "label"}, allowed=allowed)
            option_id = self.ident(raw["id"], _join(where, "id"))
            if option_id in seen:
                raise QuestionnaireError(path, '%(path)s: duplicate id "%(id)s".', id=option_id)
            seen.add(option_id)
            options.append(
                Option(
                    id=option_id,
                    label=self.label(raw["label"], _join(where, "label"), MAX_LABEL_CHARS),
                    route=self.optional(raw, "route", where, self.route),
                    stop=self.optional_label(raw, "stop", where, MAX_HELP_CHARS),
                )
            )
        return tuple(options)

    def options_seen(self, count: int, path: str) -> None:
        self.option_count += count
        if self.option_count > MAX_TOTAL_OPTIONS:
            raise QuestionnaireError(
                path,
                N_("%(path)s: too many options in the questionnaire (at most %(max)s)."),
                max=MAX_TOTAL_OPTIONS,
            )

    def route(self, data: object, path: str) -> Route:
        if not isinstance(data, dict) or set(data) not in ({"channel"}, {"recipients"}):
            raise QuestionnaireError(
                path, N_("%(path)s: a route names either a channel or recipients.")
            )
        if "channel" in data:
            return Route(channel=self.name(data["channel"], _join(path, "channel")))
        where = _join(path, "recipients")
        names = self.items(data["recipients"], where, 1, MAX_ROUTE_RECIPIENTS)
        recipients = tuple(self.name(name, f"{where}[{i}]") for i, name in enumerate(names))
        return Route(recipients=tuple(dict.fromkeys(recipients)))

    def name(self, data: object, path: str) -> str:
        return self.text_value(data, path, MAX_NAME_CHARS).strip()

    def rule(self, data: object, path: str) -> Rule:
        raw = self.obj(data, path, required={"if"}, allowed={"if", "route", "stop"})
        if ("route" in raw) == ("stop" in raw):
            raise QuestionnaireError(path, N_("%(path)s: a rule needs either a route or a stop."))
        return Rule(
            condition=parse_condition(raw["if"], _join(path, "if")),
            route=self.optional(raw, "route", path, self.route),
            stop=self.optional_label(raw, "stop", path, MAX_HELP_CHARS),
        )


def _ordered(low: int | Decimal | None, high: int | Decimal | None, path: str) -> None:
    if low is not None and high is not None and low > high:
        raise QuestionnaireError(path, N_("%(path)s: the minimum is larger than the maximum."))
