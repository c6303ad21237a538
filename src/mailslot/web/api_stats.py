"""``GET /api/v1/stats``: the dashboard's figures as JSON, for administrators and analysts."""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mailslot.stats import reports
from mailslot.stats import services as stats
from mailslot.web.api_common import (
    ERRORS,
    IN_READERS_LANGUAGE,
    Current,
    ErrorOut,
    Locale,
    Org,
    call,
)

router = APIRouter()

SUPPRESSED = (
    "True when the figure is hidden so that it cannot single out a case (then the value "
    "is null): a count from 1 to min_count - 1, or another count of the same breakdown "
    "hidden with it so that it cannot be worked out from the total, or a time or share "
    "based on too few cases."
)


class CountOut(BaseModel):
    value: int | None = Field(description="The count, or null when suppressed.")
    suppressed: bool = Field(description=SUPPRESSED)


class CellOut(CountOut):
    key: str = Field(description="The channel id, the status, or the month (YYYY-MM).")
    label: str = Field(
        description="The channel's name, the status, or the month. A channel's name: "
        + IN_READERS_LANGUAGE
    )


class DurationOut(BaseModel):
    measure: str = Field(
        description="acknowledge (opened to acknowledged), feedback (acknowledged to first "
        "feedback) or close (opened to closed)."
    )
    cases: CountOut
    median_days: float | None
    p90_days: float | None = Field(description="90th percentile, nearest rank.")
    suppressed: bool = Field(description=SUPPRESSED)


class OnTimeOut(BaseModel):
    measure: str = Field(description="acknowledge or feedback.")
    cases: CountOut
    percent: float | None = Field(description="Share of the cases that met the deadline.")
    suppressed: bool = Field(description=SUPPRESSED)


class AnswerCountOut(CountOut):
    option: str | None = Field(description="The option id (yes or no); null: no answer.")


class QuestionCountsOut(BaseModel):
    channel_id: str
    questionnaire_version: int
    field: str = Field(description="The field id in the questionnaire's definition.")
    total: CountOut = Field(description="The answer sets counted.")
    answers: list[AnswerCountOut]


class StatsOut(BaseModel):
    first_month: str
    last_month: str
    channel: str | None
    min_count: int = Field(description="Counts below this (except 0) are suppressed.")
    total: CountOut
    channels: list[CellOut]
    statuses: list[CellOut]
    months: list[CellOut]
    durations: list[DurationOut]
    overdue_acknowledge: CountOut
    overdue_feedback: CountOut
    on_time: list[OnTimeOut]
    answers: list[QuestionCountsOut] = Field(
        default_factory=list,
        description="Counts per answer of the questionnaire fields marked for statistics, "
        "counted when the answers were sent, in the selected months and channel.",
    )


def count_out(count: stats.Count) -> CountOut:
    return CountOut(value=count.value, suppressed=count.hidden)


def cells_out(cells: list[stats.Cell]) -> list[CellOut]:
    return [
        CellOut(key=c.key, label=c.label, value=c.count.value, suppressed=c.count.hidden)
        for c in cells
    ]


def stats_out(figures: stats.Stats) -> StatsOut:
    chosen = figures.selection
    return StatsOut(
        first_month=str(chosen.first),
        last_month=str(chosen.last),
        channel=chosen.channel_id,
        min_count=figures.min_count,
        total=count_out(figures.total),
        channels=cells_out(figures.channels),
        statuses=cells_out(figures.statuses),
        months=cells_out(figures.months),
        durations=[
            DurationOut(
                measure=d.measure,
                cases=count_out(d.cases),
                median_days=d.median_days,
                p90_days=d.p90_days,
                suppressed=d.withheld,
            )
            for d in figures.durations
        ],
        overdue_acknowledge=count_out(figures.overdue_acknowledge),
        overdue_feedback=count_out(figures.overdue_feedback),
        on_time=[
            OnTimeOut(
                measure=t.measure,
                cases=count_out(t.cases),
                percent=t.percent,
                suppressed=t.withheld,
            )
            for t in figures.on_time
        ],
    )


MONTH = r"^\d{4}-\d{2}$"


@router.get(
    "/stats",
    response_model=StatsOut,
    responses={
        **ERRORS,
        400: {"model": ErrorOut, "description": "A month is malformed or the range too long."},
        403: {"model": ErrorOut, "description": "The caller is not an administrator or analyst."},
    },
    summary="Case statistics (aggregates only, small counts suppressed)",
)
async def get_stats(
    *,
    me: Current,
    ctx: Org,
    locale: Locale,
    first: Annotated[
        str | None, Query(alias="from", pattern=MONTH, description="First month, YYYY-MM.")
    ] = None,
    last: Annotated[
        str | None, Query(alias="to", pattern=MONTH, description="Last month, YYYY-MM.")
    ] = None,
    channel: Annotated[str | None, Query(max_length=32, description="A channel id.")] = None,
) -> StatsOut:
    """Cases opened in the selected months (by default the last twelve), in one channel or
    all: counts per channel, status and month; time to acknowledge, give feedback and
    close; overdue counts; shares on time."""
    found = await call(ctx, reports.report, me.user, first, last, channel, locale=locale)
    out = stats_out(found.figures)
    out.answers = [
        QuestionCountsOut(
            channel_id=q.channel_id,
            questionnaire_version=q.version,
            field=q.counts.field.id,
            total=count_out(q.counts.total),
            answers=[
                AnswerCountOut(option=a.option, value=a.count.value, suppressed=a.count.hidden)
                for a in q.counts.counts
            ],
        )
        for q in found.answers
    ]
    return out
