"""Cases in the JSON API: the list, one case with its items, an item's plaintext, replies and
deletion. The use cases are in :mod:`mailslot.cases` (``listing``, ``reading``, ``replies``,
``deletion``); opening, downloading, replying and deleting are audited."""

import dataclasses
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from mailslot import errors
from mailslot.cases import deletion, listing, reading, replies
from mailslot.cases import inbox as case_inbox
from mailslot.cases import services as cases
from mailslot.cases.models import CaseStatus, ItemKind
from mailslot.recipients.models import Role
from mailslot.web.api_casework import LabelOut, PersonOut
from mailslot.web.api_common import (
    BODY_ERRORS,
    ERRORS,
    IN_READERS_LANGUAGE,
    Current,
    ErrorOut,
    Locale,
    Org,
    call,
)
from mailslot.web.api_identity import IdentityState
from mailslot.web.downloads import item_response

router = APIRouter()


class CaseOut(BaseModel):
    id: str
    pseudonym: str
    channel: str = Field(description="The channel's name. " + IN_READERS_LANGUAGE)
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
    custom_status: str | None = Field(
        description="The channel's own name for the status. " + IN_READERS_LANGUAGE
    )
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

    @classmethod
    def from_listed(cls, listed: listing.Listed, **more: Any) -> Self:
        """A case as the inbox lists it (``more``: a subclass's own fields)."""
        row, case = listed.row, listed.row.case
        return cls(
            id=case.id,
            pseudonym=case.pseudonym,
            channel=row.channel_name,
            created_at=case.created_at,
            last_activity_at=case.last_activity_at,
            item_count=case.item_count,
            unread=row.unread,
            can_reply=case.source_id is not None,
            expires_at=listed.expires_at,
            status=case.status,
            custom_status_id=case.custom_status_id,
            custom_status=row.custom_status,
            important=case.important,
            labels=[LabelOut(id=i, name=name) for i, name in row.labels],
            assignees=[PersonOut(id=i, username=name) for i, name in row.assignees],
            acknowledge_by=case.acknowledge_by,
            acknowledged_at=case.acknowledged_at,
            feedback_by=case.feedback_by,
            feedback_at=case.feedback_at,
            due_at=case.due_at,
            overdue=row.overdue,
            closed_at=case.closed_at,
            **more,
        )


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
    sealed_drop: bool = Field(
        default=False,
        description="A file recognised as a sealed drop: its contents are at .../drop.",
    )

    @classmethod
    def from_view(cls, view: cases.ItemView) -> Self:
        item = view.item
        return cls(
            id=item.id,
            kind=item.kind,
            position=item.position,
            created_at=item.created_at,
            time=view.time,
            author=view.author,
            filename=view.filename or None,
            content_type=view.content_type if item.kind == ItemKind.FILE else None,
            size=view.size,
            text=view.text,
            seen_by_source=item.seen_by_source,
            sealed=view.sealed,
            sealed_drop=view.sealed_drop,
        )


class CaseDetail(CaseOut):
    items: list[ItemOut]
    identity: IdentityState | None = Field(
        default=None,
        description="Set when the source gave their identity (sealed apart: only whether "
        "the caller may read it, or has asked); null when they gave none.",
    )


class ReplyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=100_000)


class Created(BaseModel):
    id: str


@router.get(
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
    ctx: Org,
    me: Current,
    locale: Locale,
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
    # The same filters as the inbox page's form, checked by the same parser.
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
    found = await call(ctx, listing.list_cases, me.user, query, locale)
    return CaseList(
        cases=[CaseOut.from_listed(listed) for listed in found.cases],
        total=found.total,
        total_capped=found.total_capped,
        limit=limit,
        offset=offset,
    )


@router.get("/cases/{case_id}", response_model=CaseDetail, responses=ERRORS)
async def get_case(ctx: Org, me: Current, locale: Locale, case_id: str) -> CaseDetail:
    content = await call(ctx, reading.read_case, me.user, me.seed, case_id, via="api")
    # As the list shows it, read after the opening marked it read.
    listed = await call(ctx, listing.list_entry, me.user, content.case.id, locale)
    return CaseDetail.from_listed(
        listed,
        items=[ItemOut.from_view(v) for v in content.items],
        identity=IdentityState.of(content.panel.identity),
    )


@router.get(
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
async def item_content(ctx: Org, me: Current, case_id: str, item_id: str) -> Response:
    view = await call(ctx, reading.open_item, me.user, me.seed, case_id, item_id)
    return item_response(ctx.blobs, view)


@router.post(
    "/cases/{case_id}/replies", status_code=201, response_model=Created, responses=BODY_ERRORS
)
async def reply(ctx: Org, me: Current, case_id: str, body: ReplyRequest) -> Created:
    return Created(id=await call(ctx, replies.send_reply, me.user, case_id, body.text))


@router.delete("/cases/{case_id}", status_code=204, responses=ERRORS)
async def delete_case(ctx: Org, me: Current, case_id: str) -> Response:
    await call(ctx, deletion.delete_case, me.user, case_id)
    return Response(status_code=204)
