"""Retention in the JSON API: keep a case longer than its channel's rule, with a reason.
The use case is :func:`mailslot.cases.retention.keep_case`; the action is audited."""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mailslot.cases import retention
from mailslot.web.api_common import BODY_ERRORS, Current, ErrorOut, Org, call

router = APIRouter()

KEEP_ERRORS: dict[int | str, dict[str, Any]] = {
    **BODY_ERRORS,
    400: {"model": ErrorOut, "description": "The date is out of range, or the body unreadable."},
    403: {"model": ErrorOut, "description": "The caller's key is offline (the reason is sealed)."},
    422: {"description": "The body does not match the schema."},
}


class KeepRequest(BaseModel):
    until: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="Keep the case at least until the end of this day (UTC), at most about "
        "five years ahead.",
    )
    reason: str = Field(
        min_length=1,
        max_length=retention.MAX_REASON_CHARS,
        description="Kept as a sealed internal note; the audit trail records only the date.",
    )


class KeepOut(BaseModel):
    expires_at: int = Field(description="When the case will now be deleted (Unix time).")


@router.post("/cases/{case_id}/retention", response_model=KeepOut, responses=KEEP_ERRORS)
async def keep_case(me: Current, ctx: Org, case_id: str, body: KeepRequest) -> KeepOut:
    expires_at = await call(
        ctx, retention.keep_case, me.user, me.seed, case_id, until=body.until, reason=body.reason
    )
    return KeepOut(expires_at=expires_at)
