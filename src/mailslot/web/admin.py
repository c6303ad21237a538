"""Admin pages (users, channels, settings) and enrolment (first-run setup, invitations)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.audit import services as audit
from mailslot.channels import services as channels
from mailslot.instance import services as instance_services
from mailslot.notifications import services as notices
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role
from mailslot.tor import STAFF as STAFF_SERVICE
from mailslot.web.staff import Staff, StaffViews


def qr_data_uri(text: str) -> str:
    """A QR code rendered on the server as an SVG data URI (no JavaScript, no third party)."""
    import segno  # noqa: PLC0415 - only enrolment pages need it; keeps idle memory down

    return str(segno.make(text, error="m").svg_data_uri(scale=5, border=2))


class AdminViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web
        self.config = self.web.runtime.config

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
        now = self.web.runtime.now()

        def work(db: DbSession) -> dict[str, Any]:
            enrollment = recipients.get_enrollment(db, token, now)
            instance = instance_services.get_instance(db)
            label = enrollment.username or "new account"
            uri = recipients.totp_uri(label, enrollment.totp_secret, instance.name)
            return {
                "token": token,
                "role": enrollment.role,
                "fixed_username": enrollment.username,
                "totp_secret": enrollment.totp_secret,
                "qr": qr_data_uri(uri),
                "first_admin": enrollment.created_by is None,
            }

        return await self.web.run(work)

    async def enroll_form(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            context = await self._enrollment_context(request, token)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return await self.staff_views.page(request, "admin/enroll.html", context)

    async def enroll(self, request: Request) -> Response:
        token = request.path_params["token"]
        now = self.web.runtime.now()
        fields: dict[str, str] = {}
        try:
            fields = await self.staff_views.form(request, None, csrf=False)
            kdf = self.config.kdf

            def work(db: DbSession) -> tuple[str, str, str]:
                account = recipients.complete_enrollment(
                    db,
                    token=token,
                    username=fields.get("username", ""),
                    password=fields.get("password", ""),
                    password_again=fields.get("password_again", ""),
                    totp_code=fields.get("totp", ""),
                    kdf=kdf,
                    now=now,
                )
                audit.record(
                    db,
                    "user.enrolled",
                    now=now,
                    actor_id=account.user.id,
                    actor=account.user.username,
                    role=account.user.role,
                )
                return account.user.username, account.user.role, account.recovery_key

            # create_user runs Argon2id inside; keep it within the KDF cap.
            username, role, recovery_key = await self.web.kdf(
                lambda: self.web.runtime.transact(work)
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
            {"username": username, "role": role, "recovery_key": recovery_key},
        )

    # Overview.

    async def overview(self, request: Request) -> Response:
        staff = await self.admin(request)
        if staff is None:
            return await self.refuse(request)

        def work(db: DbSession) -> dict[str, Any]:
            all_channels = channels.list_channels(db)
            return {
                "users": recipients.list_users(db),
                "channels": [(c, channels.members(db, c)) for c in all_channels],
                "settings": instance_services.get_instance(db),
                "notices": notices.status(db),
                "mail_configured": bool(self.config.smtp_url),
            }

        context = await self.web.run(work)
        context["saved"] = "saved" in request.query_params
        runtime = self.web.runtime
        context["onions"] = {
            "source": runtime.source_onion_url(),
            "staff": runtime.onions.address(STAFF_SERVICE),
            "configured": runtime.config.tor_dir is not None,
        }
        return await self.staff_views.page(request, "admin/overview.html", context)

    # Invitations.

    async def invite_form(self, request: Request) -> Response:
        staff = await self.admin(request)
        if staff is None:
            return await self.refuse(request)
        channel_list = await self.web.run(channels.list_channels)
        return await self.staff_views.page(
            request, "admin/invite.html", {"channels": channel_list, "link": None}
        )

    async def invite(self, request: Request) -> Response:
        now = self.web.runtime.now()
        lifetime = self.config.setup_token_lifetime
        try:
            staff, fields = await self.admin_form(request)
            if staff is None:
                return await self.refuse(request)
            form = await request.form()
            channel_ids = [str(v) for v in form.getlist("channels")]
            roles = {"admin": Role.ADMIN, "analyst": Role.ANALYST}
            role = roles.get(fields.get("role", ""), Role.RECIPIENT)
            username = fields.get("username", "").strip() or None

            def work(db: DbSession) -> str:
                token = recipients.create_enrollment(
                    db,
                    role=role,
                    now=now,
                    lifetime=lifetime,
                    username=username,
                    channel_ids=channel_ids if role == Role.RECIPIENT else [],
                    created_by=staff.user.id,
                )
                audit.record(
                    db,
                    "admin.invite",
                    now=now,
                    actor_id=staff.user.id,
                    actor=staff.user.username,
                    role=role.value,
                    username=username,
                    channel_ids=channel_ids if role == Role.RECIPIENT else [],
                )
                return token

            token = await self.web.run(work)
        except errors.ServiceError as exc:
            channel_list = await self.web.run(channels.list_channels)
            return await self.staff_views.error(
                request, "admin/invite.html", exc, channels=channel_list, link=None
            )
        channel_list = await self.web.run(channels.list_channels)
        link = f"{self.config.resolved_staff_url}/setup/{token}"
        return await self.staff_views.page(
            request, "admin/invite.html", {"channels": channel_list, "link": link}
        )

    async def disable(self, request: Request) -> Response:
        try:
            staff, fields = await self.admin_form(request)
            if staff is None:
                return await self.refuse(request)
            user_id = request.path_params["user_id"]
            disabled = fields.get("disabled") == "1"
            now = self.web.runtime.now()

            def work(db: DbSession) -> None:
                user = recipients.get_user(db, user_id)
                recipients.set_disabled(db, user, disabled, db.merge(staff.user))
                audit.record(
                    db,
                    "admin.user_disabled" if disabled else "admin.user_enabled",
                    now=now,
                    actor_id=staff.user.id,
                    actor=staff.user.username,
                    user_id=user.id,
                    username=user.username,
                )

            await self.web.run(work)
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
            return {"channel": channel, "members": members, "recipients": users}

        try:
            context = await self.web.run(work)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return await self.staff_views.page(request, "admin/channel.html", context)

    async def channel_save(self, request: Request) -> Response:
        channel_id = request.path_params.get("channel_id")
        now = self.web.runtime.now()
        try:
            staff, fields = await self.admin_form(request)
            if staff is None:
                return await self.refuse(request)
            form = await request.form()
            members = [str(v) for v in form.getlist("members")]

            def work(db: DbSession) -> None:
                name, description = fields.get("name", ""), fields.get("description", "")
                if channel_id:
                    channel = channels.get_channel(db, channel_id)
                    before = {u.username for u in channels.members(db, channel)}
                    channels.update_channel(
                        db, channel, name=name, description=description, recipients=members
                    )
                    action = "admin.channel_updated"
                else:
                    before = set()
                    channel = channels.create_channel(
                        db, name=name, description=description, recipients=members, now=now
                    )
                    action = "admin.channel_created"
                after = {u.username for u in channels.members(db, channel)}
                audit.record(
                    db,
                    action,
                    now=now,
                    actor_id=staff.user.id,
                    actor=staff.user.username,
                    channel_id=channel.id,
                    name=channel.name,
                    added=sorted(after - before),
                    removed=sorted(before - after),
                )

            await self.web.run(work)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/error.html", exc)
        return self.web.redirect(request, "/admin", saved=1)

    # Settings.

    async def settings_form(self, request: Request) -> Response:
        staff = await self.admin(request)
        if staff is None:
            return await self.refuse(request)
        settings = await self.web.run(instance_services.get_instance)
        return await self.staff_views.page(request, "admin/settings.html", {"settings": settings})

    async def settings_save(self, request: Request) -> Response:
        try:
            staff, fields = await self.admin_form(request)
            if staff is None:
                return await self.refuse(request)

            now = self.web.runtime.now()

            def work(db: DbSession) -> None:
                show = fields.get("show_source_submissions") == "1"
                instance_services.update_settings(
                    db,
                    name=fields.get("name", ""),
                    guidance=fields.get("guidance", ""),
                    show_source_submissions=show,
                )
                audit.record(
                    db,
                    "admin.settings_changed",
                    now=now,
                    actor_id=staff.user.id,
                    actor=staff.user.username,
                    show_source_submissions=show,
                )

            await self.web.run(work)
        except errors.ServiceError as exc:
            settings = await self.web.run(instance_services.get_instance)
            return await self.staff_views.error(
                request, "admin/settings.html", exc, settings=settings
            )
        return self.web.redirect(request, "/admin", saved=1)
