"""Documents in the JSON API: what a file reveals (``GET .../metadata``, the JSON of
``mailslot inspect --json`` for that one file) and a sanitised copy (``GET .../sanitized``).
The use cases are in :mod:`mailslot.cases.documents`; both are audited."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from mailslot.cases import documents
from mailslot.web.api_common import ERRORS, Current, ErrorOut, Org, call
from mailslot.web.downloads import file_response

router = APIRouter()

DOCUMENT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"model": ErrorOut, "description": "The item is not a document."},
    403: {"model": ErrorOut, "description": "The caller's key is offline."},
}


@router.get(
    "/cases/{case_id}/items/{item_id}/metadata",
    responses={
        200: {
            "description": "A one-element array, as `mailslot inspect --json` prints for one "
            'file: `[{"file", "type", "findings": [{"kind", "detail"}]}]`, with '
            '`"inspected": false` and a `note` when the file could not be inspected (an unknown '
            "type, or the sandbox stopped it). Kinds: docs/spec/inspect-report.md.",
            "content": {"application/json": {"schema": {"type": "array"}}},
        },
        **DOCUMENT_ERRORS,
    },
    response_model=None,
)
async def metadata(ctx: Org, me: Current, case_id: str, item_id: str) -> list[dict[str, object]]:
    inspected = await call(ctx, documents.inspect_item, me.user, me.seed, case_id, item_id)
    return [inspected.inspection.report.to_json()]


@router.get(
    "/cases/{case_id}/items/{item_id}/sanitized",
    responses={
        200: {
            "description": "A copy without metadata, previews, revisions, attachments, scripts "
            "or trailing data; flattened copies are pages rendered to pixels (PDF or PNG).",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        **DOCUMENT_ERRORS,
        400: {
            "model": ErrorOut,
            "description": "No copy could be made (the detail says why), or the item is not a "
            "document.",
        },
    },
    response_class=Response,
)
async def sanitized(
    ctx: Org,
    me: Current,
    case_id: str,
    item_id: str,
    *,
    flatten: Annotated[bool, Query(description="Render to pixels: PDF or PNG.")] = False,
    greyscale: Annotated[bool, Query(description="Flattened, in shades of grey.")] = False,
) -> Response:
    copy = await call(
        ctx,
        documents.sanitized_copy,
        me.user,
        me.seed,
        case_id,
        item_id,
        flatten=flatten,
        greyscale=greyscale,
    )
    return file_response(copy.name, copy.data, copy.media_type)
