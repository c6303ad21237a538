"""Counts per answer of choice fields, with the statistics pages' small-count suppression."""

from __future__ import annotations

import pytest

from mailslot.questionnaires import Answers
from mailslot.questionnaires.stats import choice_counts, countable
from tests.unit.questionnaires.builders import build, field, step

pytestmark = pytest.mark.no_database

DEFINITION = build(
    step(
        field("kind", "single_choice"),
        field("areas", "multiple_choice"),
        field("urgent", "yes_no"),
        field("who", "single_choice", identity=True),
        field("persons", "group", fields=[field("part", "single_choice")]),
        field("text", "short_text"),
    )
)


def counts(sets: list[Answers], k: int) -> dict[str, dict[str | None, int | None]]:
    return {
        result.field.id: {c.option: c.count.value for c in result.counts}
        for result in choice_counts(DEFINITION, sets, k=k)
    }


def test_only_top_level_choice_fields_without_identity_are_counted() -> None:
    assert [f.id for f in countable(DEFINITION)] == ["kind", "areas", "urgent"]


def test_counts_without_suppression() -> None:
    sets = [
        Answers({"kind": "a", "areas": ("a", "b"), "urgent": True}),
        Answers({"kind": "a", "areas": ("b",), "urgent": False}),
        Answers({"kind": "b"}),
    ]
    assert counts(sets, k=1) == {
        "kind": {"a": 2, "b": 1, "c": 0, None: 0},
        "areas": {"a": 1, "b": 2, "c": 0, None: 1},
        "urgent": {"yes": 1, "no": 1, None: 1},
    }


def test_small_counts_are_hidden() -> None:
    sets = [Answers({"kind": "a", "areas": ("a",)}) for _ in range(10)]
    sets += [Answers({"kind": "b", "areas": ("a", "b")}) for _ in range(2)]
    sets += [Answers({"kind": "c", "areas": ("c",)})]
    result = counts(sets, k=5)
    # 2 and 1 are hidden; together they hold 3 < 5, so the next smallest (10) goes too,
    # else the two could be worked out from the total of 13.
    assert result["kind"] == {"a": None, "b": None, "c": None, None: 0}
    # Multiple choice: not a breakdown of the total, each count protected on its own.
    assert result["areas"] == {"a": 12, "b": None, "c": None, None: 0}
    first = choice_counts(DEFINITION, sets, k=5)[0]
    assert first.total.value == 13
    assert first.counts[0].label is not None
    assert first.counts[0].label.text("en") == "Option a"
    assert choice_counts(DEFINITION, sets[:2], k=5)[0].total.hidden
