"""The staff JSON API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``)."""

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from mailslot import errors, i18n
from mailslot.audit import services as audit
from mailslot.cases import inbox as case_inbox
from mailslot.cases import retention
from mailslot.cases import services as cases
from mailslot.cases.models import CaseStatus
from mailslot.channels.models import Channel
from mailslot.recipients.models import Role
from mailslot.sessions import services as sessions
from mailslot.sessions.services import b64
from mailslot.web import api_audit, api_casework, api_retention, api_stats
from mailslot.web.api_casework import LabelOut, PersonOut
from mailslot.web.api_common import (
    BODY_ERRORS,
    ERRORS,
    TOKEN_ERRORS,
    Current,
    ErrorOut,
)
from mailslot.web.errors import retry_headers, status_for
from mailslot.web.staff import StaffViews


class TokenRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=512)
    totp: str = Field(max_length=16)


class TokenResponse(BaseModel):
    token: str
    expires_at: int


class CaseOut(BaseModel):
    id: str
    pseudonym: str
    channel: str
    created_at: int
    last_activity_at: int
    item_count: int
    unread: bool
    can_reply: bool
    expires_at: int = Field(
        description="When retention deletes the case (Unix time): the channel's rule, or later "
        "if a recipient kept it longer."
    )
    status: str = Field(description="The phase: new, acknowledged, in_progress or closed.")
    custom_status_id: str | None
    custom_status: str | None = Field(description="The channel's own name for the status.")
    important: bool
    labels: list[LabelOut]
    assignees: list[PersonOut]
    acknowledge_by: int | None = Field(description="Deadline to acknowledge receipt (Unix time).")
    acknowledged_at: int | None
    feedback_by: int | None = Field(description="Deadline to give feedback (Unix time).")
    feedback_at: int | None
    due_at: int | None = Field(description="The next deadline still open, if any.")
    overdue: bool = Field(description="True when due_at has passed.")
    closed_at: int | None


class CaseList(BaseModel):
    cases: list[CaseOut]
    total: int = Field(
        description="Cases matching the filters, counted up to ten pages past `offset` "
        f"(`offset + 10 * limit`, at most {case_inbox.COUNT_CAP})."
    )
    total_capped: bool = Field(
        default=False, description="True when more cases match than `total` says."
    )
    limit: int
    offset: int


class ItemOut(BaseModel):
    id: str
    kind: str
    position: int
    created_at: int
    time: int
    author: str | None
    filename: str | None
    content_type: str | None
    size: int
    text: str | None
    seen_by_source: bool
    sealed: bool = Field(
        default=False,
        description="True when the caller's key is offline: only kind, order and time are shown.",
    )


class CaseDetail(CaseOut):
    items: list[ItemOut]


class ReplyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=100_000)


class Created(BaseModel):
    id: str


