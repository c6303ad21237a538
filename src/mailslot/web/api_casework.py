"""Case work in the JSON API: status, the important mark, labels, assignees, internal notes and
who has access. The services are in :mod:`mailslot.cases.work`; every action is audited."""

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session as DbSession

from mailslot import errors
from mailslot.cases import services as cases
from mailslot.cases import work
from mailslot.cases.models import Case, CaseKeyWrap
from mailslot.recipients.models import Role
from mailslot.web.api_common import BODY_ERRORS, ERRORS, ApiUser, Current, ErrorOut, Views
from mailslot.web.casework import forget_blobs

router = APIRouter()
T = TypeVar("T")

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
    custom_status: str | None
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


def recipient_only(me: ApiUser) -> None:
    if me.user.role != Role.RECIPIENT.value:
        raise errors.Forbidden("Only recipients work on cases.")


async def on_case(
    views: Views,
    me: ApiUser,
    case_id: str,
    action: Callable[[DbSession, Case, CaseKeyWrap], T],
    written: list[str] | None = None,
) -> T:
    """Run ``action`` on a case the caller holds a key to, in one unit of work. Blobs listed
    in ``written`` (a note's) are deleted if it fails."""
    recipient_only(me)
    try:
        return await views.web.run(
            lambda db: action(db, *cases.case_for_user(db, me.user, case_id))
        )
    except BaseException:
        await forget_blobs(views.web.runtime.blobs, written or [])
        raise


def work_out(db: DbSession, case: Case) -> CaseWorkOut:
    panel = work.case_panel(db, case)
    return CaseWorkOut(
        id=case.id,
        status=case.status,
        custom_status_id=case.custom_status_id,
        custom_status=panel.current_custom.name if panel.current_custom else None,
        important=case.important,
        labels=[LabelOut(id=label.id, name=label.name) for label in panel.labels],
        assignees=[PersonOut(id=u.id, username=u.username) for u in panel.assignees],
        acknowledge_by=case.acknowledge_by,
        acknowledged_at=case.acknowledged_at,
        feedback_by=case.feedback_by,
        feedback_at=case.feedback_at,
        due_at=case.due_at,
        closed_at=case.closed_at,
    )


def access_out(db: DbSession, case: Case) -> AccessOut:
    return AccessOut(
        holders=[PersonOut(id=u.id, username=u.username) for u in work.holders(db, case)],
        history=[
            AccessEntryOut(
                user_id=e.user_id,
                username=e.username,
                granted_by=e.granted_by,
                granted_at=e.granted_at,
                revoked_by=e.revoked_by,
                revoked_at=e.revoked_at,
            )
            for e in work.access_history(db, case)
        ],
    )


@router.post("/cases/{case_id}/status", response_model=CaseWorkOut, responses=WRITE_ERRORS)
async def set_status(me: Current, views: Views, case_id: str, body: StatusRequest) -> CaseWorkOut:
    now = views.web.runtime.now()
    blobs = views.web.runtime.blobs

    written: list[str] = []

    def action(db: DbSession, case: Case, wrap: CaseKeyWrap) -> CaseWorkOut:
        work.set_status(
            db,
            blobs,
            case,
            me.user,
            status=body.status,
            custom_status_id=body.custom_status_id,
            reason=body.reason,
            now=now,
            written=written,
        )
        return work_out(db, case)

    return await on_case(views, me, case_id, action, written)


@router.put("/cases/{case_id}/important", response_model=CaseWorkOut, responses=WRITE_ERRORS)
async def set_important(
    me: Current, views: Views, case_id: str, body: ImportantRequest
) -> CaseWorkOut:
    now = views.web.runtime.now()

    def action(db: DbSession, case: Case, wrap: CaseKeyWrap) -> CaseWorkOut:
        work.set_important(db, case, me.user, body.important, now=now)
        return work_out(db, case)

    return await on_case(views, me, case_id, action)


