"""Sealed drops in the JSON API: what a drop holds (``GET .../drop``) and one of its files
(``GET .../drop/{index}``), decrypted with the case key then the caller's drop keys. The use
cases are in :mod:`mailslot.dropkeys.reading`; both are audited as ``case.download``."""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from mailslot.dropkeys import reading
from mailslot.web.api_common import ERRORS, Current, ErrorOut, Org, call
from mailslot.web.downloads import download_headers

router = APIRouter()

DROP_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorOut, "description": "The caller's key is offline."},
}
# The page's wording, in the API's plain words.
PROBLEMS = {reading.NOT_HELD: "not_held", reading.DAMAGED: "damaged"}


class DropFileOut(BaseModel):
    index: int = Field(description="The file's number, for GET .../drop/{index}.")
    name: str
    size: int


class DropOut(BaseModel):
    problem: str | None = Field(
        description="`not_held`: sealed to a key this channel does not hold (no drop key of "
        "the caller opens it); `damaged`: it does not open as a well-formed drop; null when "
        "it opened."
    )
    note: str | None
    files: list[DropFileOut]


@router.get("/cases/{case_id}/items/{item_id}/drop", response_model=DropOut, responses=DROP_ERRORS)
async def drop(ctx: Org, me: Current, case_id: str, item_id: str) -> DropOut:
    contents = await call(ctx, reading.open_drop, me.user, me.seed, case_id, item_id)
    return DropOut(
        problem=PROBLEMS[contents.problem] if contents.problem else None,
        note=contents.note,
        files=[DropFileOut(index=f.index, name=f.name, size=f.size) for f in contents.files],
    )


@router.get(
    "/cases/{case_id}/items/{item_id}/drop/{index}",
    responses={
        200: {
            "description": "The file, decrypted as it streams.",
            "content": {"application/octet-stream": {}},
        },
        **DROP_ERRORS,
    },
    response_class=StreamingResponse,
)
async def drop_file(
    ctx: Org, me: Current, case_id: str, item_id: str, index: int
) -> StreamingResponse:
    name, plaintext = await call(
        ctx, reading.open_drop_file, me.user, me.seed, case_id, item_id, index=index
    )
    return StreamingResponse(
        plaintext, media_type="application/octet-stream", headers=download_headers(name)
    )
