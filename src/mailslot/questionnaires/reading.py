"""Answers as recipients read them: a sealed answers document, opened by the case's
reader, rendered as questions and answers against the questionnaire version it names."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from mailslot.i18n import DEFAULT_LOCALE
from mailslot.questionnaires import store
from mailslot.questionnaires.errors import QuestionnaireError
from mailslot.questionnaires.render import render_text
from mailslot.questionnaires.sealed import ANSWERS_PART, ReadDocument, read_document

# The media types of the items a questionnaire's answers are sealed into (``intake.py``).
ANSWERS_TYPE = "application/vnd.mailslot.answers+json"
IDENTITY_TYPE = "application/vnd.mailslot.identity+json"


def opened(db: Session, document: bytes, part: str) -> tuple[store.Stored, ReadDocument] | None:
    """A sealed document of ``part`` (answers or identity), read against the questionnaire
    version it names; None when that version is gone or the document does not fit it."""
    try:
        named = json.loads(document)["questionnaire"]["id"]
    except (ValueError, KeyError, TypeError):
        return None
    stored = store.version(db, str(named))
    if stored is None:
        return None
    try:
        read = read_document(stored.definition, document)
    except QuestionnaireError:
        return None
    return (stored, read) if read.part == part else None


def readable(db: Session, document: bytes, locale: str = DEFAULT_LOCALE) -> str | None:
    """The answers as text, against the version they were given with; None when that
    version is gone or the document does not fit it (the JSON stays downloadable)."""
    found = opened(db, document, ANSWERS_PART)
    if found is None:
        return None
    stored, read = found
    return render_text(
        stored.definition,
        read.answers,
        locale,
        DEFAULT_LOCALE,
        version_hash=stored.ref.hash,
        file_refs=True,
    )
