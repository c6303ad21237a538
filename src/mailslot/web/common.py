"""What both HTML interfaces share: templates, the language, sessions in cookies, CSRF, threads."""

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

from mailslot import errors, formats, i18n
from mailslot.context import OrgContext
from mailslot.runtime import Runtime
from mailslot.sessions import services as sessions
from mailslot.sessions.data import SessionData
from mailslot.web.errors import CsrfError, status_for
from mailslot.web.hosts import scoped_org
from mailslot.web.security import SAFE_METHODS, cross_site

T = TypeVar("T")
P = ParamSpec("P")


def _no_nul(value: Any) -> Any:
    """Every printed value: a NUL (from decrypted text, say) becomes U+FFFD, never raw."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


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
    """One Jinja environment for every locale: its gettext, ngettext and formatting filters
    read the locale of the page being rendered (the context's ``lang``). Thread-safe."""

    def __init__(self) -> None:
        loader = jinja2.FileSystemLoader(str(resources.files("mailslot.web") / "templates"))
        env = jinja2.Environment(
            loader=loader,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            finalize=_no_nul,
        )
        env.install_gettext_callables(  # type: ignore[attr-defined]
            _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
        )
        env.filters.update(size=_size, time=_time, date=_date, number=_number, lang_tag=_tag)
        env.filters["lang_dir"] = i18n.text_direction
        env.filters["days"] = _days
        env.globals["locales_by_code"] = {
            code: i18n.display_name(code) for code in i18n.SUPPORTED_LOCALES
        }
        env.filters["iso"] = machine_time  # for <time datetime="…">
        env.globals["locales"] = [
            (code, i18n.language(code).tag, i18n.display_name(code))
            for code in i18n.SUPPORTED_LOCALES
        ]
        self._env = env

    def render(self, locale: str, name: str, context: Mapping[str, Any]) -> str:
        return self._env.get_template(name).render({**context, "lang": locale})


# What templates call: each reads the page's locale from the render context.


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    return i18n.translations(context["lang"]).gettext(message)


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, n: int) -> str:
    return i18n.translations(context["lang"]).ngettext(singular, plural, n)


@jinja2.pass_context
def _pgettext(context: jinja2.runtime.Context, where: str, message: str) -> str:
    return i18n.translations(context["lang"]).pgettext(where, message)


@jinja2.pass_context
def _npgettext(
    context: jinja2.runtime.Context, where: str, singular: str, plural: str, n: int
) -> str:
    return i18n.translations(context["lang"]).npgettext(where, singular, plural, n)


@jinja2.pass_context
def _size(context: jinja2.runtime.Context, size: int) -> str:
    return formats.format_size(context["lang"], size)


@jinja2.pass_context
def _time(context: jinja2.runtime.Context, timestamp: int) -> str:
    return formats.format_moment(context["lang"], timestamp)


@jinja2.pass_context
def _date(context: jinja2.runtime.Context, timestamp: int) -> str:
    return formats.format_day(context["lang"], timestamp)


@jinja2.pass_context
def _number(context: jinja2.runtime.Context, value: float) -> str:
    return formats.format_number(context["lang"], value)


@jinja2.pass_context
def _days(context: jinja2.runtime.Context, value: float) -> str:
    return formats.format_days(context["lang"], value)


def machine_time(timestamp: int, *, day: bool = False) -> str:
    """A timestamp as a ``<time datetime>`` value: UTC to the minute (``2027-01-15T14:00Z``),
    or the day only."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d" if day else "%Y-%m-%dT%H:%MZ")


def localized_field(fields: Mapping[str, str], name: str) -> dict[str, str] | str:
    """One text per language from a form of ``admin/_localized.html``: the field ``name`` in
    the language the form named as its default (``texts_locale``), ``name:ko`` … in the
    others. A form without ``texts_locale`` gives the default language's text only."""
    shown = i18n.supported(fields.get("texts_locale"))
    if shown is None:
        return fields.get(name, "")
    texts = {
        code: fields[f"{name}:{code}"]
        for code in i18n.SUPPORTED_LOCALES
        if f"{name}:{code}" in fields
    }
    texts[shown] = fields.get(name, "")
    return texts