def create_api(views: StaffViews) -> FastAPI:
    web = views.web
    runtime = web.runtime
    api = FastAPI(
        title="Mailslot staff API",
        version="1",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        description="Read and answer cases. Authenticate with POST /auth/token, then send "
        "`Authorization: Bearer <token>`.",
    )
    api.state.views = views

    @api.exception_handler(errors.ServiceError)
    async def service_error(request: Request, exc: errors.ServiceError) -> Response:
        return JSONResponse(
            {"detail": i18n.translate(i18n.DEFAULT_LOCALE, exc.message, dict(exc.params) or None)},
            status_code=status_for(exc),
            headers=retry_headers(exc),
        )

    @api.post("/auth/token", response_model=TokenResponse, responses=TOKEN_ERRORS)
    async def token(body: TokenRequest) -> TokenResponse:
        now = runtime.now()
        auth, _ = await views.authenticate(body.username, body.password, body.totp, now, via="api")

        def work(db: DbSession) -> TokenResponse:
            state = sessions.create(
                db,
                kind=sessions.API,
                data={
                    "user_id": auth.user.id,
                    "seed": b64(auth.private_seed) if auth.private_seed is not None else None,
                },
                now=now,
                absolute=runtime.config.api_token_lifetime,
                user_id=auth.user.id,
            )
            return TokenResponse(token=state.token, expires_at=state.row.expires_at)

        return await web.run(work)

    @api.delete("/auth/token", status_code=204, responses=ERRORS)
    async def revoke(me: Current) -> Response:
        now = runtime.now()

        def work(db: DbSession) -> None:
            sessions.destroy(db, me.state)
            audit.record(
                db, "auth.token_revoked", now=now, actor_id=me.user.id, actor=me.user.username
            )

        await web.run(work)
        return Response(status_code=204)

    def case_out(row: case_inbox.InboxRow, expires_at: int) -> dict[str, Any]:
        case = row.case
        return {
            "status": case.status,
            "custom_status_id": case.custom_status_id,
            "custom_status": row.custom_status,
            "important": case.important,
            "labels": [{"id": i, "name": name} for i, name in row.labels],
            "assignees": [{"id": i, "username": name} for i, name in row.assignees],
            "acknowledge_by": case.acknowledge_by,
            "acknowledged_at": case.acknowledged_at,
            "feedback_by": case.feedback_by,
            "feedback_at": case.feedback_at,
            "due_at": case.due_at,
            "overdue": row.overdue,
            "closed_at": case.closed_at,
            "expires_at": expires_at,
            "id": case.id,
            "pseudonym": case.pseudonym,
            "channel": row.channel_name,
            "created_at": case.created_at,
            "last_activity_at": case.last_activity_at,
            "item_count": case.item_count,
            "unread": row.unread,
            "can_reply": case.source_id is not None,
        }

    @api.get(
        "/cases",
        response_model=CaseList,
        responses={
            **ERRORS,
            400: {"model": ErrorOut, "description": "A filter value is not valid."},
        },
        description="The cases the caller holds a key for, filtered, sorted and paginated. "
        "Contents are encrypted, so `q` matches only the pseudonym (any part, any case) or "
        "the start of the case id.",
    )
    async def list_cases(  # the filters are query parameters, named by FastAPI
        *,
        me: Current,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        status: Annotated[CaseStatus | None, Query(description="The phase of the case.")] = None,
        custom_status: Annotated[
            str | None, Query(max_length=32, description="A custom status id.")
        ] = None,
        label: Annotated[str | None, Query(max_length=32, description="A label id.")] = None,
        assignee: Annotated[
            str | None,
            Query(max_length=32, description="A user id, `me`, or `none` for unassigned."),
        ] = None,
        channel: Annotated[str | None, Query(max_length=32, description="A channel id.")] = None,
        overdue: Annotated[bool, Query(description="Only cases past their deadline.")] = False,
        due_soon: Annotated[
            bool, Query(description="Only cases due within 3 days (not yet overdue).")
        ] = False,
        important: bool = False,
        unread: Annotated[bool, Query(description="Only cases with news for the caller.")] = False,
        created_after: Annotated[
            int | None, Query(ge=0, description="Created at or after (Unix time).")
        ] = None,
        created_before: Annotated[
            int | None, Query(ge=0, description="Created before (Unix time).")
        ] = None,
        q: Annotated[str, Query(max_length=100, description="Pseudonym or case id.")] = "",
        sort: Annotated[
            case_inbox.Sort,
            Query(description="activity (latest first), created, or deadline (soonest first)."),
        ] = case_inbox.Sort.ACTIVITY,
        order: Annotated[
            Literal["asc", "desc"] | None,
            Query(description="`asc` for oldest first (activity and created)."),
        ] = None,
    ) -> CaseList:
        if me.user.role == Role.ANALYST.value:
            raise errors.Forbidden("Analysts see statistics only.")
        now = runtime.now()
        params = {
            "status": status.value if status else "",
            "custom_status": custom_status or "",
            "label": label or "",
            "assignee": assignee or "",
            "channel": channel or "",
            "overdue": "1" if overdue else "",
            "due_soon": "1" if due_soon else "",
            "important": "1" if important else "",
            "unread": "1" if unread else "",
            "q": q,
            "sort": sort.value,
            "order": order or "",
        }
        query = dataclasses.replace(
            case_inbox.parse_query(params, me=me.user.id, limit=limit, offset=offset),
            created_from=created_after,
            created_to=created_before,
        )

        def listing(db: DbSession) -> tuple[case_inbox.InboxPage, dict[str, int]]:
            page = case_inbox.inbox(db, me.user, query, now)
            rules = {c.id: c for c in db.scalars(select(Channel))}
            expiry = {
                row.case.id: retention.expires_at(row.case, rules[row.case.channel_id])
                for row in page.rows
            }
            return page, expiry

        page, expiry = await web.run(listing)
        return CaseList(
            cases=[CaseOut(**case_out(row, expiry[row.case.id])) for row in page.rows],
            total=page.total,
            total_capped=page.total_capped,
            limit=limit,
            offset=offset,
        )

    @api.get("/cases/{case_id}", response_model=CaseDetail, responses=ERRORS)
    async def get_case(me: Current, case_id: str) -> CaseDetail:
        now = runtime.now()

        def work(db: DbSession) -> CaseDetail:
            case, wrap = cases.case_for_user(db, me.user, case_id)
            if me.seed is None:
                views_ = cases.sealed_items(db, case)
            else:
                views_ = cases.case_items(
                    db, runtime.blobs, case, cases.case_key(case, wrap, me.seed)
                )
            channel = db.get(Channel, case.channel_id)
            cases.mark_read(db, case, me.user)
            audit.record(
                db,
                "case.view",
                now=now,
                actor_id=me.user.id,
                actor=me.user.username,
                case_id=case.id,
                via="api",
            )
            items = [
                ItemOut(
                    id=v.item.id,
                    kind=v.item.kind,
                    position=v.item.position,
                    created_at=v.item.created_at,
                    time=v.time,
                    author=v.author,
                    filename=v.filename or None,
                    content_type=v.content_type if v.item.kind == "file" else None,
                    size=v.size,
                    text=v.text,
                    seen_by_source=v.item.seen_by_source,
                    sealed=v.sealed,
                )
                for v in views_
            ]
            assert channel is not None  # noqa: S101 - a case's channel is never deleted
            row = case_inbox.case_row(db, me.user, case, now)
            return CaseDetail(
                **case_out(row, retention.expires_at(case, channel)),
                items=items,
            )

        return await web.run(work)

    @api.get(
        "/cases/{case_id}/items/{item_id}/content",
        responses={
            200: {
                "description": "The item's plaintext: a file in its (sanitised) type, a message "
                "or reply as text/plain.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            **ERRORS,
        },
        response_class=Response,
    )
    async def item_content(me: Current, case_id: str, item_id: str) -> Response:
        view = await views.open_download(me.user, me.seed, case_id, item_id)
        return views.download_response(view)

    @api.post(
        "/cases/{case_id}/replies", status_code=201, response_model=Created, responses=BODY_ERRORS
    )
    async def reply(me: Current, case_id: str, body: ReplyRequest) -> Created:
        return Created(id=await views.send_reply(me.user, case_id, body.text))

    @api.delete("/cases/{case_id}", status_code=204, responses=ERRORS)
    async def delete_case(me: Current, case_id: str) -> Response:
        await views.delete_case(me.user, case_id)
        return Response(status_code=204)

    api.include_router(api_audit.router)
    api.include_router(api_casework.router)
    api.include_router(api_retention.router)
    api.include_router(api_stats.router)
    return api
