"""Sealed drops on the staff pages: ``GET /cases/{id}/items/{item_id}/drop`` (what a drop
holds: its note and files, or why it cannot be opened), ``.../drop/{index}`` (one of its
files, decrypted as it streams out) and ``GET /keys`` (every staff member's key
fingerprint and the organisation's signing key). Plain links: no JavaScript. The use cases
are in :mod:`mailslot.dropkeys`.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.cases.errors import ItemNotFound
from mailslot.dropkeys import pages, reading
from mailslot.i18n import N_
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
        staff = await self.staff_views.staff(request)
        if staff is None:
            return self.staff_views.login_redirect(request)
        try:
            contents = await self.web.call(
                request,
                reading.open_drop,
                staff.user,
                staff.seed,
                request.path_params["case_id"],
                request.path_params["item_id"],
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        problem = PROBLEMS[contents.problem] if contents.problem else None
        context = {"drop": contents, "problem": problem}
        return await self.staff_views.page(request, "staff/drop.html", context)

    async def drop_file(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        if staff is None:
            return self.staff_views.login_redirect(request)
        index = request.path_params["index"]
        try:
            if not index.isdigit() or len(index) > 6:
                raise ItemNotFound()
            name, plaintext = await self.web.call(
                request,
                reading.open_drop_file,
                staff.user,
                staff.seed,
                request.path_params["case_id"],
                request.path_params["item_id"],
                index=int(index),
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return StreamingResponse(
            plaintext, media_type="application/octet-stream", headers=download_headers(name)
        )

    async def keys(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        if staff is None:
            return self.staff_views.login_redirect(request)
        keys = await self.web.call(request, pages.staff_keys, staff.user)
        return await self.staff_views.page(request, "staff/keys.html", {"keys": keys})
