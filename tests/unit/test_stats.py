"""Statistics: the aggregates on a known set of cases, small-count protection, the SVG
charts, the CSV rows, and the analyst role's place (no channel, no case key, no case)."""

from __future__ import annotations

import calendar
import csv
import dataclasses
import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.audit.models import AuditEvent
from mailslot.cases import deadlines, inbox, sealing
from mailslot.cases import services as cases
from mailslot.cases.errors import CaseNotFound
from mailslot.cases.models import Case, CaseKeyWrap, CaseStatus
from mailslot.channels import services as channels
from mailslot.channels.models import Channel
from mailslot.config import load_config
from mailslot.errors import ConfigError, Forbidden, InvalidInput, NotFound
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role, User
from mailslot.runtime import Runtime
from mailslot.stats import reports
from mailslot.stats import services as stats
from mailslot.stats.charts import Bar, bar_chart, nice_step
from mailslot.stats.reports import csv_cell, to_csv

HOUR = 3600
DAY = 86400
PASSWORD = "correct horse battery staple"
# "Now" for the known data set: the start of April 2026.
NOW = calendar.timegm((2026, 4, 1, 0, 0, 0))


def day(month: int, number: int) -> int:
    return calendar.timegm((2026, month, number, 0, 0, 0))


def user(db: Session, username: str, role: Role, channel_names: Sequence[str] = ()) -> User:
    return recipients.create_user(
        db,
        username=username,
        role=role,
        password=PASSWORD,
        kdf=crypto.TEST_KDF,
        now=NOW,
        channel_names=channel_names,
    ).user


def build_known_cases(db: Session, now: int = NOW) -> dict[str, str]:
    """Twenty cases opened through the services, with chosen (coarse) times:

    - ``default`` (feedback within 30 days): 12 cases opened 1-12 January 2026. Cases 1-6
      acknowledged after 1 day, 7-11 after 2 days, 12 after 10 days (late). Cases 1-6 got
      feedback 5 days after acknowledgement; cases 1-5 closed 30 days after opening.
      Statuses: 5 closed, 7 acknowledged.
    - ``legal``: 6 cases opened 1-6 February, never acknowledged (status new).
    - ``tiny``: 2 cases opened 1-2 March, acknowledged after 1 day (status in progress).

    Returns the channel ids by name.
    """
    ids = {}
    for name in ("default", "legal", "tiny"):
        channel = db.query(Channel).filter_by(name=name).one_or_none()
        if channel is None:
            channel = channels.create_channel(db, name=name, description="", recipients=[], now=now)
        ids[name] = channel.id
    member = user(db, "stats-member", Role.RECIPIENT)
    for name in ids:
        channels.add_member(db, channels.get_channel_by_name(db, name), member)
    default = channels.get_channel_by_name(db, "default")
    default.feedback_days = 30

    def opened(channel_name: str, when: int) -> tuple[Case, Channel]:
        channel = channels.get_channel_by_name(db, channel_name)
        return sealing.open_case(db, channel, None, when), channel

    for n in range(1, 13):
        case, channel = opened("default", day(1, n))
        delay = DAY if n <= 6 else 2 * DAY if n <= 11 else 10 * DAY
        deadlines.acknowledge(case, channel, case.created_at + delay)
        case.status = CaseStatus.ACKNOWLEDGED.value
        if n <= 6:
            deadlines.give_feedback(case, channel, case.acknowledged_at + 5 * DAY)  # type: ignore[operator]
        if n <= 5:
            case.status = CaseStatus.CLOSED.value
            case.closed_at = case.created_at + 30 * DAY
            deadlines.refresh_due(case)
    for n in range(1, 7):
        opened("legal", day(2, n))
    for n in range(1, 3):
        case, channel = opened("tiny", day(3, n))
        deadlines.acknowledge(case, channel, case.created_at + DAY)
        case.status = CaseStatus.IN_PROGRESS.value
    db.flush()
    return ids


def values(cells: list[stats.Cell]) -> dict[str, int | None]:
    return {cell.label: cell.count.value for cell in cells}


def compute(
    runtime: Runtime,
    first: str = "2026-01",
    last: str = "2026-03",
    channel: str | None = None,
    k: int = 5,
) -> stats.Stats:
    with runtime.default.db() as db:
        chosen = stats.selection(first, last, channel, now=NOW)
        return stats.compute(db, chosen, k=k, now=NOW)


@pytest.fixture
def known(runtime: Runtime) -> dict[str, str]:
    with runtime.default.db() as db:
        return build_known_cases(db)


# The numbers.


