"""``GET /api/v1/audit``: the audit trail for admins, filtered and paged."""

import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mailslot.audit import services as audit
from mailslot.audit import trail
from mailslot.web.api_common import ERRORS, Current, ErrorOut, Org, call

router = APIRouter()

DAY = 86400


class AuditEventOut(BaseModel):
    seq: int
    time: str = Field(description="ISO 8601, UTC, to the minute.")
    at: int = Field(description="Unix time, to the minute.")
    actor_id: str | None
    actor: str
    action: str
    case_id: str | None
    detail: dict[str, Any]
    prev: str = Field(description="Hash of the event before (hex).")
    hash: str = Field(description="This event's link in the chain (hex).")


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    total: int
    limit: int
    offset: int


def day_start(day: datetime.date) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp())


@router.get(
    "/audit",
    response_model=AuditPage,
    responses={**ERRORS, 403: {"model": ErrorOut, "description": "Admins only."}},
)
async def audit_events(
    *,
    me: Current,
    ctx: Org,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=48)] = None,
    case_id: Annotated[str | None, Query(max_length=32)] = None,
    since_seq: Annotated[int | None, Query(ge=0)] = None,
    from_: Annotated[
        datetime.date | None, Query(alias="from", description="First day (UTC) included.")
    ] = None,
    to: Annotated[datetime.date | None, Query(description="Last day (UTC) included.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    """Events newest first. Admins only: the log names cases but never holds their content."""
    filters = audit.Filters(
        actor=actor,
        action=action,
        case_id=case_id,
        since_seq=since_seq,
        start=day_start(from_) if from_ else None,
        end=day_start(to) + DAY if to else None,
    )
    page = await call(ctx, trail.browse, me.user, filters, limit=limit, offset=offset)
    return AuditPage(
        events=[AuditEventOut(**audit.as_json(e, page.previous[e.seq])) for e in page.events],
        total=page.total,
        limit=limit,
        offset=offset,
    )
