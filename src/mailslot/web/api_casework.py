"""Case work in the JSON API: status, the important mark, labels, assignees, internal notes and
who has access. The use cases are in :mod:`mailslot.cases.actions`; every action is audited."""

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from mailslot.cases import actions, listing, work
from mailslot.context import OrgContext
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

router = APIRouter()

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "Only recipients work on cases."}
}
READ_ERRORS = {**ERRORS, **FORBIDDEN}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **BODY_ERRORS,
    **FORBIDDEN,
    409: {"model": ErrorOut, "description": "Already so, or it would lock everyone out."},
    422: {"description": "The body does not match the schema."},
}
DELETE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    **FORBIDDEN,
    409: {"model": ErrorOut, "description": "Revoking the last holder is refused."},
}
Phase = Literal["new", "acknowledged", "in_progress", "closed"]


class StatusRequest(BaseModel):
    status: Phase | None = Field(
        default=None, description="The phase; may be left out when custom_status_id is given."
    )
    custom_status_id: str | None = Field(
        default=None,
        min_length=32,
        max_length=32,
        description="One of the channel's own statuses; it sets the phase.",
    )
    reason: str = Field(
        default="",
        max_length=work.MAX_REASON_CHARS,
        description="Needed to close: kept as a sealed internal note, never shown to the source.",
    )


class ImportantRequest(BaseModel):
    important: bool


class LabelRequest(BaseModel):
    name: str = Field(min_length=1, max_length=work.MAX_LABEL_CHARS)


class UserRequest(BaseModel):
    user_id: str = Field(min_length=32, max_length=32)


class NoteRequest(BaseModel):
    text: str = Field(min_length=1, max_length=work.MAX_NOTE_CHARS)


class LabelOut(BaseModel):
    id: str
    name: str


class PersonOut(BaseModel):
    id: str
    username: str


class CaseWorkOut(BaseModel):
    """A case's work state after an action (all of it stored in clear)."""

    id: str
    status: str
    custom_status_id: str | None
    custom_status: str | None = Field(
        description="The channel's own name for the status. " + IN_READERS_LANGUAGE
    )
    important: bool
    labels: list[LabelOut]
    assignees: list[PersonOut]
    acknowledge_by: int | None
    acknowledged_at: int | None
    feedback_by: int | None
    feedback_at: int | None
    due_at: int | None
    closed_at: int | None


class NoteCreated(BaseModel):
    id: str


class AccessEntryOut(BaseModel):
    user_id: str | None
    username: str | None
    granted_by: str | None = Field(description="Null for the channel's recipients at the start.")
    granted_at: int
    revoked_by: str | None
    revoked_at: int | None


class AccessOut(BaseModel):
    holders: list[PersonOut]
    history: list[AccessEntryOut]


class LabelList(BaseModel):
    labels: list[LabelOut]


class RecipientList(BaseModel):
    recipients: list[PersonOut]


async def work_out(ctx: OrgContext, state: actions.WorkState, locale: str) -> CaseWorkOut:
    """The case's work state after an action, its custom status named in ``locale``."""
    case = state.case
    custom_status = state.custom_status
    if custom_status is not None and case.custom_status_id is not None:
        custom_status = await call(
            ctx, listing.status_name, case.custom_status_id, custom_status, locale
        )
    return CaseWorkOut(
        id=case.id,
        status=case.status,
        custom_status_id=case.custom_status_id,
        custom_status=custom_status,
        important=case.important,
        labels=[LabelOut(id=label.id, name=label.name) for label in state.labels],
        assignees=[PersonOut(id=u.id, username=u.username) for u in state.assignees],
        acknowledge_by=case.acknowledge_by,
        acknowledged_at=case.acknowledged_at,
        feedback_by=case.feedback_by,
        feedback_at=case.feedback_at,
        due_at=case.due_at,
        closed_at=case.closed_at,
    )


def access_out(found: actions.Access) -> AccessOut:
    return AccessOut(
        holders=[PersonOut(id=u.id, username=u.username) for u in found.holders],
        history=[
            AccessEntryOut(
                user_id=e.user_id,
                username=e.username,
                granted_by=e.granted_by,
                granted_at=e.granted_at,
                revoked_by=e.revoked_by,
                revoked_at=e.revoked_at,
            )
            for e in found.history
        ],
    )


