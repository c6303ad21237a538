"""The sealed form: a source's answers as one canonical JSON document, which the caller seals
as one structured item (``docs/spec/questionnaire.md``, "Answers")::

    {"format": 1, "part": "answers",
     "questionnaire": {"id": "…", "version": 3, "hash": "sha256:…"},
     "answers": [{"id": "kind", "type": "single_choice", "value": "fraud"}, …]}

Answers to fields marked ``identity`` go into a second document (``"part": "identity"``),
sealed apart so that recipients cannot open it without a custodian's approval; every other
answer goes into the first. Entries follow the definition's order; each value has one JSON
form per field type (see ``_encode``). The hash names the definition version the answers were
given against, so that they are always shown with the questions the source saw.

:func:`read_document` reads one back strictly against that definition version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from mailslot.i18n import N_
from mailslot.questionnaires.canonical import canonical_json, definition_hash
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.model import Definition, Field, FieldType
from mailslot.questionnaires.values import (
    Answers,
    AttachedFile,
    DateRange,
    Value,
    number_text,
    parse_date,
    parse_number,
)

FORMAT: Final = 1
ANSWERS_PART: Final = "answers"
IDENTITY_PART: Final = "identity"


@dataclass(frozen=True, slots=True)
class QuestionnaireRef:
    """Which questionnaire version answers belong to: its id and version number where it is
    stored, and the hash of its definition (``canonical.definition_hash``)."""

    id: str
    version: int
    hash: str


@dataclass(frozen=True, slots=True)
class SealedForm:
    """The documents to seal: the answers, and the identity answers if any were given."""

    answers: bytes
    identity: bytes | None


@dataclass(frozen=True, slots=True)
class ReadDocument:
    ref: QuestionnaireRef
    part: str
    answers: Answers


def seal_form(ref: QuestionnaireRef, definition: Definition, answers: Answers) -> SealedForm:
    if ref.hash != definition_hash(definition):
        raise QuestionnaireError(
            "questionnaire.hash", N_("%(path)s: the answers belong to another version.")
        )
    identity = {f.id for f in definition.fields() if f.identity}
    given = [f.id for f in definition.fields() if f.identity and f.id in answers]
    return SealedForm(
        answers=_document(ref, definition, answers.without(identity), ANSWERS_PART),
        identity=_document(ref, definition, answers, IDENTITY_PART) if given else None,
    )


def _document(ref: QuestionnaireRef, definition: Definition, answers: Answers, part: str) -> bytes:
    top = [field for step in definition.steps for field in step.fields]
    wanted = [f for f in top if f.id in answers and f.identity == (part == IDENTITY_PART)]
    return canonical_json(
        {
            "format": FORMAT,
            "part": part,
            "questionnaire": {"id": ref.id, "version": ref.version, "hash": ref.hash},
            "answers": [_entry(field, answers[field.id]) for field in wanted],
        }
    )


def _entry(field: Field, value: Value) -> dict[str, Any]:
    return {"id": field.id, "type": field.type.value, "value": _encode(field, value)}


def _encode(field: Field, value: Value) -> Any:
    if isinstance(value, Decimal):
        return number_text(value)
    if isinstance(value, DateRange):
        return {"start": value.start.isoformat(), "end": value.end.isoformat()}
    if isinstance(value, str | bool):
        return value
    if isinstance(value, tuple):
        if field.type is FieldType.GROUP:
            return [
                [_entry(child, row[child.id]) for child in field.fields if child.id in row]
                for row in value
                if isinstance(row, Answers)
            ]
        if field.type is FieldType.FILE:
            return [
                {"name": f.name, "size": f.size, "ref": f.ref}
                for f in value
                if isinstance(f, AttachedFile)
            ]
        return list(value)
    return value.isoformat()  # a date


# Reading a document back.


def read_document(definition: Definition, data: bytes) -> ReadDocument:
    """A document made by :func:`seal_form`, checked against ``definition``: the hash, and
    every entry's field, type and value."""
    try:
        top = json.loads(
            data.decode(),
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse,
            parse_constant=_refuse,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad("") from None
    if not isinstance(top, dict) or set(top) != {"format", "part", "questionnaire", "answers"}:
        raise _bad("")
    if top["format"] != FORMAT or top["part"] not in (ANSWERS_PART, IDENTITY_PART):
        raise _bad("format")
    ref = _ref(top["questionnaire"])
    if ref.hash != definition_hash(definition):
        raise QuestionnaireError(
            "questionnaire.hash", N_("%(path)s: the answers belong to another version.")
        )
    fields = {f.id: f for step in definition.steps for f in step.fields}
    identity = top["part"] == IDENTITY_PART
    entries = _entries(top["answers"], "answers", fields)
    if any(fields[key].identity != identity for key in entries):
        raise _bad("answers")
    return ReadDocument(ref, top["part"], Answers(entries))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _bad("")
    return result


def _refuse(_: str) -> Any:
    raise _bad("")


def _bad(path: str) -> QuestionnaireError:
    return QuestionnaireError(path, N_("%(path)s: not a valid answer document."))


def _ref(data: object) -> QuestionnaireRef:
    if not isinstance(data, dict) or set(data) != {"id", "version", "hash"}:
        raise _bad("questionnaire")
    ref_id, version, digest = data["id"], data["version"], data["hash"]
    if not isinstance(ref_id, str) or type(version) is not int or not isinstance(digest, str):
        raise _bad("questionnaire")
    return QuestionnaireRef(ref_id, version, digest)


def _entries(data: object, path: str, fields: Mapping[str, Field]) -> dict[str, Value]:
    if not isinstance(data, list):
        raise _bad(path)
    values: dict[str, Value] = {}
    for i, entry in enumerate(data):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"id", "type", "value"}:
            raise _bad(where)
        field = fields.get(entry["id"]) if isinstance(entry["id"], str) else None
        if field is None or field.type.value != entry["type"] or field.id in values:
            raise _bad(where)
        value = _decode(field, entry["value"], f"{where}.value")
        if value is None:
            raise _bad(f"{where}.value")
        values[field.id] = value
    return values


