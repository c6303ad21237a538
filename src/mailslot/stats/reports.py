"""Statistics as use cases, shared by the dashboard, its CSV export and the API: for
administrators and analysts only. Viewing the figures is not audited (they are aggregates,
small counts hidden); an export is, since the file leaves Mailslot.

Each function is blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from mailslot.audit import services as audit
from mailslot.channels import services as channels
from mailslot.channels.models import Channel
from mailslot.context import OrgContext
from mailslot.recipients.models import User
from mailslot.stats import services as stats

# Spreadsheets run a cell that starts with one of these as a formula (channel names are
# typed by admins, but an export should never carry a formula).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Report:
    """The protected figures for a selection, and the channels to choose from."""

    figures: stats.Stats
    channels: list[Channel]


@dataclass(frozen=True, slots=True)
class CsvExport:
    filename: str
    text: str


def report(
    ctx: OrgContext, user: User, first: str | None, last: str | None, channel: str | None
) -> Report:
    """The figures for the months ``first`` to ``last`` (``YYYY-MM``; by default the last
    twelve) in one channel or all."""
    stats.require_viewer(user)
    now = ctx.now()
    chosen = stats.selection(first, last, channel, now=now)
    with ctx.db() as db:
        figures = stats.compute(db, chosen, k=ctx.config.stats_min_count, now=now)
        return Report(figures, channels.list_channels(db))


def export_csv(
    ctx: OrgContext, user: User, first: str | None, last: str | None, channel: str | None
) -> CsvExport:
    """The same figures as CSV (``section,item,value``); the export is audited."""
    stats.require_viewer(user)
    now = ctx.now()
    chosen = stats.selection(first, last, channel, now=now)
    with ctx.db() as db:
        figures = stats.compute(db, chosen, k=ctx.config.stats_min_count, now=now)
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
    return CsvExport(filename, to_csv(figures))


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


def to_csv(figures: stats.Stats) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "item", "value"])
    for section, item, value in stats.rows(figures):
        writer.writerow([section, csv_cell(item), figure(value)])
    return out.getvalue()