@router.post("/cases/{case_id}/labels", response_model=CaseWorkOut, responses=WRITE_ERRORS)
async def add_label(me: Current, views: Views, case_id: str, body: LabelRequest) -> CaseWorkOut:
    now = views.web.runtime.now()

    def action(db: DbSession, case: Case, wrap: CaseKeyWrap) -> CaseWorkOut:
        work.add_label(db, case, me.user, body.name, now=now)
        return work_out(db, case)

    return await on_case(views, me, case_id, action)


@router.delete("/cases/{case_id}/labels/{label_id}", status_code=204, responses=READ_ERRORS)
async def remove_label(me: Current, views: Views, case_id: str, label_id: str) -> Response:
    now = views.web.runtime.now()
    await on_case(
        views,
        me,
        case_id,
        lambda db, case, _: work.remove_label(db, case, me.user, label_id, now=now),
    )
    return Response(status_code=204)


@router.post("/cases/{case_id}/assignees", response_model=CaseWorkOut, responses=WRITE_ERRORS)
async def assign(me: Current, views: Views, case_id: str, body: UserRequest) -> CaseWorkOut:
    now = views.web.runtime.now()

    def action(db: DbSession, case: Case, wrap: CaseKeyWrap) -> CaseWorkOut:
        work.assign(db, case, me.user, body.user_id, now=now)
        return work_out(db, case)

    return await on_case(views, me, case_id, action)


@router.delete("/cases/{case_id}/assignees/{user_id}", status_code=204, responses=READ_ERRORS)
async def unassign(me: Current, views: Views, case_id: str, user_id: str) -> Response:
    now = views.web.runtime.now()
    await on_case(
        views, me, case_id, lambda db, case, _: work.unassign(db, case, me.user, user_id, now=now)
    )
    return Response(status_code=204)


@router.post(
    "/cases/{case_id}/notes", status_code=201, response_model=NoteCreated, responses=WRITE_ERRORS
)
async def add_note(me: Current, views: Views, case_id: str, body: NoteRequest) -> NoteCreated:
    now = views.web.runtime.now()
    blobs = views.web.runtime.blobs

    written: list[str] = []

    def action(db: DbSession, case: Case, wrap: CaseKeyWrap) -> NoteCreated:
        item_id = work.write_note(db, blobs, case, me.user, body.text, now=now, written=written)
        return NoteCreated(id=item_id)

    return await on_case(views, me, case_id, action, written)


@router.get("/cases/{case_id}/access", response_model=AccessOut, responses=READ_ERRORS)
async def get_access(me: Current, views: Views, case_id: str) -> AccessOut:
    return await on_case(views, me, case_id, lambda db, case, _: access_out(db, case))


@router.post("/cases/{case_id}/access", response_model=AccessOut, responses=WRITE_ERRORS)
async def grant_access(me: Current, views: Views, case_id: str, body: UserRequest) -> AccessOut:
    now = views.web.runtime.now()

    def action(db: DbSession, case: Case, wrap: CaseKeyWrap) -> AccessOut:
        work.grant(db, case, wrap, me.user, granter_seed=me.seed, user_id=body.user_id, now=now)
        return access_out(db, case)

    return await on_case(views, me, case_id, action)


@router.delete("/cases/{case_id}/access/{user_id}", status_code=204, responses=DELETE_ERRORS)
async def revoke_access(me: Current, views: Views, case_id: str, user_id: str) -> Response:
    now = views.web.runtime.now()
    await on_case(
        views, me, case_id, lambda db, case, _: work.revoke(db, case, me.user, user_id, now=now)
    )
    return Response(status_code=204)


@router.get("/labels", response_model=LabelList, responses=READ_ERRORS)
async def labels(me: Current, views: Views) -> LabelList:
    recipient_only(me)
    rows = await views.web.run(work.all_labels)
    return LabelList(labels=[LabelOut(id=label.id, name=label.name) for label in rows])


@router.get("/recipients", response_model=RecipientList, responses=READ_ERRORS)
async def recipients(me: Current, views: Views) -> RecipientList:
    """Active recipients, to assign or give access to (their usernames, nothing else)."""
    recipient_only(me)
    rows = await views.web.run(work.active_recipients)
    return RecipientList(recipients=[PersonOut(id=u.id, username=u.username) for u in rows])
