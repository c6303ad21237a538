"""The staff JSON API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``)."""

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session as DbSession

from mailslot import errors, i18n
from mailslot.cases import services as cases
from mailslot.cases.models import Case
from mailslot.channels.models import Channel
from mailslot.sessions import services as sessions
from mailslot.sessions.services import b64
from mailslot.web.api_common import (
    BODY_ERRORS,
    ERRORS,
    TOKEN_ERRORS,
    Current,
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


class CaseList(BaseModel):
    cases: list[CaseOut]
    total: int
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
        auth, _ = await views.authenticate(body.username, body.password, body.totp, now)

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
        await web.run(lambda db: sessions.destroy(db, me.state))
        return Response(status_code=204)

    def case_out(case: Case, channel: str, unread: bool) -> dict[str, Any]:
        return {
            "id": case.id,
            "pseudonym": case.pseudonym,
            "channel": channel,
            "created_at": case.created_at,
            "last_activity_at": case.last_activity_at,
            "item_count": case.item_count,
            "unread": unread,
            "can_reply": case.source_id is not None,
        }

    @api.get("/cases", response_model=CaseList, responses=ERRORS)
    async def list_cases(
        me: Current,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> CaseList:
        summaries, total = await web.run(
            lambda db: cases.visible_cases(db, me.user, limit=limit, offset=offset)
        )
        return CaseList(
            cases=[CaseOut(**case_out(s.case, s.channel_name, s.unread)) for s in summaries],
            total=total,
            limit=limit,
            offset=offset,
        )

    @api.get("/cases/{case_id}", response_model=CaseDetail, responses=ERRORS)
    async def get_case(me: Current, case_id: str) -> CaseDetail:
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
            return CaseDetail(**case_out(case, channel.name if channel else "", False), items=items)

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

    return api
