"""The staff member's own account: password change, sessions, the notice address, and
recovery after a lost password. The use cases are in :mod:`mailslot.recipients.accounts`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.recipients import accounts
from mailslot.web.staff import Staff, StaffViews


class AccountViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/account", self.account),
            Route("/account/password", self.change_password, methods=["POST"]),
            Route("/account/sessions/end", self.end_session, methods=["POST"]),
            Route("/account/email", self.set_email, methods=["POST"]),
            Route("/recover", self.recover_form),
            Route("/recover", self.recover, methods=["POST"]),
        ]

    async def account(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        if staff is None:
            return self.staff_views.login_redirect(request)
        return await self.staff_views.page(
            request,
            "staff/account.html",
            {
                "key_offline": staff.user.key_offline,
                "changed": "changed" in request.query_params,
                "ended": "ended" in request.query_params,
                **await self.sessions_context(request, staff),
            },
        )

    async def account_error(
        self, request: Request, staff: Staff | None, exc: errors.ServiceError
    ) -> Response:
        """The account page again, with what went wrong."""
        return await self.staff_views.error(
            request,
            "staff/account.html",
            exc,
            key_offline=bool(staff and staff.user.key_offline),
            changed=False,
            ended=False,
            **await self.sessions_context(request, staff),
        )

    async def sessions_context(self, request: Request, staff: Staff | None) -> dict[str, Any]:
        if staff is None:
            return {"sessions": [], "current_session": ""}
        rows = await self.web.call(request, accounts.live_sessions, staff.user)
        return {"sessions": rows, "current_session": staff.state.row.id}

    async def end_session(self, request: Request) -> Response:
        """End one of one's own sessions, or every other one."""
        staff = await self.staff_views.staff(request)
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            this_one = await self.web.call(
                request,
                accounts.end_sessions,
                staff.user,
                current=staff.state.row.id,
                target=fields.get("session", ""),
            )
            if this_one:
                await self.web.end_session(request)
                return self.web.redirect(request, "/login", bye=1)
        except errors.ServiceError as exc:
            return await self.account_error(request, staff, exc)
        return self.web.redirect(request, "/account", ended=1)

    async def change_password(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            await self.web.call(
                request,
                accounts.change_password,
                staff.user,
                current=fields.get("current", ""),
                new=fields.get("password", ""),
                again=fields.get("password_again", ""),
                keep_session=staff.state.row.id,
            )
        except errors.ServiceError as exc:
            return await self.account_error(request, staff, exc)
        return self.web.redirect(request, "/account", changed=1)

    async def set_email(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            await self.web.call(
                request,
                accounts.set_email,
                staff.user,
                fields.get("email", ""),
                fields.get("locale"),
            )
        except errors.ServiceError as exc:
            return await self.account_error(request, staff, exc)
        return self.web.redirect(request, "/account", email=1)

    async def recover_form(self, request: Request) -> Response:
        return await self.staff_views.page(request, "staff/recover.html")

    async def recover(self, request: Request) -> Response:
        try:
            fields = await self.staff_views.form(request, None, csrf=False)
            recovery_key = await self.web.call(
                request,
                accounts.recover,
                username=fields.get("username", "")[:64],
                recovery_key=fields.get("recovery_key", ""),
                totp=fields.get("totp", ""),
                new=fields.get("password", ""),
                again=fields.get("password_again", ""),
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/recover.html", exc)
        return await self.staff_views.page(
            request, "staff/recovered.html", {"recovery_key": recovery_key}
        )