def test_raw_numbers_with_protection_off(runtime: Runtime, known: dict[str, str]) -> None:
    figures = compute(runtime, k=1)
    assert figures.total.value == 20
    assert values(figures.channels) == {"default": 12, "legal": 6, "tiny": 2}
    assert values(figures.statuses) == {"new": 6, "acknowledged": 7, "in_progress": 2, "closed": 5}
    assert values(figures.months) == {"2026-01": 12, "2026-02": 6, "2026-03": 2}
    ack, feedback, close = figures.durations
    # 14 acknowledged: 8 after one day, 5 after two, 1 after ten (nearest rank).
    assert (ack.cases.value, ack.median_days, ack.p90_days) == (14, 1.0, 2.0)
    assert (feedback.cases.value, feedback.median_days, feedback.p90_days) == (6, 5.0, 5.0)
    assert (close.cases.value, close.median_days, close.p90_days) == (5, 30.0, 30.0)
    # Overdue now: legal's six were never acknowledged; six of default's wait for feedback
    # past their 30 days.
    assert figures.overdue_acknowledge.value == 6
    assert figures.overdue_feedback.value == 6
    on_ack, on_feedback = figures.on_time
    assert (on_ack.cases.value, on_ack.percent) == (14, 92.9)  # 13 of 14
    assert (on_feedback.cases.value, on_feedback.percent) == (6, 100.0)


def test_small_counts_are_hidden_with_a_complement(runtime: Runtime, known: dict[str, str]) -> None:
    figures = compute(runtime)
    assert figures.min_count == 5
    assert figures.total.value == 20
    # tiny (2) is hidden; hiding it alone would leave it as 20 - 12 - 6: legal goes too.
    assert values(figures.channels) == {"default": 12, "legal": None, "tiny": None}
    # in progress (2) is hidden, and closed (5, the smallest shown) with it.
    assert values(figures.statuses) == {
        "new": 6,
        "acknowledged": 7,
        "in_progress": None,
        "closed": None,
    }
    assert values(figures.months) == {"2026-01": 12, "2026-02": None, "2026-03": None}
    # Five or more cases: times are shown. The share on time is withheld: one case was late.
    assert [d.median_days for d in figures.durations] == [1.0, 5.0, 30.0]
    on_ack, on_feedback = figures.on_time
    assert on_ack.withheld
    assert on_ack.cases.value == 14
    assert on_feedback.percent == 100.0
    for breakdown in (figures.channels, figures.statuses, figures.months):
        assert_not_derivable(breakdown, figures.total.value, 5)


def assert_not_derivable(cells: list[stats.Cell], total: int | None, k: int) -> None:
    """Total minus the shown counts (what the hidden ones add up to) is 0 or at least k."""
    assert total is not None
    rest = total - sum(c.count.value or 0 for c in cells)
    assert rest == 0 or rest >= k
    if rest:
        assert sum(c.count.hidden for c in cells) >= 2


def test_zero_is_shown_and_the_range_adds_empty_months(
    runtime: Runtime, known: dict[str, str]
) -> None:
    figures = compute(runtime, "2025-12", "2026-04")
    assert values(figures.months) == {
        "2025-12": 0,
        "2026-01": 12,
        "2026-02": None,
        "2026-03": None,
        "2026-04": 0,
    }


def test_a_channel_alone(runtime: Runtime, known: dict[str, str]) -> None:
    figures = compute(runtime, channel=known["legal"])
    assert figures.total.value == 6
    assert values(figures.channels) == {"legal": 6}
    assert values(figures.statuses) == {"new": 6, "acknowledged": 0, "in_progress": 0, "closed": 0}
    assert figures.overdue_acknowledge.value == 6
    assert all(d.withheld and d.cases.value == 0 for d in figures.durations)
    tiny = compute(runtime, channel=known["tiny"])
    assert tiny.total.hidden
    assert values(tiny.channels) == {"tiny": None}
    assert values(tiny.statuses) == {"new": 0, "acknowledged": 0, "in_progress": None, "closed": 0}
    ack = tiny.durations[0]
    assert ack.withheld
    assert ack.cases.hidden
    with pytest.raises(NotFound):
        compute(runtime, channel="0" * 32)


def test_a_month_outside_the_cases(runtime: Runtime, known: dict[str, str]) -> None:
    figures = compute(runtime, "2027-01", "2027-02")
    assert figures.total.value == 0
    assert values(figures.channels) == {"default": 0, "legal": 0, "tiny": 0}
    assert all(d.withheld for d in figures.durations)
    assert all(t.withheld for t in figures.on_time)