@router.post("/cases/{case_id}/status", response_model=CaseWorkOut, responses=WRITE_ERRORS)
async def set_status(
    me: Current, ctx: Org, locale: Locale, case_id: str, body: StatusRequest
) -> CaseWorkOut:
    state = await call(
        ctx,
        actions.set_status,
        me.user,
        case_id,
        status=body.status,
        custom_status_id=body.custom_status_id,
        reason=body.reason,
    )
    return await work_out(ctx, state, locale)


@router.put("/cases/{case_id}/important", response_model=CaseWorkOut, responses=WRITE_ERRORS)
async def set_important(
    me: Current, ctx: Org, locale: Locale, case_id: str, body: ImportantRequest
) -> CaseWorkOut:
    state = await call(ctx, actions.set_important, me.user, case_id, body.important)
    return await work_out(ctx, state, locale)


@router.post("/cases/{case_id}/labels", response_model=CaseWorkOut, responses=WRITE_ERRORS)
async def add_label(
    me: Current, ctx: Org, locale: Locale, case_id: str, body: LabelRequest
) -> CaseWorkOut:
    state = await call(ctx, actions.add_label, me.user, case_id, body.name)
    return await work_out(ctx, state, locale)


@router.delete("/cases/{case_id}/labels/{label_id}", status_code=204, responses=READ_ERRORS)
async def remove_label(me: Current, ctx: Org, case_id: str, label_id: str) -> Response:
    await call(ctx, actions.remove_label, me.user, case_id, label_id)
    return Response(status_code=204)


@router.post("/cases/{case_id}/assignees", response_model=CaseWorkOut, responses=WRITE_ERRORS)
async def assign(
    me: Current, ctx: Org, locale: Locale, case_id: str, body: UserRequest
) -> CaseWorkOut:
    state = await call(ctx, actions.assign, me.user, case_id, body.user_id)
    return await work_out(ctx, state, locale)


@router.delete("/cases/{case_id}/assignees/{user_id}", status_code=204, responses=READ_ERRORS)
async def unassign(me: Current, ctx: Org, case_id: str, user_id: str) -> Response:
    await call(ctx, actions.unassign, me.user, case_id, user_id)
    return Response(status_code=204)


@router.post(
    "/cases/{case_id}/notes", status_code=201, response_model=NoteCreated, responses=WRITE_ERRORS
)
async def add_note(me: Current, ctx: Org, case_id: str, body: NoteRequest) -> NoteCreated:
    return NoteCreated(id=await call(ctx, actions.write_note, me.user, case_id, body.text))


@router.get("/cases/{case_id}/access", response_model=AccessOut, responses=READ_ERRORS)
async def get_access(me: Current, ctx: Org, case_id: str) -> AccessOut:
    return access_out(await call(ctx, actions.get_access, me.user, case_id))


@router.post("/cases/{case_id}/access", response_model=AccessOut, responses=WRITE_ERRORS)
async def grant_access(me: Current, ctx: Org, case_id: str, body: UserRequest) -> AccessOut:
    found = await call(ctx, actions.grant_access, me.user, me.seed, case_id, body.user_id)
    return access_out(found)


@router.delete("/cases/{case_id}/access/{user_id}", status_code=204, responses=DELETE_ERRORS)
async def revoke_access(me: Current, ctx: Org, case_id: str, user_id: str) -> Response:
    await call(ctx, actions.revoke_access, me.user, case_id, user_id)
    return Response(status_code=204)


@router.get("/labels", response_model=LabelList, responses=READ_ERRORS)
async def labels(me: Current, ctx: Org) -> LabelList:
    rows = await call(ctx, actions.all_labels, me.user)
    return LabelList(labels=[LabelOut(id=label.id, name=label.name) for label in rows])


@router.get("/recipients", response_model=RecipientList, responses=READ_ERRORS)
async def recipients(me: Current, ctx: Org) -> RecipientList:
    """Active recipients, to assign or give access to (their usernames, nothing else)."""
    rows = await call(ctx, actions.active_recipients, me.user)
    return RecipientList(recipients=[PersonOut(id=u.id, username=u.username) for u in rows])
