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
from mailslot.audit import services as audit
from mailslot.instance.services import get_instance
from mailslot.limits import services as limits
from mailslot.recipients import services as recipients
from mailslot.recipients.models import User
from mailslot.sessions import services as sessions
from mailslot.sessions.services import b64, unb64
from mailslot.web.security import STAFF_SCRIPT_CSP
from mailslot.web.staff import Staff, StaffViews

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
REGISTRATION = "webauthn_registration"
REGISTRATION_LIFETIME = 600


def relying_party(request: Request) -> tuple[str, str]:
    """The RP id and origin as the browser sees this interface (its host, and scheme+host)."""
    url = request.url
    return url.hostname or "", f"{url.scheme}://{url.netloc}"


class WebauthnViews:
    def __init__(self, staff_views: StaffViews) -> None:
        self.staff_views = staff_views
        self.web = staff_views.web
        self.config = self.web.runtime.config

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
        user = staff.user
        rp_id, _ = relying_party(request)
        now = self.web.runtime.now()

        def work(db: DbSession) -> tuple[list[Any], keys.Ceremony]:
            merged = db.merge(user)
            return keys.list_keys(db, merged), keys.registration_options(db, merged, rp_id=rp_id)

        rows, ceremony = await self.web.run(work)
        # A fresh challenge for each view of the page; the last one shown is the one accepted.
        staff.state.data[REGISTRATION] = {"challenge": b64(ceremony.challenge), "at": now}
        await self.web.save_session(staff.state)
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
            pending = staff.state.data.pop(REGISTRATION, None)
            await self.web.save_session(staff.state)
            now = self.web.runtime.now()
            if not isinstance(pending, dict) or pending.get("at", 0) + REGISTRATION_LIFETIME < now:
                raise errors.InvalidInput(keys.REGISTRATION_FAILED)
            if not fields.get("credential"):
                raise errors.InvalidInput("Adding a security key needs JavaScript.")
            rp_id, origin = relying_party(request)
            user = staff.user
            challenge = unb64(str(pending["challenge"]))

            def work(db: DbSession) -> None:
                key = keys.register_key(
                    db,
                    db.merge(user),
                    name=fields.get("name", ""),
                    response=fields.get("credential", ""),
                    challenge=challenge,
                    rp_id=rp_id,
                    origin=origin,
                    now=now,
                )
                audit.record(
                    db,
                    "account.key_added",
                    now=now,
                    actor_id=user.id,
                    actor=user.username,
                    key_id=key.id,
                )

            await self.web.run(work)
        except errors.ServiceError as exc:
            return await self.keys_page(request, staff, exc)
        return self.web.redirect(request, "/account/keys", added=1)

    async def remove_key(self, request: Request) -> Response:
        staff = await self.staff_views.staff(request)
        kdf = self.config.kdf
        try:
            fields = await self.staff_views.form(request, staff)
            if staff is None:
                return self.staff_views.login_redirect(request)
            user = staff.user
            current = fields.get("current", "")
            current_keys = await self.web.kdf(lambda: recipients.derive_for(user, current, kdf))
            key_id = fields.get("key", "")
            now = self.web.runtime.now()

            def work(db: DbSession) -> None:
                keys.remove_key(db, db.merge(user), key_id, current_keys)
                audit.record(
                    db,
                    "account.key_removed",
                    now=now,
                    actor_id=user.id,
                    actor=user.username,
                    key_id=key_id,
                )

            await self.web.run(work)
        except errors.ServiceError as exc:
            return await self.keys_page(request, staff, exc)
        return self.web.redirect(request, "/account/keys", removed=1)

    # Login with a key.

    async def begin(self, request: Request) -> Response:
        now = self.web.runtime.now()
        rp_id, _ = relying_party(request)
        try:
            fields = await self.staff_views.form(request, None, csrf=False)
            username = fields.get("username", "")[:64]
            user, password_keys = await self.staff_views.first_factor(
                username, fields.get("password", ""), now
            )
            try:
                recipients.verify_password(user, password_keys)
                password_ok = True
            except errors.AuthenticationFailed:
                # Counted now, told only after the key step: this answer looks the same
                # whether or not the password was right.
                await self.staff_views.login_failed(username, now)
                password_ok = False

            def work(db: DbSession) -> keys.Ceremony:
                decoy = get_instance(db).codename_salt
                merged = db.merge(user) if user is not None else None
                return keys.authentication_options(
                    db, merged, username=username, rp_id=rp_id, decoy_key=decoy
                )

            ceremony = await self.web.run(work)
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/login.html", exc)
        csrf = secrets.token_urlsafe(24)
        data = {
            "username": username,
            "pre_user_id": user.id if user is not None and password_ok else None,
            # The password's KEK stays sealed server-side until the key has answered.
            "kek": b64(password_keys.kek) if password_ok else None,
            "challenge": b64(ceremony.challenge),
            "csrf": csrf,
        }
        # Any session this browser had ends; the pre-login one takes its cookie.
        await self.web.end_session(request)
        state = await self.web.run(
            lambda db: sessions.create(
                db, kind=PRE_LOGIN, data=data, now=now, absolute=PRE_LOGIN_LIFETIME
            )
        )
        request.scope["mailslot.set_cookie"] = state.token
        response = await self.staff_views.page(
            request,
            "staff/webauthn_login.html",
            {"options": ceremony.options_json, "pre_login_csrf": csrf},
        )
        response.headers["Content-Security-Policy"] = STAFF_SCRIPT_CSP
        return response

    async def finish(self, request: Request) -> Response:
        now = self.web.runtime.now()
        rp_id, origin = relying_party(request)
        token = request.cookies.get(self.web.cookie_name(request))

        def take(db: DbSession) -> sessions.SessionState | None:
            # Used up by this request whatever happens next: one answer per challenge.
            state = sessions.load(db, token, kind=PRE_LOGIN, idle=PRE_LOGIN_LIFETIME, now=now)
            sessions.destroy(db, state)
            return state

        try:
            fields = await self.staff_views.form(request, None, csrf=False)
            pre = await self.web.run(take)
            # The cookie is spent: the browser forgets it, and no staff session is loaded.
            request.scope["mailslot.set_cookie"] = ""
            request.scope["mailslot.session"] = None
            if pre is None:  # expired, already used, or never made: nothing to count against
                raise errors.AuthenticationFailed(keys.LOGIN_FAILED)
            self.web.check_csrf(pre, fields.get("csrf"))
            data = pre.data
            username = str(data.get("username", ""))
            await self.web.run(lambda db: limits.check_login(db, username, now))
            response = fields.get("credential", "")
            try:
                auth = await self.web.run(
                    lambda db: self.second_factor(
                        db, data, response, rp_id=rp_id, origin=origin, now=now
                    )
                )
            except errors.AuthenticationFailed:
                if data.get("pre_user_id"):  # a wrong password was counted at the first step
                    await self.staff_views.login_failed(username, now)
                raise
        except errors.ServiceError as exc:
            return await self.staff_views.error(request, "staff/login.html", exc)
        failures = await self.staff_views.login_succeeded(username, via="security-key")
        return await self.staff_views.logged_in(request, auth, failures)

    @staticmethod
    def second_factor(
        db: DbSession, data: dict[str, Any], response: str, *, rp_id: str, origin: str, now: int
    ) -> recipients.Authenticated:
        """Check the key's answer, then unwrap the private key with the KEK from step 1."""
        user_id, kek = data.get("pre_user_id"), data.get("kek")
        user = db.get(User, str(user_id)) if user_id and kek else None
        if user is None:
            raise errors.AuthenticationFailed(keys.LOGIN_FAILED)
        keys.verify_key(
            db,
            user,
            response=response,
            challenge=unb64(str(data["challenge"])),
            rp_id=rp_id,
            origin=origin,
            now=now,
        )
        return recipients.unlock(user, unb64(str(kek)))