def test_selection_reads_months_and_refuses_nonsense() -> None:
    default = stats.selection(None, None, None, now=NOW)
    assert (str(default.first), str(default.last)) == ("2025-05", "2026-04")
    assert len(default.months) == 12
    chosen = stats.selection("2025-11", "2026-02", "", now=NOW)
    assert [str(m) for m in chosen.months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert chosen.channel_id is None
    assert chosen.first.start == calendar.timegm((2025, 11, 1, 0, 0, 0))
    for first, last in (("2026-13", None), ("26-01", None), ("2026-1", None), ("x", None)):
        with pytest.raises(InvalidInput):
            stats.selection(first, last, None, now=NOW)
    with pytest.raises(InvalidInput):
        stats.selection("2026-03", "2026-01", None, now=NOW)
    with pytest.raises(InvalidInput):
        stats.selection("2000-01", "2026-01", None, now=NOW)  # more than 120 months
    with pytest.raises(NotFound):
        stats.selection(None, None, "not-an-id", now=NOW)


# Protection rules on their own.


def hidden(values_: Sequence[int], k: int = 5) -> list[int | None]:
    return [c.value for c in stats.protect_breakdown(values_, k)]


def test_protect_breakdown_examples() -> None:
    assert hidden([10, 7, 0]) == [10, 7, 0]
    assert hidden([10, 7, 1]) == [10, None, None]
    assert hidden([10, 3, 4]) == [10, None, None]  # 3 + 4 = 7: already enough
    assert hidden([10, 1, 1, 6]) == [10, None, None, None]  # 1 + 1 = 2, then 6
    assert hidden([2, 0, 0]) == [None, 0, 0]  # all there is: the total is hidden too
    assert hidden([1, 2]) == [None, None]
    assert hidden([3, 9], k=1) == [3, 9]
    assert stats.protect_count(0, 5).value == 0
    assert stats.protect_count(4, 5).hidden
    assert stats.protect_count(5, 5).value == 5


@given(st.lists(st.integers(min_value=0, max_value=40), max_size=12), st.integers(1, 10))
def test_no_hidden_count_can_be_worked_out_from_the_total(values_: list[int], k: int) -> None:
    counts = stats.protect_breakdown(values_, k)
    total = sum(values_)
    shown = [c.value for c in counts if c.value is not None]
    for raw, count in zip(values_, counts, strict=True):
        if count.value is not None:
            assert count.value == raw
        assert not (0 < raw < k) or count.hidden
        assert not (raw == 0 and count.hidden)
    rest = total - sum(shown)
    # What the hidden counts add up to is none, or at least k, or the whole (small) total.
    assert (
        rest == 0 or rest >= k or all(c.hidden for c, v in zip(counts, values_, strict=True) if v)
    )


def test_percentile_is_nearest_rank() -> None:
    histogram = [(1, 8), (2, 5), (10, 1)]
    assert stats.percentile(histogram, 0.5) == 1
    assert stats.percentile(histogram, 0.9) == 2
    assert stats.percentile(histogram, 1.0) == 10
    assert stats.percentile([(7, 1)], 0.5) == 7
    with pytest.raises(ValueError, match="empty"):
        stats.percentile([], 0.5)


# Charts.


def test_bar_chart_is_escaped_accessible_svg_without_style() -> None:
    bars = [
        Bar('<script>alert("x")</script> & co', 12, "12"),
        Bar("quiet", None, "hidden"),
        Bar("a very long channel name that goes on and on", 3.5, "3.5 days"),
    ]
    svg = str(bar_chart(title='Cases "per" <channel>', bars=bars, axis_label="Cases"))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "style" not in svg.lower()
    root = ET.fromstring(svg)  # noqa: S314 - our own output: checks that it is well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == 'Cases "per" <channel>'
    assert root.find(f"{ns}title").text == 'Cases "per" <channel>'  # type: ignore[union-attr]
    rects = root.findall(f"{ns}rect")
    assert len(rects) == 2  # no bar for the hidden value
    widths = [float(r.get("width", "0")) for r in rects]
    assert widths[0] > widths[1] > 0
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "hidden" in texts
    assert "Cases" in texts  # the axis title
    assert "0" in texts  # the first tick
    assert any(t and t.endswith("…") for t in texts)


def test_bar_chart_of_nothing() -> None:
    svg = str(bar_chart(title="Empty", bars=[], axis_label="Cases"))
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.findall("{http://www.w3.org/2000/svg}rect") == []


def test_nice_steps() -> None:
    assert nice_step(0) == 1
    assert nice_step(12) == 5
    assert nice_step(100) == 50
    assert nice_step(3) == 1
    assert nice_step(0.8) == 0.2


# CSV.


def test_csv_has_every_figure_with_hidden_ones_marked(
    runtime: Runtime, known: dict[str, str]
) -> None:
    text = to_csv(compute(runtime))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "item", "value"]
    table = {(section, item): value for section, item, value in rows[1:]}
    assert table["cases", "total"] == "20"
    assert table["channel", "default"] == "12"
    assert table["channel", "tiny"] == "hidden"
    assert table["status", "in_progress"] == "hidden"
    assert table["month", "2026-01"] == "12"
    assert table["time_to_acknowledge", "median_days"] == "1.0"
    assert table["time_to_close", "p90_days"] == "30.0"
    assert table["overdue", "acknowledge"] == "6"
    assert table["on_time_acknowledge", "percent"] == "hidden"
    assert table["on_time_feedback", "percent"] == "100.0"


