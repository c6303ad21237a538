"""The host operator's pages (``create_operator_app``), served by ``mailslot serve`` on their
own address (``MAILSLOT_OPERATOR_ADDR``, localhost by default): login with password and TOTP,
logout, and the organisations' pages of ``web/operator_orgs.py``.

This app shares nothing with the source and staff apps but the templates and the stylesheet:
its accounts, sessions and log are in the host registry (``orgs/accounts.py``), its cookie is
its own, and :class:`OperatorGate` answers a plain 404 on any host name an organisation
claims, so that no organisation's name ever leads to it. The other two apps have none of its
routes. Every page but the login asks for a logged-in operator (anonymous: the login page);
every form is checked for its origin and, once logged in, for the session's CSRF token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from importlib import resources
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

import anyio.to_thread
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from mailslot import errors, logs
from mailslot.i18n import N_
from mailslot.orgs import accounts
from mailslot.orgs.accounts import HostContext, OperatorAccount
from mailslot.orgs.registry import normalise_host
from mailslot.runtime import Runtime
from mailslot.sessions.services import SessionState
from mailslot.web.common import Templates, Web
from mailslot.web.errors import retry_headers
from mailslot.web.security import SecurityHeaders
from mailslot.web.staff import SESSION_ENDED

log = logging.getLogger("mailslot.web")
T = TypeVar("T")
P = ParamSpec("P")

_ACCOUNT: Final = "mailslot.operator"
TITLE: Final = N_("Host operator")
_HTTP_ERRORS: Final = {
    404: (N_("Page not found"), N_("This page does not exist.")),
    405: (N_("Request not accepted"), N_("This page does not accept that kind of request.")),
}
_OTHER_ERROR: Final = (N_("Something went wrong"), N_("Something went wrong. Please try again."))


class OperatorGate:
    """Pure ASGI middleware: a host name that an organisation claims (for its source or its
    staff interface) gets the same plain 404 as an unclaimed name gets there."""

    def __init__(self, app: ASGIApp, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._generation = -1
        self._claimed: frozenset[str] = frozenset()

    def claimed(self) -> frozenset[str]:
        directory = self.runtime.directory
        if directory.generation != self._generation:
            self._claimed = frozenset(
                host for org in directory.orgs for host in (*org.source_hosts, *org.staff_hosts)
            )
            self._generation = directory.generation
        return self._claimed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = normalise_host(Headers(scope=scope).get("host", ""))
            if host in self.claimed():
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class OperatorWeb(Web):
    """The shared page helpers (language, rendering, cookies, CSRF) with the operator's
    sessions, which live in the host registry rather than in an organisation."""

    def __init__(self, runtime: Runtime, templates: Templates) -> None:
        super().__init__(runtime, templates, kind=accounts.KIND)
        self.host = HostContext(runtime.config, runtime.registry, runtime.limiter)

    async def host_call(
        self,
        use_case: Callable[Concatenate[HostContext, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run an operator's use case in a worker thread."""
        return await anyio.to_thread.run_sync(partial(use_case, self.host, *args, **kwargs))

    async def operator(self, request: Request) -> OperatorAccount | None:
        """The logged-in operator of this request, if any (loaded once per request)."""
        if _ACCOUNT not in request.scope:
            token = request.cookies.get(self.cookie_name(request))
            found = await self.host_call(accounts.load_session, token) if token else None
            request.scope["mailslot.session"] = found[0] if found else None
            request.scope[_ACCOUNT] = found[1] if found else None
        account: OperatorAccount | None = request.scope[_ACCOUNT]
        return account

    def state(self, request: Request) -> SessionState | None:
        state: SessionState | None = request.scope.get("mailslot.session")
        return state

    async def begin(self, request: Request, account: OperatorAccount) -> None:
        """A fresh session after both factors (the browser's old one, if any, ends)."""
        old = request.cookies.get(self.cookie_name(request))
        state = await self.host_call(accounts.start_session, account, old)
        request.scope["mailslot.session"] = state
        request.scope[_ACCOUNT] = account
        request.scope["mailslot.set_cookie"] = state.token


