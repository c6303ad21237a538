"""Aggregates about cases for the dashboard, the CSV export and the API.

Every figure is about the cases *opened* in the selected months (and channel): how many per
channel, per status and per month; how long acknowledgement, feedback and closing took
(median and 90th percentile, nearest rank, in days); how many are overdue now; and what share
met each deadline. The database does the counting (``GROUP BY``); durations come back as a
histogram of distinct values (times are coarse, to the hour), so no query returns a row per
case.

Nothing leaves this module unprotected. Small counts could single out a case, so:

1. every count from 1 to ``k - 1`` is hidden (``k`` is ``MAILSLOT_STATS_MIN_COUNT``);
   zero is shown;
2. in each breakdown (channels, statuses, months), which all add up to the same total, the
   hidden counts together must hold at least ``k`` cases, else the smallest shown counts are
   hidden too, so that a hidden count cannot be worked out by subtracting the shown ones
   from the total; hidden counts all look alike, so it cannot be told which one is small;
3. durations are withheld for fewer than ``k`` cases, and a share of cases on time is
   withheld unless both the on-time and the late counts are zero or at least ``k``.

Comparing two selections (two date ranges, one channel and all) can still reveal a
difference smaller than ``k``: see the threat model.
"""

from __future__ import annotations

import calendar
import datetime
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from mailslot.cases.models import Case, CaseStatus
from mailslot.channels import services as channel_services
from mailslot.channels.models import Channel
from mailslot.errors import Forbidden, InvalidInput, NotFound
from mailslot.i18n import N_plural
from mailslot.recipients.models import Role, User

