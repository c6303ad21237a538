"""``/api/v1/channels/{id}/questionnaire``: a channel's questionnaire, read and replaced by
administrators (format: docs/spec/questionnaire.md)."""

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mailslot.questionnaires import store
from mailslot.web.api_common import BODY_ERRORS, ERRORS, Current, ErrorOut, Org, call

router = APIRouter()

ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorOut, "description": "Only administrators manage questionnaires."},
}


class QuestionnaireOut(BaseModel):
    channel_id: str
    version: int = Field(
        description="1 for the channel's first questionnaire, then one more at each change."
    )
    hash: str = Field(description="sha256: and the SHA-256 of the canonical definition.")
    definition: dict[str, Any] = Field(description="The definition (docs/spec/questionnaire.md).")


def out(stored: store.Stored) -> QuestionnaireOut:
    return QuestionnaireOut(
        channel_id=stored.channel_id,
        version=stored.ref.version,
        hash=stored.ref.hash,
        definition=json.loads(store.definition_text(stored)),
    )


@router.get(
    "/channels/{channel_id}/questionnaire",
    responses={
        **ADMIN_ERRORS,
        404: {"model": ErrorOut, "description": "No such channel, or it has no questionnaire."},
    },
)
async def get_questionnaire(me: Current, ctx: Org, channel_id: str) -> QuestionnaireOut:
    """The channel's current questionnaire."""
    return out(await call(ctx, store.current_for, me.user, channel_id))


@router.put(
    "/channels/{channel_id}/questionnaire",
    responses={
        **ADMIN_ERRORS,
        **BODY_ERRORS,
        400: {
            "model": ErrorOut,
            "description": "The definition is not valid; `detail` says "
            "where and why. Nothing was stored.",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "The definition (docs/spec/questionnaire.md).",
        }
    },
)
async def put_questionnaire(
    me: Current, ctx: Org, channel_id: str, request: Request
) -> QuestionnaireOut:
    """Make the body the channel's questionnaire: a new version, unless it is the current one."""
    body = await request.body()
    return out(await call(ctx, store.import_file, me.user, channel_id, body))


@router.delete("/channels/{channel_id}/questionnaire", status_code=204, responses=ADMIN_ERRORS)
async def delete_questionnaire(me: Current, ctx: Org, channel_id: str) -> Response:
    """Back to the channel's free-text form; older versions stay for their answers."""
    await call(ctx, store.remove, me.user, channel_id)
    return Response(status_code=204)
