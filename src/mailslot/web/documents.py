"""What a document reveals, and sanitised copies, on the staff pages: ``GET
/cases/{id}/items/{item_id}/inspect`` (the report, made on request) and ``GET
.../sanitized`` (a copy to download; ``flatten=1`` renders it to pixels, ``greyscale=1`` too).

Plain links and a GET form: nothing here needs JavaScript. The use cases are in
:mod:`mailslot.cases.documents`; both are audited.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot.cases import documents
from mailslot.i18n import N_
from mailslot.web.downloads import file_response
from mailslot.web.staff import StaffViews

# Each kind of finding as the page names it (docs/documents.md says what each means).
KIND_LABELS: Final = {
    "gps": N_("Location (GPS)"),
    "author": N_("Author, user or organisation"),
    "device": N_("Device or software"),
    "serial": N_("Serial number or device identifier"),
    "timestamp": N_("Date and time"),
    "thumbnail": N_("Embedded preview image"),
    "revision": N_("Earlier version, change or comment"),
    "attachment": N_("Embedded file"),
    "script": N_("Script or macro"),
    "trailing_data": N_("Data after the end of the file"),
    "printer": N_("Printer information"),
}


class DocumentViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/cases/{case_id}/items/{item_id}/inspect", self.inspect),
            Route("/cases/{case_id}/items/{item_id}/sanitized", self.sanitized),
        ]

    async def inspect(self, request: Request) -> Response:
        return await self.staff_views.on_item(
            request,
            documents.inspect_item,
            lambda inspected: self.staff_views.page(
                request,
                "staff/document.html",
                {"document": inspected, "kind_labels": KIND_LABELS},
            ),
        )

    async def sanitized(self, request: Request) -> Response:
        return await self.staff_views.on_item(
            request,
            documents.sanitized_copy,
            lambda copy: file_response(copy.name, copy.data, copy.media_type),
            flatten=request.query_params.get("flatten") == "1",
            greyscale=request.query_params.get("greyscale") == "1",
        )
