"""Keeping a case longer than its channel's retention rule (``POST /cases/{id}/retention``).

Only a recipient holding a key to the case may do it; the reason is sealed as an internal
note, so it needs the recipient's key to be online. The use case is
:func:`mailslot.cases.retention.keep_case`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.cases import retention
from mailslot.web.staff import StaffViews


class RetentionViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [Route("/cases/{case_id}/retention", self.keep, methods=["POST"])]

    async def keep(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        case_id = request.path_params["case_id"]
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            await self.web.call(
                request,
                retention.keep_case,
                staff.user,
                staff.seed,
                case_id,
                until=fields.get("until", ""),
                reason=fields.get("reason", ""),
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return self.web.redirect(request, f"/cases/{case_id}", kept=1)
