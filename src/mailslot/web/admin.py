"""Admin pages (users, channels, settings) and enrolment (first-run setup, invitations)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors, i18n
from mailslot.channels import management as channel_management
from mailslot.channels import services as channels
from mailslot.instance import services as instance_services
from mailslot.instance import settings as instance_settings
from mailslot.instance import texts
from mailslot.notifications import services as notices
from mailslot.recipients import management
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role
from mailslot.tor import STAFF as STAFF_SERVICE
from mailslot.web.common import localized_field
from mailslot.web.staff import Staff, StaffViews


def qr_data_uri(text: str) -> str:
    """A QR code rendered on the server as an SVG data URI (no JavaScript, no third party)."""
    import segno  # noqa: PLC0415 - only enrolment pages need it; keeps idle memory down

    return str(segno.make(text, error="m").svg_data_uri(scale=5, border=2))


class AdminViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/setup/{token}", self.enroll_form),
            Route("/setup/{token}", self.enroll, methods=["POST"]),
            Route("/admin", self.overview),
            Route("/admin/invite", self.invite_form),
            Route("/admin/invite", self.invite, methods=["POST"]),
            Route("/admin/users/{user_id}/disable", self.disable, methods=["POST"]),
            Route("/admin/channels/new", self.channel_form),
            Route("/admin/channels/new", self.channel_save, methods=["POST"]),
            Route("/admin/channels/{channel_id}", self.channel_form),
            Route("/admin/channels/{channel_id}", self.channel_save, methods=["POST"]),
            Route("/admin/settings", self.settings_form),
            Route("/admin/settings", self.settings_save, methods=["POST"]),
        ]

    async def admin(self, request: Request) -> Staff | None:
        staff = await self.staff_views.staff(request)
        return staff if staff is not None and staff.is_admin else None

    async def admin_form(self, request: Request) -> tuple[Staff | None, dict[str, str]]:
        """Read a posted admin form: CSRF first, then refuse signed-in non-admins plainly."""
        staff = await self.staff_views.staff(request)
        fields = await self.staff_views.form(request, staff)
        if staff is not None and not staff.is_admin:
            raise errors.Forbidden("Only administrators can do this.")
        return staff, fields

    async def refuse(self, request: Request) -> Response:
        """Anonymous visitors go to the login page; signed-in non-admins are told why."""
        if await self.staff_views.staff(request) is not None:
            return await self.staff_views.error(
                request, "staff/error.html", errors.Forbidden("Only administrators can do this.")
            )
        return self.web.redirect(request, "/login")

    # Enrolment.

    async def _enrollment_context(self, request: Request, token: str) -> dict[str, Any]:
        form = await self.web.call(request, management.enrollment, token)
        return {
            "token": token,
            "role": form.role,
            "fixed_username": form.fixed_username,
            "totp_secret": form.totp_secret,
            "qr": qr_data_uri(form.totp_uri),
            "first_admin": form.first_admin,
        }

    async def enroll_form(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            context = await self._enrollment_context(request, token)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return await self.staff_views.page(request, "admin/enroll.html", context)

    async def enroll(self, request: Request) -> Response:
        token = request.path_params["token"]
        fields: dict[str, str] = {}
        try:
            fields = await self.staff_views.form(request, None, csrf=False)
            enrolled = await self.web.call(
                request,
                management.enroll,
                token,
                username=fields.get("username", ""),
                password=fields.get("password", ""),
                again=fields.get("password_again", ""),
                totp=fields.get("totp", ""),
            )
        except errors.ServiceError as exc:
            try:
                context = await self._enrollment_context(request, token)
            except errors.ServiceError:
                return await self.staff_views.error(request, "staff/error.html", exc)
            context["username"] = fields.get("username", "")
            return await self.staff_views.error(request, "admin/enroll.html", exc, **context)
        return await self.staff_views.page(
            request,
            "admin/enrolled.html",
            {
                "username": enrolled.username,
                "role": enrolled.role,
                "recovery_key": enrolled.recovery_key,
            },
        )

    # Overview.

    async def overview(self, request: Request) -> Response:
        staff = await self.admin(request)
        if staff is None:
            return await self.refuse(request)

        org = self.web.org(request)
        locale = self.web.locale(request)

        def work(db: DbSession) -> dict[str, Any]:
            all_channels = channels.list_channels(db)
            shown = channels.shown_in(db, all_channels, locale)
            return {
                "users": recipients.list_users(db),
                "channels": [
                    (named, channels.members(db, c))
                    for named, c in zip(shown, all_channels, strict=True)
                ],
                "settings": instance_services.get_instance(db, org.instance_id),
                "notices": notices.status(db),
                "mail_configured": bool(org.config.smtp_url),
            }

        context = await self.web.run(request, work)
        context["saved"] = "saved" in request.query_params
        context["onions"] = {
            "source": org.source_onion_url(),
            "staff": org.onions.address(STAFF_SERVICE),
            "configured": org.config.tor_dir is not None,
        }
        return await self.staff_views.page(request, "admin/overview.html", context)

    # Invitations.

    async def channel_choices(self, request: Request) -> list[channels.ShownChannel]:
        """Every channel, named in the admin's language (the default language's if none)."""
        locale = self.web.locale(request)
        return await self.web.run(
            request, lambda db: channels.shown_in(db, channels.list_channels(db), locale)
        )

    async def invite_form(self, request: Request) -> Response:
        staff = await self.admin(request)
        if staff is None:
            return await self.refuse(request)
        channel_list = await self.channel_choices(request)
        return await self.staff_views.page(
            request, "admin/invite.html", {"channels": channel_list, "link": None}
        )

    async def invite(self, request: Request) -> Response:
        try:
            staff, fields = await self.admin_form(request)
            if staff is None:
                return await self.refuse(request)
            form = await request.form()
            roles = {"admin": Role.ADMIN, "analyst": Role.ANALYST, "custodian": Role.CUSTODIAN}
            link = await self.web.call(
                request,
                management.invite,
                staff.user,
                role=roles.get(fields.get("role", ""), Role.RECIPIENT),
                username=fields.get("username", "").strip() or None,
                channel_ids=[str(v) for v in form.getlist("channels")],
            )
        except errors.ServiceError as exc:
            channel_list = await self.channel_choices(request)
            return await self.staff_views.error(
                request, "admin/invite.html", exc, channels=channel_list, link=None
            )
        channel_list = await self.channel_choices(request)
        return await self.staff_views.page(
            request, "admin/invite.html", {"channels": channel_list, "link": link}
        )

    async def disable(self, request: Request) -> Response:
        try:
            staff, fields = await self.admin_form(request)
            if staff is None:
                return await self.refuse(request)
            await self.web.call(
                request,
                management.set_disabled,
                staff.user,
                request.path_params["user_id"],
                fields.get("disabled") == "1",
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return self.web.redirect(request, "/admin", saved=1)

    # Channels.

    async def channel_form(self, request: Request) -> Response:
        staff = await self.admin(request)
        if staff is None:
            return await self.refuse(request)
        channel_id = request.path_params.get("channel_id")

        def work(db: DbSession) -> dict[str, Any]:
            channel = channels.get_channel(db, channel_id) if channel_id else None
            members = {u.username for u in channels.members(db, channel)} if channel else set()
            users = [u for u in recipients.list_users(db) if u.role == Role.RECIPIENT.value]
            locale = texts.default_locale(db)
            shown = channels.channel_texts(db, [channel])[channel.id] if channel else None
            return {
                "channel": channel,
                "members": members,
                "recipients": users,
                "default_locale": locale,
                "names": shown.name.by_locale(locale) if shown else {},
                "descriptions": shown.description.by_locale(locale) if shown else {},
            }

        try:
            context = await self.web.run(request, work)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return await self.staff_views.page(request, "admin/channel.html", context)

    async def channel_save(self, request: Request) -> Response:
        try:
            staff, fields = await self.admin_form(request)
            if staff is None:
                return await self.refuse(request)
            form = await request.form()
            await self.web.call(
                request,
                channel_management.save_channel,
                staff.user,
                request.path_params.get("channel_id"),
                name=localized_field(fields, "name"),
                description=localized_field(fields, "description"),
                members=[str(v) for v in form.getlist("members")],
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return self.web.redirect(request, "/admin", saved=1)

    # Settings.

    async def settings_form(self, request: Request) -> Response:
        staff = await self.admin(request)
        if staff is None:
            return await self.refuse(request)
        context = await self.settings(request)
        return await self.staff_views.page(request, "admin/settings.html", context)

    async def settings(
        self, request: Request, submitted: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The settings form's context: as stored, or as ``submitted`` (after an error)."""
        instance_id = self.web.org(request).instance_id

        def work(db: DbSession) -> dict[str, Any]:
            instance = instance_services.get_instance(db, instance_id)
            name, guidance = instance_services.localized_texts(db, instance)
            locale = instance.default_locale
            return {
                "settings": instance,
                "default_locale": locale,
                "names": name.by_locale(locale),
                "guidance": guidance.by_locale(locale),
            }

        context = await self.web.run(request, work)
        if submitted is not None:
            context["submitted"] = dict(submitted)
            for key, field in (("names", "name"), ("guidance", "guidance")):
                texts = localized_field(submitted, field)
                if isinstance(texts, dict):
                    context[key] = texts
                    context["default_locale"] = submitted["texts_locale"]
        return context

    async def settings_save(self, request: Request) -> Response:
        fields: dict[str, str] = {}
        try:
            staff, fields = await self.admin_form(request)
            if staff is None:
                return await self.refuse(request)
            await self.web.call(
                request,
                instance_settings.change_settings,
                staff.user,
                name=localized_field(fields, "name"),
                guidance=localized_field(fields, "guidance"),
                show_source_submissions=fields.get("show_source_submissions") == "1",
                default_locale=i18n.supported(fields.get("default_locale")),
                quick_exit_url=fields.get("quick_exit_url"),
            )
        except errors.ServiceError as exc:
            context = await self.settings(request, fields)
            return await self.staff_views.error(request, "admin/settings.html", exc, **context)
        return self.web.redirect(request, "/admin", saved=1)
