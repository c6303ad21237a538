"""Counts per answer of the fields a questionnaire marks ``"statistics": true`` (choice and
yes/no fields at the top level, never identity answers), kept in clear in aggregate.

Answers are sealed to the case's readers, so the server cannot count them afterwards. It
counts them once, when they are sent (the only moment it holds them in clear anyway), in the
same transaction that stores the case: one counter per channel, questionnaire version,
field, option and month (``questionnaire_answer_counts``), never a row per case, so that the
counters say how many answered what in a month and nothing about which case answered what.
A field is counted only if its definition says so, and the builder, the spec and the page a
source answers on say that its answers are counted. The option ``""`` counts answer sets
without an answer to the field (hidden or left empty), ``"*"`` every answer set counted.

Published counts go through ``stats.py``'s small-count suppression.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailslot.questionnaires import store
from mailslot.questionnaires.model import Definition, Field
from mailslot.questionnaires.models import AnswerCount
from mailslot.questionnaires.stats import FieldCounts, chosen_options, countable, protected
from mailslot.questionnaires.values import Answers
from mailslot.stats.services import Month, Selection

NO_ANSWER: Final = ""
ALL: Final = "*"
_MORE: Final = {"count": AnswerCount.count + 1}


def counted(definition: Definition) -> list[Field]:
    """The fields whose answers are counted."""
    return [field for field in countable(definition) if field.statistics]


def record(db: Session, stored: store.Stored, answers: Answers, *, now: int) -> None:
    """Count one answer set sent now (in the caller's transaction)."""
    month = str(Month.of(now))
    for field in counted(stored.definition):
        chosen = [o for o in chosen_options(answers.get(field.id)) if o in field.option_ids]
        for option in (ALL, *(chosen or [NO_ANSWER])):
            _bump(db, stored, field.id, option, month)


def _bump(db: Session, stored: store.Stored, field_id: str, option: str, month: str) -> None:
    values = {
        "channel_id": stored.channel_id,
        "questionnaire_id": stored.ref.id,
        "field_id": field_id,
        "option_id": option,
        "month": month,
        "count": 1,
    }
    keys = ["channel_id", "questionnaire_id", "field_id", "option_id", "month"]
    # One statement whichever request comes first: an insert, or one more if the row exists.
    # Each dialect's module is imported when used (as db/base.py's insert_ignoring_conflict):
    # PostgreSQL's would cost an instance on SQLite memory for nothing.
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415 - see above

        pg = postgresql.insert(AnswerCount).values(values)
        db.execute(pg.on_conflict_do_update(index_elements=keys, set_=_MORE))
    else:
        from sqlalchemy.dialects import sqlite  # noqa: PLC0415 - see above

        lite = sqlite.insert(AnswerCount).values(values)
        db.execute(lite.on_conflict_do_update(index_elements=keys, set_=_MORE))


@dataclass(frozen=True, slots=True)
class QuestionCounts:
    """One counted question of one questionnaire version, over the selected months."""

    channel_id: str
    version: int
    counts: FieldCounts


def answer_counts(db: Session, chosen: Selection, *, k: int) -> list[QuestionCounts]:
    """The counts for the months and channel of ``chosen``, protected, per questionnaire
    version (by channel, then version) and counted field (in the definition's order)."""
    months = [str(month) for month in chosen.months]
    query = (
        select(
            AnswerCount.questionnaire_id,
            AnswerCount.field_id,
            AnswerCount.option_id,
            func.sum(AnswerCount.count),
        )
        .where(AnswerCount.month.in_(months))
        .group_by(AnswerCount.questionnaire_id, AnswerCount.field_id, AnswerCount.option_id)
    )
    if chosen.channel_id is not None:
        query = query.where(AnswerCount.channel_id == chosen.channel_id)
    tallies: dict[str, dict[str, dict[str, int]]] = {}
    for questionnaire_id, field_id, option, total in db.execute(query):
        per_field = tallies.setdefault(questionnaire_id, {}).setdefault(field_id, {})
        per_field[option] = int(total)
    found: list[QuestionCounts] = []
    for questionnaire_id, fields in tallies.items():
        stored = store.version(db, questionnaire_id)
        if stored is not None:
            found += _questions(stored, fields, k)
    return sorted(found, key=lambda q: (q.channel_id, q.version))


def _questions(
    stored: store.Stored, fields: dict[str, dict[str, int]], k: int
) -> Iterable[QuestionCounts]:
    for field in counted(stored.definition):
        tally = fields.get(field.id)
        if tally is None:
            continue
        counts = protected(field, tally, tally.get(NO_ANSWER, 0), tally.get(ALL, 0), k=k)
        yield QuestionCounts(stored.channel_id, stored.ref.version, counts)
