"""Sealed drops on the staff pages: ``GET /cases/{id}/items/{item_id}/drop`` (what a drop
holds: its note and files, or why it cannot be opened), ``.../drop/{index}`` (one of its
files, decrypted as it streams out) and ``GET /keys`` (every staff member's key
fingerprint and the organisation's signing key). Plain links: no JavaScript. The use cases
are in :mod:`mailslot.dropkeys`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from typing import Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from mailslot.cases.errors import ItemNotFound
from mailslot.context import OrgContext
from mailslot.dropkeys import pages, reading
from mailslot.i18n import N_
from mailslot.recipients.models import User
from mailslot.web.downloads import download_headers
from mailslot.web.staff import StaffViews

# Why a drop does not open, as the page says it.
PROBLEMS: Final = {
    reading.NOT_HELD: N_("Sealed to a key this channel does not hold."),
    reading.DAMAGED: N_("This sealed file is damaged or not complete, so it cannot be opened."),
}


class StaffDropViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/cases/{case_id}/items/{item_id}/drop", self.drop),
            Route("/cases/{case_id}/items/{item_id}/drop/{index}", self.drop_file),
            Route("/keys", self.keys),
        ]

    async def drop(self, request: Request) -> Response:
        def show(contents: reading.DropContents) -> Awaitable[Response]:
            problem = PROBLEMS[contents.problem] if contents.problem else None
            context = {"drop": contents, "problem": problem}
            return self.staff_views.page(request, "staff/drop.html", context)

        return await self.staff_views.on_item(request, reading.open_drop, show)

    async def drop_file(self, request: Request) -> Response:
        index = request.path_params["index"]

        def open_file(
            ctx: OrgContext, user: User, seed: bytes | None, case_id: str, item_id: str
        ) -> tuple[str, Iterator[bytes]]:
            # Checked with the use case: a malformed index is refused like a missing file.
            if not index.isdigit() or len(index) > 6:
                raise ItemNotFound()
            return reading.open_drop_file(ctx, user, seed, case_id, item_id, index=int(index))

        return await self.staff_views.on_item(
            request,
            open_file,
            lambda found: StreamingResponse(
                found[1], media_type="application/octet-stream", headers=download_headers(found[0])
            ),
        )

    async def keys(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        if staff is None:
            return self.staff_views.login_redirect(request)
        keys = await self.web.call(request, pages.staff_keys, staff.user)
        return await self.staff_views.page(request, "staff/keys.html", {"keys": keys})
