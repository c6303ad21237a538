"""Answers counted in clear, in aggregate: only the questions marked for statistics, one
counter per channel, version, field, option and month (never per case), published with
small counts hidden."""

from __future__ import annotations

import pytest

from mailslot.channels import services as channels
from mailslot.questionnaires import Answers, QuestionnaireError, counts, store, to_data
from mailslot.questionnaires.models import AnswerCount
from mailslot.runtime import Runtime
from mailslot.stats.services import Month, Selection
from tests.unit.questionnaires.builders import build, field, step

NOW = 1_764_165_600  # 2025-11-26
NEXT_MONTH = NOW + 31 * 86400

DEFINITION = build(
    step(
        field("kind", "single_choice", statistics=True),
        field("areas", "multiple_choice", statistics=True),
        field("urgent", "yes_no", statistics=True),
        field("private", "single_choice"),  # not marked: never counted
        field("text", "short_text"),
    )
)


def stored_version(runtime: Runtime) -> store.Stored:
    with runtime.default.db() as db:
        channel = channels.create_channel(
            db, name={"en": "desk"}, description={}, recipients=(), now=NOW
        )
    return store.set_definition(runtime.default, None, channel.id, DEFINITION)


def test_only_marked_questions_are_counted_never_per_case(runtime: Runtime) -> None:
    stored = stored_version(runtime)
    sets = [
        Answers({"kind": "a", "areas": ("a", "b"), "urgent": True, "private": "a"}),
        Answers({"kind": "a", "areas": ("b",), "urgent": False, "text": "secret words"}),
        Answers({"kind": "b"}),
    ]
    with runtime.default.db() as db:
        for answers in sets:
            counts.record(db, stored, answers, now=NOW)
        counts.record(db, stored, Answers({"kind": "c"}), now=NEXT_MONTH)
    with runtime.default.db() as db:
        rows = db.query(AnswerCount).all()
        found = {(r.field_id, r.option_id, r.month): r.count for r in rows}
        assert set(AnswerCount.__table__.c.keys()) == {
            "channel_id",
            "questionnaire_id",
            "field_id",
            "option_id",
            "month",
            "count",
        }
    assert {f for f, _, _ in found} == {"kind", "areas", "urgent"}
    assert all(str(value) != "secret words" for row in rows for value in vars(row).values())
    november = {(f, o): n for (f, o, m), n in found.items() if m == "2025-11"}
    assert november == {
        ("kind", "*"): 3,
        ("kind", "a"): 2,
        ("kind", "b"): 1,
        ("areas", "*"): 3,
        ("areas", "a"): 1,
        ("areas", "b"): 2,
        ("areas", ""): 1,
        ("urgent", "*"): 3,
        ("urgent", "yes"): 1,
        ("urgent", "no"): 1,
        ("urgent", ""): 1,
    }
    assert found[("kind", "c", "2025-12")] == 1
    # Published for the selected months, with the statistics pages' suppression.
    both = Selection(Month(2025, 11), Month(2025, 12), stored.channel_id)
    with runtime.default.db() as db:
        plain = counts.answer_counts(db, both, k=1)
        protected = counts.answer_counts(db, both, k=2)
        november_only = counts.answer_counts(db, Selection(Month(2025, 11), Month(2025, 11)), k=1)
    by_field = {q.counts.field.id: q.counts for q in plain}
    assert [q.counts.field.id for q in plain] == ["kind", "areas", "urgent"]
    assert by_field["kind"].total.value == 4
    assert {c.option: c.count.value for c in by_field["kind"].counts} == {
        "a": 2,
        "b": 1,
        "c": 1,
        None: 0,
    }
    assert {q.counts.field.id: q.counts.total.value for q in november_only}["kind"] == 3
    kind = next(q.counts for q in protected if q.counts.field.id == "kind")
    # b and c (1 each) are hidden; together they hold 2, so a (2) may stay shown.
    assert {c.option: c.count.value for c in kind.counts} == {"a": 2, "b": None, "c": None, None: 0}


def test_only_choice_fields_outside_groups_and_identity_may_be_counted() -> None:
    for bad in (
        step(field("t", "short_text", statistics=True)),
        step(field("who", "single_choice", identity=True, statistics=True)),
        step(field("g", "group", fields=[field("c", "yes_no", statistics=True)])),
    ):
        with pytest.raises(QuestionnaireError):
            build(bad)
    assert build(step(field("y", "yes_no", statistics=True))).steps[0].fields[0].statistics
    # Left out, it is not written in the canonical form: older hashes do not change.
    assert "statistics" not in str(to_data(build(step(field("y", "yes_no")))))
