"""What both HTML interfaces share: templates per locale, sessions in cookies, CSRF, threads."""

from __future__ import annotations

import dataclasses
import datetime
import secrets
from collections.abc import Callable, Mapping
from functools import partial
from importlib import resources
from typing import Any, Concatenate, Final, ParamSpec, TypeVar
from urllib.parse import quote, urlencode

import anyio.to_thread
import jinja2
from markupsafe import Markup
from sqlalchemy.orm import Session as DbSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mailslot import errors, i18n
from mailslot.context import OrgContext
from mailslot.runtime import Runtime
from mailslot.sessions import services as sessions
from mailslot.sessions.data import SessionData
from mailslot.sizes import human_size
from mailslot.web.errors import CsrfError, status_for
from mailslot.web.security import SAFE_METHODS, cross_site

T = TypeVar("T")
P = ParamSpec("P")


def _no_nul(value: Any) -> Any:
    """Every printed value: a NUL (from decrypted text, say) becomes U+FFFD, never raw."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _format_time(locale: str, timestamp: int, *, hour: bool = True) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    if locale == "ko":
        return moment.strftime("%Y년 %m월 %d일 %H:%M UTC" if hour else "%Y년 %m월 %d일")
    return moment.strftime("%d %b %Y, %H:%M UTC" if hour else "%d %b %Y")


# A deleted cookie's expiry: a fixed date in the past, never the server's clock.
COOKIE_EPOCH: Final = "Thu, 01 Jan 1970 00:00:00 GMT"
# A path we link to ourselves: one "/" then only unreserved characters, "/" and "%" escapes.
_SAFE_PATH = "/-._~"


def self_link(request: Request) -> str:
    """This page's own path for a link on it (the language links): the request's path only
    if a route matched it, escaped, and always a same-origin path that starts with exactly one
    "/"; else the site's root. A raw path such as ``//evil.example/x`` or ``/\\evil`` would
    be a link off the site."""
    path = request.scope.get("path", "") if "endpoint" in request.scope else ""
    if not path.startswith("/") or path[1:2] in ("/", "\\") or "\\" in path:
        return "/"
    link = quote(path, safe=_SAFE_PATH)
    return link if link.startswith("/") and not link.startswith("//") else "/"


class Templates:
    """One Jinja environment per locale, each with its gettext installed: thread-safe."""

    def __init__(self) -> None:
        loader = jinja2.FileSystemLoader(str(resources.files("mailslot.web") / "templates"))
        self._envs: dict[str, jinja2.Environment] = {}
        for locale in i18n.SUPPORTED_LOCALES:
            env = jinja2.Environment(
                loader=loader,
                autoescape=True,
                undefined=jinja2.StrictUndefined,
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
                finalize=_no_nul,
            )
            env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
            env.filters["size"] = human_size
            env.filters["time"] = partial(_format_time, locale)
            env.filters["date"] = partial(_format_time, locale, hour=False)
            env.globals["locales"] = [
                (code, i18n.display_name(code)) for code in i18n.SUPPORTED_LOCALES
            ]
            self._envs[locale] = env

    def render(self, locale: str, name: str, context: Mapping[str, Any]) -> str:
        return self._envs[locale].get_template(name).render(context)


class Web:
    """Per-interface helpers bound to the runtime: ``kind`` is ``source`` or ``staff``."""

    def __init__(self, runtime: Runtime, templates: Templates, *, kind: str) -> None:
        self.runtime = runtime
        self.templates = templates
        self.kind = kind
        config = runtime.config
        if kind == sessions.SOURCE:
            self.idle, self.absolute = config.source_session_idle, config.source_session_absolute
        else:
            self.idle, self.absolute = config.staff_session_idle, config.staff_session_absolute

    # The organisation: resolved once per request from its Host.

    def org(self, request: Request) -> OrgContext:
        """The organisation this request is for; 404 for a host that none claims."""
        cached = request.scope.get("mailslot.org")
        if isinstance(cached, OrgContext):
            return cached
        found = self.runtime.for_host(request.headers.get("host", ""))
        if found is None:
            raise HTTPException(404)
        request.scope["mailslot.org"] = found
        return found

    # Threads: use cases, database work and key derivation never run on the event loop.

    async def call(
        self,
        request: Request,
        use_case: Callable[Concatenate[OrgContext, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run a use case with the request's organisation, in a worker thread."""
        context = self.org(request)
        return await anyio.to_thread.run_sync(partial(use_case, context, *args, **kwargs))

    async def run(self, request: Request, work: Callable[[DbSession], T]) -> T:
        """Run ``work`` in one unit of work on the request's organisation (worker thread)."""
        return await anyio.to_thread.run_sync(self.org(request).transact, work)

    async def kdf(self, request: Request, work: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(partial(self.org(request).kdf, work))

    # Locale.

    @staticmethod
    def locale(request: Request) -> str:
        cached = request.scope.get("mailslot.locale")
        if isinstance(cached, str):
            return cached
        locale = i18n.negotiate(
            request.query_params.get("lang"), request.headers.get("accept-language")
        )
        request.scope["mailslot.locale"] = locale
        return locale

    def url(self, request: Request, path: str, **query: Any) -> str:
        params = {k: v for k, v in query.items() if v is not None}
        if "lang" in request.query_params and self.locale(request) != i18n.DEFAULT_LOCALE:
            params.setdefault("lang", self.locale(request))
        return path + ("?" + urlencode(params) if params else "")

    def gettext(self, request: Request, message: str, **params: Any) -> str:
        return i18n.translate(self.locale(request), message, params or None)

    # Sessions.

    def cookie_name(self, request: Request) -> str:
        name = f"mailslot_{self.kind}"
        return f"__Host-{name}" if self.secure(request) else name

    @staticmethod
    def secure(request: Request) -> bool:
        return request.url.scheme == "https"

    async def session(
        self,
        request: Request,
        *,
        also: Callable[[DbSession, sessions.SessionState], None] | None = None,
    ) -> sessions.SessionState | None:
        """The request's session (loaded once per request). ``also`` runs with a live session
        in the same transaction as the load (one thread hop, one commit); if it raises, the
        transaction is rolled back and the error propagates, but the session stays known."""
        if "mailslot.session" in request.scope:
            state: sessions.SessionState | None = request.scope["mailslot.session"]
            if state is not None and also is not None:
                live = state
                await self.run(request, lambda db: also(db, live))
            return state
        token = request.cookies.get(self.cookie_name(request))
        if not token:
            request.scope["mailslot.session"] = None
            return None
        now = self.org(request).now()
        loaded: list[sessions.SessionState | None] = [None]

        def work(db: DbSession) -> sessions.SessionState | None:
            loaded[0] = sessions.load(db, token, kind=self.kind, idle=self.idle, now=now)
            if loaded[0] is not None and also is not None:
                also(db, loaded[0])
            return loaded[0]

        try:
            return await self.run(request, work)
        finally:
            request.scope["mailslot.session"] = loaded[0]

    async def start_session(
        self, request: Request, data: SessionData, user_id: str | None = None
    ) -> sessions.SessionState:
        """A fresh session (the old one, if any, is destroyed: rotation on privilege change)
        holding ``data`` and a new CSRF token."""
        old = await self.session(request)
        data = dataclasses.replace(data, csrf=secrets.token_urlsafe(24))
        now = self.org(request).now()

        def work(db: DbSession) -> sessions.SessionState:
            if old is not None:
                sessions.destroy(db, old)
            return sessions.create(
                db, kind=self.kind, data=data, now=now, absolute=self.absolute, user_id=user_id
            )

        state = await self.run(request, work)
        request.scope["mailslot.session"] = state
        request.scope["mailslot.set_cookie"] = state.token
        return state

    async def save_session(self, request: Request, state: sessions.SessionState) -> None:
        await self.run(request, lambda db: sessions.save(db, state))

    async def end_session(self, request: Request) -> None:
        state = await self.session(request)
        if state is not None:
            await self.run(request, lambda db: sessions.destroy(db, state))
        request.scope["mailslot.session"] = None
        request.scope["mailslot.set_cookie"] = ""

    def finish(self, request: Request, response: Response) -> Response:
        """Apply a pending cookie change to the response."""
        token = request.scope.get("mailslot.set_cookie")
        if token is None:
            return response
        name = self.cookie_name(request)
        if token:
            # No Max-Age: a browser session cookie, gone when Tor Browser closes.
            response.set_cookie(
                name, token, path="/", httponly=True, samesite="strict", secure=self.secure(request)
            )
        else:
            # Not Starlette's delete_cookie: its Expires is the server's clock to the second,
            # which leaving out the Date header hides.
            response.set_cookie(
                name,
                "",
                max_age=0,
                expires=COOKIE_EPOCH,
                path="/",
                httponly=True,
                samesite="strict",
                secure=self.secure(request),
            )
        return response

    # CSRF.

    @staticmethod
    def check_origin(request: Request) -> None:
        if request.method not in SAFE_METHODS and cross_site(
            request.headers, request.headers.get("host", "")
        ):
            raise CsrfError()

    @staticmethod
    def check_csrf(state: sessions.SessionState | None, token: str | None) -> None:
        expected = state.data.csrf if state is not None else None
        if not expected or not token or not secrets.compare_digest(str(expected), token):
            raise CsrfError()

    # Rendering.

    def page(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        instance_name: str = "",
    ) -> Response:
        locale = self.locale(request)
        state: sessions.SessionState | None = request.scope.get("mailslot.session")
        here = self_link(request) if status != 404 else "/"  # a missing page: the site's root
        full = {
            "request": request,
            "lang": locale,
            "dir": i18n.text_direction(locale),
            "url": partial(self.url, request),
            "lang_url": lambda code: here + "?" + urlencode({"lang": code}),
            "csrf_token": state.data.csrf if state is not None else "",
            "instance_name": instance_name,
            "error": None,
            "notice": None,
        }
        full.update(context or {})
        html = self.templates.render(locale, template, full)
        return self.finish(request, HTMLResponse(html, status_code=status))

    def redirect(self, request: Request, path: str, **query: Any) -> Response:
        return self.finish(request, RedirectResponse(self.url(request, path, **query), 303))

    def error_message(self, request: Request, error: errors.ServiceError) -> Markup:
        return Markup.escape(self.gettext(request, error.message, **error.params))

    def error_status(self, error: errors.ServiceError) -> int:
        return status_for(error)