class OperatorViews:
    """Login, logout, and what every operator page shares."""

    def __init__(self, web: OperatorWeb) -> None:
        self.web = web

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
        ]

    async def page(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status: int = 200,
    ) -> Response:
        me = await self.web.operator(request)
        full = {"me": me, **(context or {})}
        title = self.web.gettext(request, TITLE)
        return self.web.page(request, template, full, status=status, instance_name=title)

    async def error(
        self, request: Request, template: str, error: errors.ServiceError, **context: Any
    ) -> Response:
        """The page again, with what was typed and the translated error."""
        context["error"] = self.web.error_message(request, error)
        response = await self.page(request, template, context, status=self.web.error_status(error))
        response.headers.update(retry_headers(error))
        return response

    async def form(self, request: Request, *, csrf: bool = True) -> dict[str, str]:
        """A form's fields, once its origin (and, for a logged-in operator, its CSRF token)
        was checked."""
        self.web.check_origin(request)
        form = await request.form(max_files=0, max_fields=20, max_part_size=64 * 1024)
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if csrf:
            if await self.web.operator(request) is None:
                raise errors.AuthenticationFailed(SESSION_ENDED)
            self.web.check_csrf(self.web.state(request), fields.get("csrf"))
        return fields

    async def login_form(self, request: Request) -> Response:
        if await self.web.operator(request) is not None:
            return self.web.redirect(request, "/")
        return await self.page(request, "operator/login.html")

    async def login(self, request: Request) -> Response:
        username = ""
        try:
            fields = await self.form(request, csrf=False)
            username = fields.get("username", "")[:64]
            account = await self.web.host_call(
                accounts.log_in, username, fields.get("password", ""), fields.get("totp", "")
            )
        except errors.ServiceError as exc:
            return await self.error(request, "operator/login.html", exc, username=username)
        await self.web.begin(request, account)
        return self.web.redirect(request, "/")

    async def logout(self, request: Request) -> Response:
        await self.form(request)
        me, state = await self.web.operator(request), self.web.state(request)
        if me is not None and state is not None:
            await self.web.host_call(accounts.log_out, me, state)
        request.scope["mailslot.set_cookie"] = ""
        self.web.forget_locale(request)
        return self.web.redirect(request, "/login", bye=1)


def _handlers(web: OperatorWeb, views: OperatorViews) -> dict[type[Exception] | int, object]:
    async def show(request: Request, status: int, title: str, message: str) -> Response:
        context = {"error": message, "error_title": title}
        try:
            return await views.page(request, "operator/error.html", context, status=status)
        except Exception as exc:  # the registry is down, say: a page without the operator
            log.error("error page: %s", type(exc).__name__)
            request.scope[_ACCOUNT] = None
            return web.page(request, "operator/error.html", {"me": None, **context}, status=status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException
        title, key = _HTTP_ERRORS.get(exc.status_code, _OTHER_ERROR)
        text = web.gettext(request, key)
        return await show(request, exc.status_code, web.gettext(request, title), text)

    async def service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.ServiceError)  # noqa: S101 - registered for it
        title = web.gettext(request, _OTHER_ERROR[0])
        response = await show(
            request, web.error_status(exc), title, web.error_message(request, exc)
        )
        response.headers.update(retry_headers(exc))
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("internal error: %s", logs.kind(exc))  # the type only: no request data
        return PlainTextResponse("Internal error", status_code=500)

    async def disconnected(request: Request, exc: Exception) -> Response:
        return Response(status_code=400)

    return {
        HTTPException: http_error,
        errors.ServiceError: service_error,
        ClientDisconnect: disconnected,
        500: server_error,
    }


def create_operator_app(runtime: Runtime, templates: Templates | None = None) -> Starlette:
    from mailslot.web.operator_orgs import OrgViews  # noqa: PLC0415 - it imports this module

    web = OperatorWeb(runtime, templates or Templates())
    views = OperatorViews(web)
    static = StaticFiles(directory=str(resources.files("mailslot.web") / "static"))
    routes: list[BaseRoute] = [
        *views.routes(),
        *OrgViews(views).routes(),
        Mount("/static", static, name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(OperatorGate, runtime=runtime)],
        exception_handlers=_handlers(web, views),  # type: ignore[arg-type]
    )
