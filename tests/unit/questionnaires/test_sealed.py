"""The sealed form: the answers document and the identity document apart, read back strictly
against the definition version, and the readable text."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest

from mailslot.questionnaires import (
    Answers,
    AttachedFile,
    DateRange,
    QuestionnaireError,
    QuestionnaireRef,
    definition_hash,
    read_document,
    render_text,
    seal_form,
)
from tests.unit.questionnaires.builders import build, field, options, step

pytestmark = pytest.mark.no_database

DEFINITION = build(
    step(
        field(
            "kind",
            "single_choice",
            options=options("fraud", "other"),
            label={"en": "Which kind?", "ko": "어떤 종류입니까?"},
        ),
        field("areas", "multiple_choice"),
        field("urgent", "yes_no"),
        field("note", "static_text"),
        field("terms", "acknowledgement"),
    ),
    step(
        field("detail", "long_text"),
        field("day", "date"),
        field("period", "date_range"),
        field("amount", "number"),
        field("docs", "file"),
        field(
            "persons", "group", fields=[field("name", "short_text"), field("part", "single_choice")]
        ),
    ),
    step(
        field("name_given", "short_text", identity=True),
        field("phone", "short_text", identity=True),
    ),
)
REF = QuestionnaireRef("q-1", 3, definition_hash(DEFINITION))
ANSWERS = Answers(
    {
        "kind": "fraud",
        "areas": ("a", "c"),
        "urgent": False,
        "terms": True,
        "detail": "Line one\nline two",
        "day": datetime.date(2024, 3, 1),
        "period": DateRange(datetime.date(2024, 1, 1), datetime.date(2024, 2, 1)),
        "amount": Decimal("1200.50"),
        "docs": (AttachedFile("a.pdf", 2048, "item-7"),),
        "persons": (Answers({"name": "Kim", "part": "b"}), Answers({"name": "Lee"})),
        "name_given": "Jo",
    }
)


def test_identity_answers_are_sealed_apart() -> None:
    sealed = seal_form(REF, DEFINITION, ANSWERS)
    main = json.loads(sealed.answers)
    assert sealed.identity is not None
    identity = json.loads(sealed.identity)
    assert main["part"] == "answers"
    assert identity["part"] == "identity"
    assert [e["id"] for e in identity["answers"]] == ["name_given"]
    assert "name_given" not in [e["id"] for e in main["answers"]]
    assert b"Jo" not in sealed.answers  # positive control below: it is in the other one
    assert b'"Jo"' in sealed.identity
    without = seal_form(REF, DEFINITION, Answers({"kind": "other"}))
    assert without.identity is None


def test_the_answers_document_is_canonical_json_in_definition_order() -> None:
    document = seal_form(REF, DEFINITION, ANSWERS).answers
    data = json.loads(document)
    assert (
        document
        == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert data["format"] == 1
    assert data["questionnaire"] == {"id": "q-1", "version": 3, "hash": REF.hash}
    assert [e["id"] for e in data["answers"]] == [
        "kind",
        "areas",
        "urgent",
        "terms",
        "detail",
        "day",
        "period",
        "amount",
        "docs",
        "persons",
    ]
    values = {e["id"]: e["value"] for e in data["answers"]}
    assert values["areas"] == ["a", "c"]
    assert values["urgent"] is False
    assert values["period"] == {"start": "2024-01-01", "end": "2024-02-01"}
    assert values["amount"] == "1200.5"
    assert values["docs"] == [{"name": "a.pdf", "size": 2048, "ref": "item-7"}]
    assert values["persons"] == [
        [
            {"id": "name", "type": "short_text", "value": "Kim"},
            {"id": "part", "type": "single_choice", "value": "b"},
        ],
        [{"id": "name", "type": "short_text", "value": "Lee"}],
    ]


def test_both_documents_read_back() -> None:
    sealed = seal_form(REF, DEFINITION, ANSWERS)
    assert sealed.identity is not None
    main = read_document(DEFINITION, sealed.answers)
    identity = read_document(DEFINITION, sealed.identity)
    assert (main.ref, main.part, identity.part) == (REF, "answers", "identity")
    assert main.answers.merged(identity.answers) == ANSWERS


def test_answers_for_another_version_are_refused() -> None:
    other = build(step(field("kind", "single_choice")))
    with pytest.raises(QuestionnaireError, match="another version"):
        seal_form(REF, other, Answers())
    with pytest.raises(QuestionnaireError, match="another version"):
        read_document(other, seal_form(REF, DEFINITION, ANSWERS).answers)


def tampered(change: Any) -> bytes:
    data = json.loads(seal_form(REF, DEFINITION, ANSWERS).answers)
    change(data)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(format=2),
        lambda d: d.update(part="other"),
        lambda d: d.update(extra=1),
        lambda d: d["questionnaire"].update(version="3"),
        lambda d: d["answers"][0].update(value="nope"),  # not an option
        lambda d: d["answers"][0].update(type="short_text"),
        lambda d: d["answers"][1].update(value=["a", "a"]),
        lambda d: d["answers"][2].update(value="no"),
        lambda d: d["answers"][3].update(value=False),
        lambda d: d["answers"][5].update(value="2024-02-30"),
        lambda d: d["answers"][6].update(value={"start": "2024-03-01", "end": "2024-01-01"}),
        lambda d: d["answers"][7].update(value="1e3"),
        lambda d: d["answers"][8].update(value=[{"name": "a", "size": -1, "ref": "r"}]),
        lambda d: d["answers"][9]["value"][0][0].update(id="part"),
        lambda d: d["answers"].append(d["answers"][0]),  # twice
        lambda d: d["answers"].append({"id": "name_given", "type": "short_text", "value": "x"}),
        lambda d: d["answers"].append({"id": "name", "type": "short_text", "value": "x"}),
    ],
)
def test_a_document_that_does_not_fit_is_refused(change: Any) -> None:
    read_document(DEFINITION, tampered(lambda d: None))  # positive control
    with pytest.raises(QuestionnaireError):
        read_document(DEFINITION, tampered(change))


@pytest.mark.parametrize("data", [b"", b"\xff", b"[]", b"{}", b'{"format": 1.0}', b"[" * 50000])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(QuestionnaireError):
        read_document(DEFINITION, data)


def test_render_text() -> None:
    text = render_text(DEFINITION, ANSWERS, "en", version_hash=REF.hash)
    assert text.startswith("A questionnaire\n===============\n")
    assert f"Questionnaire version: {REF.hash}" in text
    assert "Which kind?\n  Option fraud\n" in text
    assert "Question areas\n  - Option a\n  - Option c\n" in text
    assert "Question urgent\n  No\n" in text
    assert "Question terms\n  Confirmed\n" in text
    assert "Question detail\n  Line one\n  line two\n" in text
    assert "Question period\n  2024-01-01 to 2024-02-01\n" in text
    assert "Question amount\n  1200.5\n" in text
    assert "Question docs\n  - a.pdf (2.0 KiB)\n" in text
    assert "Question persons\n  Entry 1\n\n    Question name\n      Kim\n" in text
    assert "Question name_given\n  Jo\n" in text
    assert "Question phone" not in text  # an identity answer not given is not mentioned
    assert "About note" not in text  # static texts ask nothing


def test_render_text_marks_unanswered_questions_and_skips_hidden_steps() -> None:
    definition = build(
        step(field("a", "yes_no"), field("b", "date")),
        step(field("c", "date"), show_if={"a": "yes"}),
    )
    text = render_text(definition, Answers({"a": False}), "en")
    assert "Question b\n  (no answer)\n" in text
    assert "Question c" not in text


def test_render_text_in_korean_uses_labels_and_catalogue() -> None:
    text = render_text(DEFINITION, Answers({"kind": "fraud", "urgent": True}), "ko")
    assert "어떤 종류입니까?" in text
    assert "Question urgent\n  예\n" in text
