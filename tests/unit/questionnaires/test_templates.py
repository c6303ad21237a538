"""The shipped templates: valid, in every shipped language through the catalogues, their
texts extracted for translators, and answerable end to end."""

from __future__ import annotations

import io
import json

import pytest
from babel.messages.pofile import read_po

from mailslot.i18n import SUPPORTED_LOCALES, translate
from mailslot.questionnaires import (
    TEMPLATES,
    FieldType,
    QuestionnaireError,
    QuestionnaireRef,
    collect,
    definition_hash,
    load_template,
    read_document,
    render_text,
    seal_form,
    template_names,
)
from mailslot.questionnaires.model import language_tag
from mailslot.questionnaires.templates import extract, template_data, template_texts
from tests.unit.questionnaires.test_spec import LOCALE

pytestmark = pytest.mark.no_database

EU_AREAS = [
    "Public procurement",
    "Financial services, products and markets, and prevention of money laundering and "
    "terrorist financing",
    "Product safety and compliance",
    "Transport safety",
    "Protection of the environment",
    "Radiation protection and nuclear safety",
    "Food and feed safety, animal health and welfare",
    "Public health",
    "Consumer protection",
    "Protection of privacy and personal data, and security of network and information systems",
    "Breaches affecting the financial interests of the Union",
]


def test_the_two_templates_are_shipped() -> None:
    assert template_names() == ("newsroom_tip", "eu_directive")
    assert [t.title for t in TEMPLATES] == ["Newsroom tip", "EU Whistleblowing Directive report"]
    with pytest.raises(QuestionnaireError):
        load_template("nothing")


@pytest.mark.parametrize("name", template_names())
def test_every_template_has_every_shipped_language(name: str) -> None:
    """Each text has English and every language whose catalogue translates it; Korean, which
    ships complete, has every text (tests/unit/test_i18n.py keeps the catalogue complete)."""
    definition = load_template(name)
    labels = [definition.title] + [step.title for step in definition.steps]
    labels += [f.label for f in definition.fields() if f.label is not None]
    labels += [f.help for f in definition.fields() if f.help is not None]
    labels += [f.text for f in definition.fields() if f.text is not None]
    labels += [o.label for f in definition.fields() for o in f.options]
    for label in labels:
        english = label.text("en")
        translated = {
            language_tag(locale)
            for locale in SUPPORTED_LOCALES
            if translate(locale, english) != english
        }
        assert set(label.languages) == {"en"} | translated, label
        assert "ko" in label.languages, label
        for locale in SUPPORTED_LOCALES:
            assert label.text(locale) == translate(locale, english)
    english_only = load_template(name, locales=("en",))
    assert english_only.title.languages == ("en",)
    assert definition_hash(english_only) != definition_hash(definition)


def test_the_eu_template_lists_the_directive_annex_areas() -> None:
    definition = load_template("eu_directive")
    area = definition.field("area")
    assert area is not None
    assert area.required
    labels = [o.label.text("en") for o in area.options]
    assert labels[: len(EU_AREAS)] == EU_AREAS
    assert any("internal market" in label for label in labels)
    korean = [o.label.text("ko") for o in area.options]
    assert all(k != e for k, e in zip(korean, labels, strict=True))


def test_the_eu_template_seals_identity_apart_and_asks_for_it_only_on_request() -> None:
    definition = load_template("eu_directive")
    identity = [f.id for f in definition.fields() if f.identity]
    assert identity == ["identity_name", "identity_relation", "identity_contact"]
    persons = definition.field("persons")
    evidence = definition.field("evidence")
    assert persons is not None
    assert persons.type is FieldType.GROUP
    assert evidence is not None
    assert evidence.type is FieldType.FILE
    steps = {
        0: {"good_faith": ["yes"]},
        1: {"area": ["environment"], "description": ["Waste poured into the river."]},
        3: {"persons[0].person_name": ["Site manager"], "persons[0].person_part": ["took_part"]},
        5: {"reported_before": ["no"]},
        7: {"give_identity": ["yes"]},
        8: {"identity_name": ["Jo Kim"]},
    }
    result = collect(definition, steps)
    assert result.valid, result.errors
    ref = QuestionnaireRef("q", 1, definition_hash(definition))
    sealed = seal_form(ref, definition, result.answers)
    assert sealed.identity is not None
    assert b"Jo Kim" not in sealed.answers
    assert read_document(definition, sealed.identity).answers == {"identity_name": "Jo Kim"}
    text = render_text(definition, read_document(definition, sealed.answers).answers, "ko")
    assert "환경 보호" in text

    steps[7] = {"give_identity": ["no"]}
    result = collect(definition, steps)
    assert "identity_name" not in result.answers  # the identity step is hidden and dropped
    assert seal_form(ref, definition, result.answers).identity is None


def test_the_newsroom_template_branches() -> None:
    definition = load_template("newsroom_tip")
    base = {
        0: {"what": ["The ministry hides the troop movements."]},
        3: {"has_documents": ["no"]},
        5: {"reply_by": ["here"]},
    }
    result = collect(definition, base)
    assert result.valid
    assert [s.index for s in result.steps] == [0, 1, 2, 3, 5]
    more = base | {3: {"has_documents": ["yes"]}, 5: {"reply_by": ["elsewhere"]}}
    result = collect(definition, more)
    assert [s.index for s in result.steps] == [0, 1, 2, 3, 4, 5, 6]
    assert set(result.errors[6]) == {"contact"}  # a required question on a shown step


def test_template_texts_are_extracted_for_translators() -> None:
    for name in template_names():
        path = f"src/mailslot/questionnaires/templates/{name}.json"
        with open(path, "rb") as handle:
            found = list(extract(handle, None, None, None))
        texts = list(template_texts(template_data(name)))
        assert [message for _, _, message, _ in found] == texts
        assert all(line >= 2 for line, _, _, _ in found)
        assert len(texts) > 20
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        line, _, message, _ = found[0]
        assert json.dumps(message, ensure_ascii=False) in lines[line - 1]


def test_every_template_text_is_in_the_catalogue_template() -> None:
    with open(LOCALE / "messages.pot", "rb") as handle:
        catalog = read_po(io.BytesIO(handle.read()))
    for name in template_names():
        missing = [t for t in template_texts(template_data(name)) if t not in catalog]
        assert missing == [], f"run ./scripts/i18n: {missing[:3]}"
