"""Admin pages for a channel's case settings: deadlines, retention, custom statuses and the
automatic acknowledgement (routes under ``/admin/channels/{channel_id}/settings``). The use
cases are in :mod:`mailslot.channels.management`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors, i18n
from mailslot.channels import choice, management, settings
from mailslot.channels import services as channels
from mailslot.identity import services as identity_services
from mailslot.instance import texts
from mailslot.web.admin import AdminViews
from mailslot.web.common import localized_field


class ChannelSettingsViews:
    def __init__(self, admin_views: AdminViews) -> None:
        self.admin_views = admin_views
        self.staff_views = admin_views.staff_views
        self.web = admin_views.web

    def routes(self) -> list[BaseRoute]:
        base = "/admin/channels/{channel_id}/settings"
        return [
            Route(base, self.form),
            Route(base, self.save, methods=["POST"]),
            Route(base + "/statuses", self.add_status, methods=["POST"]),
            Route(base + "/statuses/{status_id}", self.change_status, methods=["POST"]),
            Route(base + "/recipient-choice", self.save_choice, methods=["POST"]),
        ]

    def _path(self, channel_id: str) -> str:
        return f"/admin/channels/{channel_id}/settings"

    async def _context(self, request: Request, channel_id: str) -> dict[str, Any]:
        def work(db: DbSession) -> dict[str, Any]:
            channel = channels.get_channel(db, channel_id)
            locale = texts.default_locale(db)
            found = settings.statuses(db, channel.id)
            return {
                "channel": channel,
                "days": {name: getattr(channel, name) for name in settings.DAY_FIELDS},
                "ranges": {r.field: r for r in settings.DAY_RANGES},
                "auto_replies": settings.auto_replies(db, channel.id),
                "default_locale": locale,
                "statuses": found,
                "status_names": {
                    status_id: name.by_locale(locale)
                    for status_id, name in settings.status_names(db, found).items()
                },
                "members": choice.recipients(db, channel),
                "custodians": len(identity_services.custodians(db)),
            }

        context = await self.web.run(request, work)
        context["phases"] = settings.STATUS_PHASES
        return context

    async def _show(
        self, request: Request, channel_id: str, error: errors.ServiceError | None = None, **kw: Any
    ) -> Response:
        try:
            context = await self._context(request, channel_id)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        context.update(kw)
        if error is not None:
            return await self.staff_views.error(
                request, "admin/channel_settings.html", error, **context
            )
        return await self.staff_views.page(request, "admin/channel_settings.html", context)

    async def form(self, request: Request) -> Response:
        staff = await self.admin_views.admin(request)
        if staff is None:
            return await self.admin_views.refuse(request)
        channel_id = request.path_params["channel_id"]
        return await self._show(request, channel_id, saved="saved" in request.query_params)

    async def save(self, request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        fields: dict[str, str] = {}
        try:
            staff, fields = await self.admin_views.admin_form(request)
            if staff is None:
                return await self.admin_views.refuse(request)
            await self.web.call(
                request,
                management.save_case_settings,
                staff.user,
                channel_id,
                days={name: fields.get(name) for name in settings.DAY_FIELDS},
                auto_replies={
                    code: fields.get(f"auto_reply_{code}", "") for code in i18n.SUPPORTED_LOCALES
                },
            )
        except errors.ServiceError as exc:
            return await self._show(request, channel_id, exc, submitted=fields)
        return self.web.redirect(request, self._path(channel_id), saved=1)

    async def add_status(self, request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        try:
            staff, fields = await self.admin_views.admin_form(request)
            if staff is None:
                return await self.admin_views.refuse(request)
            await self.web.call(
                request,
                management.add_status,
                staff.user,
                channel_id,
                phase=fields.get("phase", ""),
                name=localized_field(fields, "name"),
            )
        except errors.ServiceError as exc:
            return await self._show(request, channel_id, exc)
        return self.web.redirect(request, self._path(channel_id), saved=1)

    async def change_status(self, request: Request) -> Response:
        """One form per status, with the action in the button pressed: rename, up, down,
        remove."""
        channel_id = request.path_params["channel_id"]
        try:
            staff, fields = await self.admin_views.admin_form(request)
            if staff is None:
                return await self.admin_views.refuse(request)
            await self.web.call(
                request,
                management.change_status,
                staff.user,
                channel_id,
                request.path_params["status_id"],
                action=fields.get("action", ""),
                name=localized_field(fields, "name"),
            )
        except errors.ServiceError as exc:
            return await self._show(request, channel_id, exc)
        return self.web.redirect(request, self._path(channel_id), saved=1)

    async def save_choice(self, request: Request) -> Response:
        """Whether sources choose this channel's recipients, and their display names."""
        channel_id = request.path_params["channel_id"]
        try:
            staff, fields = await self.admin_views.admin_form(request)
            if staff is None:
                return await self.admin_views.refuse(request)
            prefix = "display_name_"
            await self.web.call(
                request,
                choice.save_recipient_choice,
                staff.user,
                channel_id,
                sources_choose=fields.get("sources_choose") == "1",
                display_names={
                    key.removeprefix(prefix): value
                    for key, value in fields.items()
                    if key.startswith(prefix)
                },
            )
        except errors.ServiceError as exc:
            return await self._show(request, channel_id, exc)
        return self.web.redirect(request, self._path(channel_id), saved=1)
