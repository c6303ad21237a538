"""The staff member's own account: password change, and recovery after a lost password."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import crypto, errors
from mailslot.audit import services as audit
from mailslot.limits import services as limits
from mailslot.recipients import services as recipients
from mailslot.sessions import services as sessions
from mailslot.sessions.models import Session
from mailslot.web.staff import Staff, StaffViews


class AccountViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web
        self.config = self.web.runtime.config

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
                **await self.sessions_context(staff),
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
            **await self.sessions_context(staff),
        )

    async def sessions_context(self, staff: Staff | None) -> dict[str, Any]:
        if staff is None:
            return {"sessions": [], "current_session": ""}
        now = self.web.runtime.now()
        idle = {
            sessions.STAFF: self.config.staff_session_idle,
            sessions.API: self.config.api_token_lifetime,
        }
        rows = await self.web.run(
            lambda db: sessions.user_sessions(db, staff.user.id, now=now, idle=idle)
        )
        return {"sessions": rows, "current_session": staff.state.row.id}

    async def end_session(self, request: Request) -> Response:
        """End one of one's own sessions, or every other one."""
        staff = await self.staff_views.staff(request)
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            user_id, current = staff.user.id, staff.state.row.id
            username, now = staff.user.username, self.web.runtime.now()
            target = fields.get("session", "")

            def ended(db: DbSession, which: str) -> None:
                audit.record(
                    db,
                    "account.session_ended",
                    now=now,
                    actor_id=user_id,
                    actor=username,
                    which=which,
                )

            if target == "others":

                def end_others(db: DbSession) -> None:
                    sessions.end_user_sessions(db, user_id, keep=current)
                    ended(db, "others")

                await self.web.run(end_others)
            elif target == current:
                await self.web.run(lambda db: ended(db, "this"))
                await self.web.end_session(request)
                return self.web.redirect(request, "/login", bye=1)
            else:

                def end_one(db: DbSession) -> None:
                    mine = select(Session.id).where(
                        Session.user_id == user_id, Session.id == target
                    )
                    if db.scalar(mine) is not None:  # someone else's session: nothing happens
                        sessions.end_user_session(db, user_id, target)
                        ended(db, "one")

                await self.web.run(end_one)
        except errors.ServiceError as exc:
            return await self.account_error(request, staff, exc)
        return self.web.redirect(request, "/account", ended=1)

    async def change_password(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        kdf = self.config.kdf
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            user = staff.user
            current = fields.get("current", "")
            new, again = fields.get("password", ""), fields.get("password_again", "")

            def derive() -> tuple[crypto.PasswordKeys, bytes, crypto.PasswordKeys]:
                salt, new_keys = recipients.derive_new(new, kdf)
                return recipients.derive_for(user, current, kdf), salt, new_keys

            current_keys, salt, new_keys = await self.web.kdf(derive)
            session_id = staff.state.row.id
            now = self.web.runtime.now()

            def work(db: DbSession) -> None:
                recipients.change_password(
                    db,
                    db.merge(user),
                    current=current_keys,
                    new_password=new,
                    new_password_again=again,
                    new_keys=new_keys,
                    new_salt=salt,
                    kdf=kdf,
                    keep_session=session_id,
                )
                audit.record(
                    db, "account.password_changed", now=now, actor_id=user.id, actor=user.username
                )

            await self.web.run(work)
        except errors.ServiceError as exc:
            return await self.account_error(request, staff, exc)
        return self.web.redirect(request, "/account", changed=1)

    async def set_email(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            user = staff.user
            email = fields.get("email", "")
            now = self.web.runtime.now()

            def work(db: DbSession) -> None:
                recipients.set_email(db, db.merge(user), email)
                # Whether a notice address is set, not the address.
                audit.record(
                    db,
                    "account.email_changed",
                    now=now,
                    actor_id=user.id,
                    actor=user.username,
                    notices=bool(email.strip()),
                )

            await self.web.run(work)
        except errors.ServiceError as exc:
            return await self.account_error(request, staff, exc)
        return self.web.redirect(request, "/account", email=1)

    async def recover_form(self, request: Request) -> Response:
        return await self.staff_views.page(request, "staff/recover.html")

    async def recover(self, request: Request) -> Response:
        now = self.web.runtime.now()
        kdf = self.config.kdf
        try:
            fields = await self.staff_views.form(request, None, csrf=False)
            new = fields.get("password", "")
            username = fields.get("username", "")[:64]
            # Recovery attempts count against the same per-username throttle as logins.
            await self.web.run(lambda db: limits.check_login(db, username, now))
            # The new password's Argon2id runs first, for every attempt, so the time taken
            # does not tell whether the username exists.
            salt, new_keys = await self.web.kdf(lambda: recipients.derive_new(new, kdf))

            def work(db: DbSession) -> str:
                key = recipients.recover_account(
                    db,
                    username=username,
                    recovery_key=fields.get("recovery_key", ""),
                    totp_code=fields.get("totp", ""),
                    new_password=new,
                    new_password_again=fields.get("password_again", ""),
                    new_keys=new_keys,
                    new_salt=salt,
                    kdf=kdf,
                    now=now,
                )
                user = recipients.find_user(db, username)
                if user is not None:
                    audit.record(
                        db, "account.recovered", now=now, actor_id=user.id, actor=user.username
                    )
                return key

            recovery_key = await self.web.run(work)
        except errors.AuthenticationFailed as exc:
            threshold = self.config.login_failures_before_lock
            await self.web.run(
                lambda db: limits.login_failed(db, username, now=now, threshold=threshold)
            )
            return await self.staff_views.error(request, "staff/recover.html", exc)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/recover.html", exc)
        return await self.staff_views.page(
            request, "staff/recovered.html", {"recovery_key": recovery_key}
        )
