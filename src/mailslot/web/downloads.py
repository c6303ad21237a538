"""Responses that carry a case's plaintext out: one item, or the whole case as a zip.

Shared by the staff pages and the JSON API, so that both send the same headers: always an
attachment (never rendered inline), a policy that forbids everything in case a browser renders
it anyway, and no type sniffing. The plaintext is decrypted chunk by chunk as it streams.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from mailslot.cases import services as cases
from mailslot.cases.models import ItemKind
from mailslot.storage import BlobStore
from mailslot.web.archive import DropMembers, case_zip
from mailslot.web.security import DOWNLOAD_CSP


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the exact name in RFC 5987 form."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename
    )
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{encoded}"


def _headers(filename: str, size: int | None = None) -> dict[str, str]:
    length = {"Content-Length": str(size)} if size is not None else {}
    return {
        "Content-Disposition": content_disposition(filename),
        **length,
        "Content-Security-Policy": DOWNLOAD_CSP,
        "X-Content-Type-Options": "nosniff",
    }


def download_headers(filename: str) -> dict[str, str]:
    """The headers of a download the server decrypts as it streams (its size unknown)."""
    return _headers(filename)


def item_response(blobs: BlobStore, view: cases.ItemView) -> StreamingResponse:
    """One item: a file in its (sanitised) type and name, a message or reply as text."""
    if view.item.kind == ItemKind.FILE:
        filename, media_type = view.filename, view.content_type
    else:
        filename, media_type = (
            f"{view.item.kind}-{view.item.position}.txt",
            "text/plain; charset=utf-8",
        )
    # A plain iterator: Starlette reads and decrypts each chunk in its threadpool.
    plaintext = cases.stream_item(blobs, view.item, view.data_key)
    return StreamingResponse(
        plaintext, media_type=media_type, headers=_headers(filename, view.size)
    )


def file_response(filename: str, data: bytes, media_type: str) -> Response:
    """A file the server made from an item (a sanitised copy), with the same headers."""
    return Response(data, media_type=media_type, headers=_headers(filename, len(data)))


def zip_response(
    blobs: BlobStore,
    pseudonym: str,
    views: Iterable[cases.ItemView],
    drop_members: DropMembers | None = None,
) -> StreamingResponse:
    """Every item of a case in one zip named after its pseudonym (``web/archive.py``), each
    sealed drop followed by what it holds if ``drop_members`` is given."""
    return StreamingResponse(
        case_zip(blobs, views, drop_members),
        media_type="application/zip",
        headers=_headers(f"{pseudonym}.zip"),
    )
