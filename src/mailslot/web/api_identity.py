"""Identity on request in the JSON API: a recipient asks to see a source's identity and
reads it once a custodian allowed it; a custodian lists pending requests and decides. The
use cases are in :mod:`mailslot.identity.requests`; every step is audited."""

from typing import Any, Self

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from mailslot.identity import requests
from mailslot.web.api_common import BODY_ERRORS, ERRORS, Current, ErrorOut, Org, call

router = APIRouter()

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "Not allowed to see or decide this."}
}
READ_ERRORS = {**ERRORS, **FORBIDDEN}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **BODY_ERRORS,
    **FORBIDDEN,
    409: {"model": ErrorOut, "description": "Allowed already, or a request is waiting."},
    422: {"description": "The body does not match the schema."},
}


class IdentityOut(BaseModel):
    """A source's identity, for a recipient a custodian allowed (each reading is audited)."""

    text: str
    time: int


class IdentityState(BaseModel):
    """In a case's JSON: the source gave their identity (never the identity itself), and
    where the caller stands. Absent (null) when the source gave none."""

    allowed: bool = Field(description="The caller may read it: GET /cases/{id}/identity.")
    pending: bool = Field(description="The caller's request waits for a custodian.")
    denied: bool = Field(description="A custodian denied the caller's last request.")

    @classmethod
    def of(cls, panel: requests.IdentityPanel | None) -> Self | None:
        if panel is None:
            return None
        return cls(allowed=panel.allowed, pending=panel.pending, denied=panel.denied)


class AskRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=requests.MAX_REASON_CHARS)


class RequestOut(BaseModel):
    id: str
    status: str


class PendingOut(BaseModel):
    """A request as a custodian sees it: who, which case, when, why; never the case."""

    id: str
    case_id: str
    pseudonym: str
    requester: str
    created_at: int
    reason: str | None = Field(description="None when the custodian's key is offline.")
    decidable: bool


@router.get("/cases/{case_id}/identity", response_model=IdentityOut, responses=READ_ERRORS)
async def read_identity(me: Current, ctx: Org, case_id: str) -> IdentityOut:
    opened = await call(ctx, requests.read, me.user, me.seed, case_id)
    return IdentityOut(text=opened.text, time=opened.time)


@router.post(
    "/cases/{case_id}/identity/requests",
    response_model=RequestOut,
    status_code=201,
    responses=WRITE_ERRORS,
)
async def ask(me: Current, ctx: Org, case_id: str, body: AskRequest) -> RequestOut:
    made = await call(ctx, requests.request_access, me.user, case_id, body.reason)
    return RequestOut(id=made.id, status=made.status)


@router.get("/identity/requests", response_model=list[PendingOut], responses=READ_ERRORS)
async def pending(me: Current, ctx: Org) -> list[PendingOut]:
    found = await call(ctx, requests.pending, me.user, me.seed)
    return [
        PendingOut(
            id=r.id,
            case_id=r.case_id,
            pseudonym=r.pseudonym,
            requester=r.requester,
            created_at=r.created_at,
            reason=r.reason,
            decidable=r.decidable,
        )
        for r in found
    ]


@router.post(
    "/identity/requests/{request_id}/approve", response_model=RequestOut, responses=READ_ERRORS
)
async def approve(me: Current, ctx: Org, request_id: str) -> RequestOut:
    done = await call(ctx, requests.decide, me.user, me.seed, request_id, approve=True)
    return RequestOut(id=done.id, status=done.status)


@router.post("/identity/requests/{request_id}/deny", status_code=204, responses=READ_ERRORS)
async def deny(me: Current, ctx: Org, request_id: str) -> Response:
    await call(ctx, requests.decide, me.user, me.seed, request_id, approve=False)
    return Response(status_code=204)
