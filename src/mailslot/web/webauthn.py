"""Security keys (WebAuthn): adding and removing them, and logging in with one.

The login runs in two steps, both plain form posts (no ``fetch``, so the policy keeps
``connect-src 'none'``):

1. ``POST /login/webauthn/begin`` (username, password): the same throttle and Argon2id as a
   code login. The answer is a page whose options depend on the username only, so it does
   not reveal whether the password was right. A sealed *pre-login* session of its own kind
   (it can never pass for a staff session) keeps the challenge, whether the password was
   right, and the password's KEK, for five minutes.
2. ``POST /login/webauthn/finish`` (the key's answer): the pre-login session is used up at
   once (one try per challenge), the answer is checked against the stored challenge and
   counter, and only then is the private key unwrapped with the KEK from step 1 and a new
   staff session started.

Pages that need script send :data:`~mailslot.web.security.STAFF_SCRIPT_CSP`, which allows
``/static/webauthn.js`` and nothing else. Without JavaScript these pages say so, and the
code login works as before.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session as DbSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mailslot import errors
from mailslot.sessions import services as sessions
from mailslot.sessions.data import KeyRegistration, SessionData
from mailslot.web.security import STAFF_SCRIPT_CSP
from mailslot.web.staff import Staff, StaffViews, kept_draft

if TYPE_CHECKING:
    from mailslot.recipients import webauthn as keys
else:

    class _LazyKeys:
        """py_webauthn (with pyOpenSSL and cbor2) weighs some 6 MiB; it loads the first time a
        security key is used rather than in every serving process at start-up."""

        def __getattr__(self, name: str) -> Any:
            from mailslot.recipients import webauthn  # noqa: PLC0415 - see the docstring

            return getattr(webauthn, name)

    keys = _LazyKeys()

PRE_LOGIN = "staff-prelogin"
PRE_LOGIN_LIFETIME = 300
REGISTRATION_LIFETIME = 600


def relying_party(request: Request) -> tuple[str, str]:
    """The RP id and origin as the browser sees this interface (its host, and scheme+host)."""
    url = request.url
    return url.hostname or "", f"{url.scheme}://{url.netloc}"


class WebauthnViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/account/keys", self.keys_page),
            Route("/account/keys", self.add_key, methods=["POST"]),
            Route("/account/keys/remove", self.remove_key, methods=["POST"]),
            Route("/login/webauthn/begin", self.begin, methods=["POST"]),
            Route("/login/webauthn/finish", self.finish, methods=["POST"]),
        ]

    # The account's keys.

    async def keys_page(
        self,
        request: Request,
        staff: Staff | None = None,
        error: errors.ServiceError | None = None,
    ) -> Response:
        staff = staff or await self.staff_views.staff(request)
        if staff is None:
            return self.staff_views.login_redirect(request)
        rp_id, _ = relying_party(request)
        rows, ceremony = await self.web.call(
            request, keys.start_registration, staff.user, rp_id=rp_id
        )
        # A fresh challenge for each view of the page; the last one shown is the one accepted.
        now = self.web.org(request).now()
        staff.state.data.key_registration = KeyRegistration(ceremony.challenge, now)
        await self.web.save_session(request, staff.state)
        context = {
            "keys": rows,
            "options": ceremony.options_json,
            "added": "added" in request.query_params,
            "removed": "removed" in request.query_params,
        }
        if error is not None:
            response = await self.staff_views.error(
                request, "staff/webauthn_keys.html", error, **context
            )
        else:
            response = await self.staff_views.page(request, "staff/webauthn_keys.html", context)
        response.headers["Content-Security-Policy"] = STAFF_SCRIPT_CSP
        return response

    async def add_key(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            # The challenge is used once, whatever the outcome.
            pending, staff.state.data.key_registration = staff.state.data.key_registration, None
            await self.web.save_session(request, staff.state)
            now = self.web.org(request).now()
            if pending is None or pending.at + REGISTRATION_LIFETIME < now:
                raise errors.InvalidInput(keys.REGISTRATION_FAILED)
            if not fields.get("credential"):
                raise errors.InvalidInput("Adding a security key needs JavaScript.")
            rp_id, origin = relying_party(request)
            await self.web.call(
                request,
                keys.add_key,
                staff.user,
                name=fields.get("name", ""),
                response=fields.get("credential", ""),
                challenge=pending.challenge,
                rp_id=rp_id,
                origin=origin,
            )
        except errors.ServiceError as exc:
            return await self.keys_page(request, staff, exc)
        return self.web.redirect(request, "/account/keys", added=1)

    async def remove_key(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            await self.web.call(
                request,
                keys.delete_key,
                staff.user,
                fields.get("key", ""),
                fields.get("current", ""),
            )
        except errors.ServiceError as exc:
            return await self.keys_page(request, staff, exc)
        return self.web.redirect(request, "/account/keys", removed=1)

    # Login with a key.

    async def begin(self, request: Request) -> Response:
        rp_id, _ = relying_party(request)
        kept: dict[str, str] = {}
        shown: dict[str, str] = {}
        try:
            fields = await self.staff_views.form(request, None, csrf=False)
            username = fields.get("username", "")[:64]
            # A reply kept from a session that had ended goes on through the key's page.
            kept = kept_draft(fields)
            shown = {"username": username, **kept}
            pending, ceremony = await self.web.call(
                request, keys.begin_login, username, fields.get("password", ""), rp_id=rp_id
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/login.html", exc, **shown)
        csrf = secrets.token_urlsafe(24)
        data = SessionData(
            username=pending.username,
            pre_user_id=pending.user_id,
            # The password's KEK stays sealed server-side until the key has answered.
            kek=pending.kek,
            challenge=pending.challenge,
            csrf=csrf,
        )
        # Any session this browser had ends; the pre-login one takes its cookie.
        await self.web.end_session(request)
        now = self.web.org(request).now()
        state = await self.web.run(
            request,
            lambda db: sessions.create(
                db, kind=PRE_LOGIN, data=data, now=now, absolute=PRE_LOGIN_LIFETIME
            ),
        )
        request.scope["mailslot.set_cookie"] = state.token
        response = await self.staff_views.page(
            request,
            "staff/webauthn_login.html",
            {"options": ceremony.options_json, "pre_login_csrf": csrf, **kept},
        )
        response.headers["Content-Security-Policy"] = STAFF_SCRIPT_CSP
        return response

    async def finish(self, request: Request) -> Response:
        now = self.web.org(request).now()
        rp_id, origin = relying_party(request)
        token = request.cookies.get(self.web.cookie_name(request))

        def take(db: DbSession) -> sessions.SessionState | None:
            # Used up by this request whatever happens next: one answer per challenge.
            state = sessions.load(db, token, kind=PRE_LOGIN, idle=PRE_LOGIN_LIFETIME, now=now)
            sessions.destroy(db, state)
            return state

        kept: dict[str, str] = {}
        try:
            fields = await self.staff_views.form(request, None, csrf=False)
            kept = kept_draft(fields)
            pre = await self.web.run(request, take)
            # The cookie is spent: the browser forgets it, and no staff session is loaded.
            request.scope["mailslot.set_cookie"] = ""
            request.scope["mailslot.session"] = None
            if pre is None:  # expired, already used, or never made: nothing to count against
                raise errors.AuthenticationFailed(keys.LOGIN_FAILED)
            self.web.check_csrf(pre, fields.get("csrf"))
            result = await self.web.call(
                request,
                keys.finish_login,
                pending_login(pre.data),
                fields.get("credential", ""),
                rp_id=rp_id,
                origin=origin,
            )
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/login.html", exc, **kept)
        return await self.staff_views.logged_in(request, result, **kept)


def pending_login(data: SessionData) -> keys.PendingLogin:
    """The key login kept in a pre-login session, as ``begin`` stored it."""
    if data.challenge is None:
        raise errors.AuthenticationFailed(keys.LOGIN_FAILED)
    return keys.PendingLogin(
        username=data.username,
        user_id=data.pre_user_id,
        kek=data.kek,
        challenge=data.challenge,
    )
