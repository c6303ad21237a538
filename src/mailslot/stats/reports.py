"""Statistics as use cases, shared by the dashboard, its CSV export and the API: for
administrators and analysts only. Viewing the figures is not audited (they are aggregates,
small counts hidden); an export is, since the file leaves Mailslot.

Each function is blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from mailslot.audit import services as audit
from mailslot.channels import services as channels
from mailslot.channels.services import ShownChannel
from mailslot.context import OrgContext
from mailslot.questionnaires import counts as answer_counts
from mailslot.recipients.models import User
from mailslot.stats import services as stats

# Spreadsheets run a cell that starts with one of these as a formula (channel names are
# typed by admins, but an export should never carry a formula).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Report:
    """The protected figures for a selection, and the channels to choose from."""

    figures: stats.Stats
    channels: list[ShownChannel]
    # Counts per answer of the questions marked for statistics (questionnaires/counts.py).
    answers: list[answer_counts.QuestionCounts] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CsvExport:
    filename: str
    text: str


def report(
    ctx: OrgContext,
    user: User,
    first: str | None,
    last: str | None,
    channel: str | None,
    *,
    locale: str | None = None,
) -> Report:
    """The figures for the months ``first`` to ``last`` (``YYYY-MM``; by default the last
    twelve) in one channel or all; channels named in ``locale`` (None: the organisation's
    default language)."""
    stats.require_viewer(user)
    now = ctx.now()
    chosen = stats.selection(first, last, channel, now=now)
    with ctx.db() as db:
        k = ctx.config.stats_min_count
        figures = stats.compute(db, chosen, k=k, now=now, locale=locale)
        answers = answer_counts.answer_counts(db, chosen, k=k)
        shown = channels.shown_in(db, channels.list_channels(db), locale)
        return Report(figures, shown, answers)


def channel_choices(ctx: OrgContext, locale: str | None) -> list[ShownChannel]:
    """Every channel, named in ``locale``: the dashboard's choices when a report failed."""
    with ctx.db() as db:
        return channels.shown_in(db, channels.list_channels(db), locale)


def export_csv(
    ctx: OrgContext,
    user: User,
    first: str | None,
    last: str | None,
    channel: str | None,
    *,
    locale: str | None = None,
) -> CsvExport:
    """The same figures as CSV (``section,item,value``), the answer counts included (see
    ``answer_rows``), channels named in ``locale`` as on the dashboard; the export is
    audited."""
    stats.require_viewer(user)
    now = ctx.now()
    chosen = stats.selection(first, last, channel, now=now)
    with ctx.db() as db:
        k = ctx.config.stats_min_count
        figures = stats.compute(db, chosen, k=k, now=now, locale=locale)
        answers = answer_counts.answer_counts(db, chosen, k=k)
        shown = channels.shown_in(db, channels.list_channels(db), locale)
        names = {found.id: found.name for found in shown}
        audit.record(
            db,
            "stats.export",
            now=now,
            actor_id=user.id,
            actor=user.username,
            first=str(chosen.first),
            last=str(chosen.last),
            channel_id=chosen.channel_id,
        )
    filename = f"mailslot-stats-{chosen.first}-{chosen.last}.csv"
    return CsvExport(filename, to_csv(figures, answer_rows(answers, names)))


def csv_cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def figure(value: stats.Count | float | None) -> str:
    """A published figure as text: a number, or ``hidden``."""
    if isinstance(value, stats.Count):
        value = value.value
    if value is None:
        return "hidden"
    return str(value)


def answer_rows(
    answers: list[answer_counts.QuestionCounts], names: dict[str, str]
) -> list[tuple[str, str, stats.Count]]:
    """The answer counts as rows, protected as on the page: one section per counted question
    (``answers:CHANNEL:vVERSION:FIELD``, the channel by name), whose items are ``(total)``
    (the answer sets counted), each option id, and ``(no answer)``. Option ids are lower
    case letters, digits and ``_``, so they never read as the bracketed items."""
    out: list[tuple[str, str, stats.Count]] = []
    for question in answers:
        field = question.counts.field
        name = names.get(question.channel_id, question.channel_id)
        section = f"answers:{name}:v{question.version}:{field.id}"
        out.append((section, "(total)", question.counts.total))
        out += [
            (section, "(no answer)" if count.option is None else count.option, count.count)
            for count in question.counts.counts
        ]
    return out


def to_csv(figures: stats.Stats, answers: list[tuple[str, str, stats.Count]] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "item", "value"])
    for section, item, value in [*stats.rows(figures), *(answers or [])]:
        writer.writerow([csv_cell(section), csv_cell(item), figure(value)])
    return out.getvalue()
