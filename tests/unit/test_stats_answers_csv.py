"""Answer counts in the statistics CSV (``/stats.csv``): one section per counted question,
suppressed exactly as the dashboard and the API suppress them."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

from sqlalchemy import select

from mailslot.channels.models import Channel
from mailslot.questionnaires import counts, store
from mailslot.recipients.models import Role
from mailslot.runtime import Runtime
from mailslot.stats import reports
from tests.unit.test_stats import NOW, user

DEFINITION = {
    "version": 1,
    "title": {"en": "Report"},
    "steps": [
        {
            "title": {"en": "What happened"},
            "fields": [
                {"id": "what", "type": "short_text", "label": {"en": "What?"}},
                {"id": "urgent", "type": "yes_no", "statistics": True, "label": {"en": "Urgent?"}},
            ],
        }
    ],
}


def test_the_csv_carries_the_answer_counts_as_the_page_shows_them(runtime: Runtime) -> None:
    ctx = dataclasses.replace(runtime.default, clock=lambda: float(NOW))
    k = runtime.config.stats_min_count
    with ctx.db() as db:
        analyst = user(db, "analyst", Role.ANALYST)
        channel_id = db.scalar(select(Channel.id).where(Channel.name == "default"))
        assert channel_id is not None
    stored = store.import_file(ctx, None, channel_id, json.dumps(DEFINITION).encode())
    with ctx.db() as db:
        for answers in [{"urgent": True}] * k + [{"urgent": False}] + [{}] * (k + 1):
            counts.record(db, stored, answers, now=NOW - 86400)  # type: ignore[arg-type]

    export = reports.export_csv(ctx, analyst, "2026-03", "2026-03", None)
    rows = list(csv.reader(io.StringIO(export.text)))
    section = f"answers:default:v{stored.ref.version}:urgent"
    mine = {item: value for name, item, value in rows if name == section}
    # One "no" is hidden, and so is the next smallest ("yes") that would give it away.
    assert mine == {
        "(total)": str(2 * k + 2),
        "yes": "hidden",
        "no": "hidden",
        "(no answer)": str(k + 1),
    }
    page = reports.report(ctx, analyst, "2026-03", "2026-03", None).answers
    (question,) = page
    shown = {c.option or "(no answer)": c.count.value for c in question.counts.counts}
    assert {i: None if v == "hidden" else int(v) for i, v in mine.items() if i[0] != "("} == {
        i: v for i, v in shown.items() if i[0] != "("
    }
    assert not any(name.endswith(":what") for name, _, _ in rows)  # not counted
