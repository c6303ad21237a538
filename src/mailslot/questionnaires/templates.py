"""The questionnaire templates Mailslot ships, in every language it ships.

Each template is a definition in ``templates/NAME.json`` with English texts only. Those texts
are gettext msgids: :func:`extract` is a Babel extraction method (named in ``babel.cfg``) that
puts them into ``messages.pot``, so translators translate them with everything else, and
:func:`load_template` fills in every supported language from the catalogues when an admin
picks a template. The definition that results is an ordinary one, stored and versioned like
any other: a later translation does not change a questionnaire already in use (its hash would
change), it reaches the next one made from the template. A language the catalogue has not
translated yet is left out, so the label falls back to the organisation's default language,
then English.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import IO, Any, Final

from mailslot.i18n import DEFAULT_LOCALE, N_, SUPPORTED_LOCALES, translate
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.model import Definition, language_tag
from mailslot.questionnaires.parse import parse_definition


@dataclass(frozen=True, slots=True)
class Template:
    name: str  # the file's name, without .json
    title: str  # a msgid


TEMPLATES: Final = (
    Template("newsroom_tip", N_("Newsroom tip")),
    Template("eu_directive", N_("EU Whistleblowing Directive report")),
)
# The keys whose values are texts people read (a language-to-text object).
LABEL_KEYS: Final = frozenset({"title", "description", "label", "help", "text", "stop"})


def template_names() -> tuple[str, ...]:
    return tuple(template.name for template in TEMPLATES)


def template_data(name: str) -> dict[str, Any]:
    """The template's JSON as shipped (English only)."""
    if name not in template_names():
        raise QuestionnaireError("", N_('%(path)s: there is no template "%(name)s".'), name=name)
    path = resources.files("mailslot.questionnaires") / "templates" / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_template(name: str, locales: Sequence[str] = SUPPORTED_LOCALES) -> Definition:
    """The template as a definition, with each text in every locale that translates it."""
    data = template_data(name)
    for label in _labels(data):
        english = label[DEFAULT_LOCALE]
        for locale in locales:
            text = translate(locale, english)
            if locale != DEFAULT_LOCALE and text != english:
                label[language_tag(locale)] = text
    return parse_definition(data)


def template_texts(data: object) -> Iterator[str]:
    """Every English text of a template, in file order."""
    for label in _labels(data):
        yield label[DEFAULT_LOCALE]


def _labels(data: object) -> Iterator[dict[str, str]]:
    if isinstance(data, list):
        for item in data:
            yield from _labels(item)
    elif isinstance(data, dict):
        for key, value in data.items():
            if key in LABEL_KEYS and isinstance(value, dict) and DEFAULT_LOCALE in value:
                yield value
            else:
                yield from _labels(value)


def extract(
    fileobj: IO[bytes], keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel's extraction method for templates: each English text is a msgid."""
    text = fileobj.read().decode("utf-8")
    for message in template_texts(json.loads(text)):
        # The line of its first appearance, for translators who look at the file.
        position = text.find(json.dumps(message, ensure_ascii=False))
        line = text.count("\n", 0, position) + 1 if position >= 0 else 1
        yield line, "", message, ["Questionnaire template"]