def _decode(field: Field, data: object, path: str) -> Value | None:
    """The typed value of one entry, or None if it is not one this field could have."""
    match field.type:
        case FieldType.SHORT_TEXT | FieldType.LONG_TEXT:
            return data if isinstance(data, str) and data else None
        case FieldType.SINGLE_CHOICE:
            return data if isinstance(data, str) and data in field.option_ids else None
        case FieldType.YES_NO:
            return data if isinstance(data, bool) else None
        case FieldType.ACKNOWLEDGEMENT:
            return True if data is True else None
        case FieldType.MULTIPLE_CHOICE:
            if not isinstance(data, list) or not data:
                return None
            chosen = tuple(o for o in field.option_ids if o in data)
            return chosen if len(chosen) == len(data) else None
        case FieldType.NUMBER:
            return parse_number(data) if isinstance(data, str) else None
        case FieldType.DATE:
            return parse_date(data) if isinstance(data, str) else None
        case FieldType.DATE_RANGE:
            if not isinstance(data, dict) or set(data) != {"start", "end"}:
                return None
            start, end = data["start"], data["end"]
            if not isinstance(start, str) or not isinstance(end, str):
                return None
            first, last = parse_date(start), parse_date(end)
            return DateRange(first, last) if first and last and first <= last else None
        case FieldType.FILE:
            return _files(data)
        case FieldType.GROUP:
            if not isinstance(data, list) or not data:
                return None
            children = {child.id: child for child in field.fields}
            return tuple(
                Answers(_entries(row, f"{path}[{i}]", children)) for i, row in enumerate(data)
            )
    return None


def _files(data: object) -> tuple[AttachedFile, ...] | None:
    if not isinstance(data, list) or not data:
        return None
    files = []
    for item in data:
        if not isinstance(item, dict) or set(item) != {"name", "size", "ref"}:
            return None
        name, size, ref = item["name"], item["size"], item["ref"]
        if not isinstance(name, str) or type(size) is not int or size < 0:
            return None
        if not isinstance(ref, str):
            return None
        files.append(AttachedFile(name, size, ref))
    return tuple(files)