DAY: Final = 86400
HOUR: Final = 3600
MAX_MONTHS: Final = 120
DEFAULT_MONTHS: Final = 12
STATUSES: Final = tuple(CaseStatus)
MEASURES: Final = ("acknowledge", "feedback", "close")
_MONTH_RE: Final = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH_RE.fullmatch(text.strip())
        if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1970:
            raise InvalidInput("A month looks like 2026-01.")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, timestamp: int) -> Month:
        moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
        return cls(moment.year, moment.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def back(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 - months
        return Month(index // 12, index % 12 + 1)

    @property
    def start(self) -> int:
        return calendar.timegm((self.year, self.month, 1, 0, 0, 0))

    def until(self, last: Month) -> list[Month]:
        months, month = [], self
        while month <= last:
            months.append(month)
            month = month.next()
        return months


@dataclass(frozen=True, slots=True)
class Selection:
    """Cases opened from the start of ``first`` to the end of ``last``, in one channel or all."""

    first: Month
    last: Month
    channel_id: str | None = None

    @property
    def months(self) -> list[Month]:
        return self.first.until(self.last)


def selection(
    first: str | None, last: str | None, channel_id: str | None, *, now: int
) -> Selection:
    """Read a selection from request parameters: by default the last twelve months."""
    end = Month.parse(last) if last else Month.of(now)
    start = Month.parse(first) if first else end.back(DEFAULT_MONTHS - 1)
    if start > end:
        raise InvalidInput("The first month comes after the last.")
    if len(start.until(end)) > MAX_MONTHS:
        raise InvalidInput(
            N_plural("Choose at most %(num)s month.", "Choose at most %(num)s months."),
            num=MAX_MONTHS,
        )
    channel = (channel_id or "").strip() or None
    if channel is not None and len(channel) != 32:
        raise NotFound("No such channel.")
    return Selection(start, end, channel)


# What is published.


@dataclass(frozen=True, slots=True)
class Count:
    """A published count: ``value`` is None when it is hidden."""

    value: int | None

    @property
    def hidden(self) -> bool:
        return self.value is None


@dataclass(frozen=True, slots=True)
class Cell:
    key: str  # a channel id, a status or a month (YYYY-MM)
    label: str  # what to show: a channel name, the status, the month
    count: Count


@dataclass(frozen=True, slots=True)
class Duration:
    """How long a step took, in days: withheld (None) for fewer than ``k`` cases."""

    measure: str  # acknowledge (opened → acknowledged), feedback (acknowledged → feedback),
    # close (opened → closed)
    cases: Count
    median_days: float | None
    p90_days: float | None

    @property
    def withheld(self) -> bool:
        return self.median_days is None


@dataclass(frozen=True, slots=True)
class OnTime:
    """The share (percent) of cases whose step came by its deadline."""

    measure: str  # acknowledge, feedback
    cases: Count
    percent: float | None

    @property
    def withheld(self) -> bool:
        return self.percent is None


@dataclass(frozen=True, slots=True)
class Stats:
    selection: Selection
    min_count: int
    total: Count
    channels: list[Cell]
    statuses: list[Cell]
    months: list[Cell]
    durations: list[Duration]
    overdue_acknowledge: Count
    overdue_feedback: Count
    on_time: list[OnTime]


# Small-count protection.


def protect_count(value: int, k: int) -> Count:
    return Count(None if 0 < value < k else value)


def protect_breakdown(values: Sequence[int], k: int) -> list[Count]:
    """Hide counts from 1 to k - 1, then more (smallest first) until the hidden ones hold at
    least ``k`` cases together, so that none can be worked out from the total."""
    hidden = [0 < value < k for value in values]

    def hidden_sum() -> int:
        return sum(value for value, hide in zip(values, hidden, strict=True) if hide)

    while 0 < hidden_sum() < k:
        shown = [i for i, value in enumerate(values) if not hidden[i] and value > 0]
        if not shown:
            break  # everything is hidden already (then the total is below k too)
        hidden[min(shown, key=lambda i: (values[i], i))] = True
    return [Count(None if hide else value) for value, hide in zip(values, hidden, strict=True)]


def percentile(histogram: Sequence[tuple[int, int]], fraction: float) -> int:
    """Nearest-rank percentile of a sorted ``(value, how many)`` histogram."""
    total = sum(n for _, n in histogram)
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value, n in histogram:
        seen += n
        if seen >= rank:
            return value
    raise ValueError("empty histogram")


def _days(seconds: int) -> float:
    return round(max(0, seconds) / DAY, 1)


def _duration(measure: str, histogram: list[tuple[int, int]], k: int) -> Duration:
    cases = sum(n for _, n in histogram)
    if cases == 0 or cases < k:
        return Duration(measure, protect_count(cases, k), None, None)
    return Duration(
        measure,
        Count(cases),
        _days(percentile(histogram, 0.5)),
        _days(percentile(histogram, 0.9)),
    )


def _on_time(measure: str, cases: int, in_time: int, k: int) -> OnTime:
    late = cases - in_time
    if cases < k or 0 < in_time < k or 0 < late < k:
        return OnTime(measure, protect_count(cases, k), None)
    return OnTime(measure, Count(cases), round(100 * in_time / cases, 1))


# The queries.


def _where(chosen: Selection) -> list[ColumnElement[bool]]:
    where = [
        Case.created_at >= chosen.first.start,
        Case.created_at < chosen.last.next().start,
    ]
    if chosen.channel_id is not None:
        where.append(Case.channel_id == chosen.channel_id)
    return where


def _flag(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def compute(
    db: Session, chosen: Selection, *, k: int, now: int, locale: str | None = None
) -> Stats:
    """Every aggregate for ``chosen``, protected (see the module docstring); channels named
    in ``locale`` (None: the organisation's default language)."""
    channels = list(db.execute(select(Channel.id, Channel.name).order_by(Channel.name)))
    if chosen.channel_id is not None:
        channels = [row for row in channels if row[0] == chosen.channel_id]
        if not channels:
            raise NotFound("No such channel.")
    names = channel_services.names_in(db, dict(channels), locale)
    where = _where(chosen)

    # Counts per channel and status: the groups are few, and the sort behind GROUP BY holds
    # only these two columns (the deadline figures come from a separate, unsorted pass).
    by_channel: dict[str, int] = {}
    by_status: dict[str, int] = {}
    cube = select(Case.channel_id, Case.status, func.count()).where(*where)
    for channel_id, status, n in db.execute(cube.group_by(Case.channel_id, Case.status)):
        by_channel[channel_id] = by_channel.get(channel_id, 0) + n
        by_status[status] = by_status.get(status, 0) + n

    overdue = and_(Case.due_at.is_not(None), Case.due_at < now)
    totals = db.execute(
        select(
            func.count(),
            _flag(and_(overdue, Case.acknowledged_at.is_(None))),
            _flag(and_(overdue, Case.acknowledged_at.is_not(None))),
            func.count(Case.acknowledged_at),
            _flag(Case.acknowledged_at <= Case.acknowledge_by),
            func.count(Case.feedback_at),
            _flag(Case.feedback_at <= Case.feedback_by),
        ).where(*where)
    ).one()
    total, late_ack, late_feedback, acknowledged, ack_in_time, fed_back, feedback_in_time = (
        int(value) for value in totals
    )

    day = (Case.created_at // DAY).label("day")
    by_month: dict[Month, int] = {}
    for first_day, n in db.execute(select(day, func.count()).where(*where).group_by(day)):
        month = Month.of(int(first_day) * DAY)
        by_month[month] = by_month.get(month, 0) + n

    histograms = {
        "acknowledge": _histogram(db, where, Case.acknowledged_at, Case.created_at),
        "feedback": _histogram(db, where, Case.feedback_at, Case.acknowledged_at),
        "close": _histogram(db, where, Case.closed_at, Case.created_at),
    }

    def cells(pairs: Iterable[tuple[str, str, int]]) -> list[Cell]:
        rows = list(pairs)
        counts = protect_breakdown([n for _, _, n in rows], k)
        return [Cell(key, label, c) for (key, label, _), c in zip(rows, counts, strict=True)]

    return Stats(
        selection=chosen,
        min_count=k,
        total=protect_count(total, k),
        channels=cells((cid, names[cid], by_channel.get(cid, 0)) for cid, _ in channels),
        statuses=cells((s.value, s.value, by_status.get(s.value, 0)) for s in STATUSES),
        months=cells((str(m), str(m), by_month.get(m, 0)) for m in chosen.months),
        durations=[_duration(measure, histograms[measure], k) for measure in MEASURES],
        overdue_acknowledge=protect_count(late_ack, k),
        overdue_feedback=protect_count(late_feedback, k),
        on_time=[
            _on_time("acknowledge", acknowledged, ack_in_time, k),
            _on_time("feedback", fed_back, feedback_in_time, k),
        ],
    )


def _histogram(
    db: Session, where: list[ColumnElement[bool]], end: Any, start: Any
) -> list[tuple[int, int]]:
    """``(end - start, how many)`` for the selected cases where both are set, sorted."""
    took = (end - start).label("took")
    query = (
        select(took, func.count())
        .where(*where, end.is_not(None), start.is_not(None))
        .group_by(took)
        .order_by(took)
    )
    return [(int(value), int(n)) for value, n in db.execute(query)]


# Flat rows: the CSV export and the tables under each chart share them.


def rows(stats: Stats) -> list[tuple[str, str, Count | float | None]]:
    """``(section, item, value)`` for every published figure, in a fixed order."""
    out: list[tuple[str, str, Count | float | None]] = [("cases", "total", stats.total)]
    out += [("channel", cell.label, cell.count) for cell in stats.channels]
    out += [("status", cell.key, cell.count) for cell in stats.statuses]
    out += [("month", cell.key, cell.count) for cell in stats.months]
    for d in stats.durations:
        out += [
            (f"time_to_{d.measure}", "cases", d.cases),
            (f"time_to_{d.measure}", "median_days", d.median_days),
            (f"time_to_{d.measure}", "p90_days", d.p90_days),
        ]
    out += [
        ("overdue", "acknowledge", stats.overdue_acknowledge),
        ("overdue", "feedback", stats.overdue_feedback),
    ]
    for t in stats.on_time:
        out += [
            (f"on_time_{t.measure}", "cases", t.cases),
            (f"on_time_{t.measure}", "percent", t.percent),
        ]
    return out


# Who may see them.


def may_see(user: User) -> bool:
    """Administrators and analysts see statistics; recipients work cases instead."""
    return user.role in (Role.ADMIN.value, Role.ANALYST.value)


def require_viewer(user: User) -> None:
    if not may_see(user):
        raise Forbidden("Only administrators and analysts can see statistics.")