def _tag(locale: str) -> str:
    """A locale's BCP 47 tag, for ``lang`` and ``hreflang`` attributes (``zh-Hant``)."""
    return i18n.language(locale).tag


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
        """The organisation this request is for, as ``HostGate`` (``web/hosts.py``) resolved
        it from the request's host before any route ran."""
        found = scoped_org(request.scope)
        if found is None:  # only a route the gate lets through on any host (health) gets here
            raise HTTPException(404)
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

    # Locale: ?lang= (which the language menu's links carry), else the language cookie (set
    # from ?lang= or a form's language button; a browser-session cookie that holds only the
    # locale's code), else Accept-Language, else English.

    def lang_cookie_name(self, request: Request) -> str:
        name = f"mailslot_{self.kind}_lang"
        return f"__Host-{name}" if self.secure(request) else name

    def locale(self, request: Request) -> str:
        cached = request.scope.get("mailslot.locale")
        if isinstance(cached, str):
            return cached
        requested = i18n.supported(request.query_params.get("lang"))
        if requested is not None:
            self.choose_locale(request, requested)
            return requested
        locale = i18n.negotiate(
            None, request.headers.get("accept-language"), self.chosen_locale(request)
        )
        request.scope["mailslot.locale"] = locale
        return locale

    def chosen_locale(self, request: Request) -> str | None:
        """The language this browser chose (its cookie), if any."""
        return i18n.supported(request.cookies.get(self.lang_cookie_name(request)))

    def choose_locale(self, request: Request, locale: str) -> None:
        """Use ``locale`` for this request, and keep it for the next ones (the cookie)."""
        request.scope["mailslot.locale"] = locale
        if locale != self.chosen_locale(request):
            request.scope["mailslot.set_lang"] = locale

    def forget_locale(self, request: Request) -> None:
        """Delete the language cookie with this response, whatever else this request chose
        (at logout, the quick exit, and on the page after logout)."""
        request.scope["mailslot.forget_lang"] = True

    def url(self, request: Request, path: str, **query: Any) -> str:
        params = {k: v for k, v in query.items() if v is not None}
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
        """Apply pending cookie changes (the session's, the language's) to the response."""
        self._finish_lang(request, response)
        token = request.scope.get("mailslot.set_cookie")
        if token is not None:
            self._set_cookie(request, response, self.cookie_name(request), token)
        return response

    def _finish_lang(self, request: Request, response: Response) -> None:
        name = self.lang_cookie_name(request)
        if request.scope.get("mailslot.forget_lang"):
            if name in request.cookies:
                self._set_cookie(request, response, name, "")
        elif (locale := request.scope.get("mailslot.set_lang")) is not None:
            self._set_cookie(request, response, name, locale)

    def _set_cookie(self, request: Request, response: Response, name: str, value: str) -> None:
        """Set a cookie for this browser session (no Max-Age: gone when Tor Browser closes),
        or delete it (an empty value)."""
        if value:
            response.set_cookie(
                name, value, path="/", httponly=True, samesite="strict", secure=self.secure(request)
            )
            return
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
            "lang_tag": i18n.language(locale).tag,
            "dir": i18n.text_direction(locale),
            "url": partial(self.url, request),
            "lang_url": lambda code: here + "?" + urlencode({"lang": code}),
            # The form whose submit buttons switch the language (so that what was typed in
            # it comes back in the new language); none: the menu's links do it.
            "lang_form": None,
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
        text = i18n.translate_message(
            self.locale(request), error.message, error.plural, error.params
        )
        return Markup.escape(text)

    def error_status(self, error: errors.ServiceError) -> int:
        return status_for(error)