def test_csv_cells_never_start_a_formula() -> None:
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_cell("+1") == "'+1"
    assert csv_cell("@sum") == "'@sum"
    assert csv_cell("plain") == "plain"


# The analyst role.


def test_analysts_hold_no_case_and_join_no_channel(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        member = user(db, "member", Role.RECIPIENT, ["default"])
        analyst = user(db, "analyst", Role.ANALYST)
        admin = user(db, "admin", Role.ADMIN)
        default = channels.get_channel_by_name(db, "default")
        with pytest.raises(InvalidInput):
            channels.set_members(db, default, [member.username, analyst.username])
        with pytest.raises(InvalidInput):
            channels.add_member(db, default, analyst)
        with pytest.raises(InvalidInput):
            recipients.create_enrollment(
                db, role=Role.ANALYST, now=NOW, lifetime=3600, channel_ids=[default.id]
            )
        assert recipients.create_enrollment(db, role=Role.ANALYST, now=NOW, lifetime=3600)
        case = sealing.open_case(db, default, None, NOW)
        wraps = db.query(CaseKeyWrap.user_id).filter_by(case_id=case.id).all()
        assert [w[0] for w in wraps] == [member.id]
        with pytest.raises(CaseNotFound):
            cases.case_for_user(db, analyst, case.id)
        nothing = inbox.inbox(db, analyst, inbox.InboxQuery(), NOW)
        assert (nothing.rows, nothing.total) == ([], 0)
        assert cases.case_for_user(db, member, case.id)[0].id == case.id
        # Statistics: administrators and analysts, not recipients.
        stats.require_viewer(analyst)
        stats.require_viewer(admin)
        with pytest.raises(Forbidden):
            stats.require_viewer(member)


def test_the_threshold_is_configurable() -> None:
    assert load_config({}).stats_min_count == 5
    assert load_config({"MAILSLOT_STATS_MIN_COUNT": "10"}).stats_min_count == 10
    for bad in ("0", "-1", "five"):
        with pytest.raises(ConfigError):
            load_config({"MAILSLOT_STATS_MIN_COUNT": bad})


def test_the_documented_limit_two_selections_can_be_compared(
    runtime: Runtime, known: dict[str, str]
) -> None:
    """docs/threat-model.md says so: each answer is protected, but subtracting two answers
    can give a small count (here March's two cases). This test keeps that statement true."""
    with_march = compute(runtime, "2026-01", "2026-03")
    without = compute(runtime, "2026-01", "2026-02")
    assert values(with_march.months)["2026-03"] is None
    assert with_march.total.value is not None
    assert without.total.value is not None
    assert with_march.total.value - without.total.value == 2


def test_the_report_and_the_audited_export_are_for_viewers_only(
    runtime: Runtime, known: dict[str, str]
) -> None:
    """The use cases the dashboard, the CSV export and the API share."""
    with runtime.default.db() as db:
        analyst = user(db, "analyst", Role.ANALYST)
        member = user(db, "member", Role.RECIPIENT, ["default"])
    ctx = dataclasses.replace(runtime.default, clock=lambda: NOW)
    k = runtime.config.stats_min_count
    found = reports.report(ctx, analyst, "2026-01", "2026-03", None)
    assert found.figures == compute(runtime, k=k)
    assert "tiny" in {c.name for c in found.channels}
    export = reports.export_csv(ctx, analyst, "2026-01", "2026-03", None)
    assert export.filename == "mailslot-stats-2026-01-2026-03.csv"
    assert export.text == to_csv(compute(runtime, k=k))
    with runtime.default.db() as db:
        trail = db.execute(select(AuditEvent.action, AuditEvent.actor)).all()
    assert [tuple(row) for row in trail] == [("stats.export", "analyst")]
    for use_case in (reports.report, reports.export_csv):
        with pytest.raises(Forbidden):
            use_case(ctx, member, "2026-01", "2026-03", None)
    with runtime.default.db() as db:
        assert db.scalar(select(func.count()).select_from(AuditEvent)) == 1
