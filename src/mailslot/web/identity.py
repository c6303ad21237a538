"""Staff pages for identity on request: a recipient asks to see a source's identity (from
the case page) and opens it once allowed; a custodian sees pending requests and approves or
denies each. The use cases are in :mod:`mailslot.identity.requests`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.identity import requests
from mailslot.web.staff import StaffViews


class IdentityViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/cases/{case_id}/identity", self.read),
            Route("/cases/{case_id}/identity/request", self.ask, methods=["POST"]),
            Route("/identity", self.pending),
            Route("/identity/{request_id}/approve", self.approve, methods=["POST"]),
            Route("/identity/{request_id}/deny", self.deny, methods=["POST"]),
        ]

    async def read(self, request: Request) -> Response:
        """The source's identity, for a recipient a custodian allowed (each view audited)."""
        views = self.staff_views
        staff = await views.staff(request)
        if staff is None:
            return views.login_redirect(request)
        case_id = request.path_params["case_id"]
        try:
            opened = await self.web.call(request, requests.read, staff.user, staff.seed, case_id)
        except errors.ServiceError as exc:
            return await views.error(request, "staff/error.html", exc)
        return await views.page(
            request, "staff/identity.html", {"case_id": case_id, "identity": opened}
        )

    async def ask(self, request: Request) -> Response:
        views = self.staff_views
        staff = await views.staff(request)
        case_id = request.path_params["case_id"]
        try:
            fields = await views.form(request, staff)
            if staff is None:
                return views.login_redirect(request)
            await self.web.call(
                request, requests.request_access, staff.user, case_id, fields.get("reason", "")
            )
        except errors.ServiceError as exc:
            return await views.error(request, "staff/error.html", exc)
        return self.web.redirect(request, f"/cases/{case_id}", done="identity")

    async def pending(self, request: Request) -> Response:
        """A custodian's list of requests waiting for a decision."""
        views = self.staff_views
        staff = await views.staff(request)
        if staff is None:
            return views.login_redirect(request)
        try:
            found = await self.web.call(request, requests.pending, staff.user, staff.seed)
        except errors.ServiceError as exc:
            return await views.error(request, "staff/error.html", exc)
        context = {
            "requests": found,
            "key_offline": staff.seed is None,
            "done": request.query_params.get("done", ""),
        }
        return await views.page(request, "staff/identity_requests.html", context)

    async def approve(self, request: Request) -> Response:
        return await self.decide(request, approve=True)

    async def deny(self, request: Request) -> Response:
        return await self.decide(request, approve=False)

    async def decide(self, request: Request, *, approve: bool) -> Response:
        views = self.staff_views
        staff = await views.staff(request)
        try:
            await views.form(request, staff)
            if staff is None:
                return views.login_redirect(request)
            await self.web.call(
                request,
                requests.decide,
                staff.user,
                staff.seed,
                request.path_params["request_id"],
                approve=approve,
            )
        except errors.ServiceError as exc:
            return await views.error(request, "staff/error.html", exc)
        return self.web.redirect(request, "/identity", done="approved" if approve else "denied")
