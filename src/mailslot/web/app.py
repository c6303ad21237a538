"""``create_source_app`` and ``create_staff_app``: the two ASGI applications."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailslot import errors, logs
from mailslot.i18n import N_
from mailslot.runtime import Runtime
from mailslot.tor import SOURCE, STAFF
from mailslot.web.account import AccountViews
from mailslot.web.admin import AdminViews
from mailslot.web.audit import AuditViews
from mailslot.web.casework import CaseWorkViews
from mailslot.web.channel_settings import ChannelSettingsViews
from mailslot.web.common import Templates, Web
from mailslot.web.documents import DocumentViews
from mailslot.web.health import HealthViews
from mailslot.web.hosts import HostGate, scoped_org
from mailslot.web.identity import IdentityViews
from mailslot.web.questionnaire import QuestionnaireViews
from mailslot.web.questionnaire_builder import QuestionnaireBuilderViews
from mailslot.web.retention import RetentionViews
from mailslot.web.security import SecurityHeaders
from mailslot.web.source import SourceViews
from mailslot.web.source_drops import SourceDropViews
from mailslot.web.source_send import SourceSendViews
from mailslot.web.staff import StaffViews
from mailslot.web.staff_drops import StaffDropViews
from mailslot.web.stats import StatsViews
from mailslot.web.webauthn import WebauthnViews

log = logging.getLogger("mailslot.web")


def _api(runtime: Runtime) -> ASGIApp:
    from mailslot.web.api import create_api  # noqa: PLC0415 - FastAPI loads on first use

    return create_api(runtime)


class LazyApp:
    """An ASGI app built on its first request. The JSON API (FastAPI, pydantic) costs
    some 15 MiB of memory, which an instance whose staff never use the API need not pay."""

    def __init__(self, factory: Callable[[], ASGIApp]) -> None:
        self.factory = factory
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            self.app = self.factory()
        await self.app(scope, receive, send)


# The API takes JSON only (a reply is at most 100,000 characters): FastAPI reads a body whole
# before validating it, so anything larger is refused before it is read.
API_MAX_BODY = 1024 * 1024


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether announced in
    Content-Length or only found while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await _too_large(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)


async def _too_large(send: Send) -> None:
    response = JSONResponse({"detail": "This request is too large."}, status_code=413)
    await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def _static() -> Mount:
    return Mount(
        "/static",
        StaticFiles(directory=str(resources.files("mailslot.web") / "static")),
        name="static",
    )


# An interface's own page renderer (``SourceViews.page``, ``StaffViews.page``): the
# organisation's name, the visitor's language, and the menu of a logged-in visitor.
PageRenderer = Callable[..., Awaitable[Response]]

# Each HTTP error page: its title, and what it says.
_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    404: (N_("Page not found"), N_("This page does not exist.")),
    405: (N_("Request not accepted"), N_("This page does not accept that kind of request.")),
    400: (N_("Request not understood"), N_("The request could not be read. Please try again.")),
    413: (N_("Request too large"), N_("This request is too large.")),
}
_OTHER_ERROR = (N_("Something went wrong"), N_("Something went wrong. Please try again."))


async def _error_page(
    web: Web,
    render: PageRenderer,
    request: Request,
    *,
    template: str,
    context: dict[str, Any],
    status: int,
) -> Response:
    """An error page like the interface's other pages, or a bare one if reading what those
    show fails (the database is down, say)."""
    try:
        response: Response = await render(request, template, context, status=status)
    except Exception as exc:  # any failure: the bare page below
        log.error("error page: %s", type(exc).__name__)
        request.scope["mailslot.session"] = None
        bare = {"logged_in": False, "me": None, "is_admin": False, **context}
        return web.page(request, template, bare, status=status)
    return response


def _handlers(web: Web, template: str, render: PageRenderer) -> dict[type[Exception] | int, object]:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException
        title, key = _HTTP_ERRORS.get(exc.status_code, _OTHER_ERROR)
        if request.url.path.startswith("/api/"):
            # Anything under /api/ answers in JSON, even what the API's own router never saw
            # (Starlette's Mount does not match a path whose parameter holds a line feed).
            return JSONResponse(
                {"detail": web.gettext(request, key)},
                status_code=exc.status_code,
                headers=exc.headers,
            )
        context = {"error": web.gettext(request, key), "error_title": web.gettext(request, title)}
        response = await _error_page(
            web, render, request, template=template, context=context, status=exc.status_code
        )
        response.headers.update(exc.headers or {})
        return response

    async def service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.ServiceError)  # noqa: S101 - registered for it
        context = {"error": web.error_message(request, exc)}
        status = web.error_status(exc)
        return await _error_page(
            web, render, request, template=template, context=context, status=status
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        # Log the error type only: messages and tracebacks could carry request data.
        log.error("internal error: %s", logs.kind(exc))
        return PlainTextResponse("Internal error", status_code=500)

    async def disconnected(request: Request, exc: Exception) -> Response:
        # The client went away mid-request: nobody reads this answer, and it is no error.
        return Response(status_code=400)

    return {
        HTTPException: http_error,
        errors.ServiceError: service_error,
        ClientDisconnect: disconnected,
        500: server_error,
    }


def _onion_location(scope: Scope) -> str:
    """The source interface's onion address for a request: its organisation's (``HostGate``
    resolved it from the request's host); none on a plain 404 for an unclaimed host."""
    context = scoped_org(scope)
    return context.source_onion_url() if context is not None else ""


def create_source_app(runtime: Runtime, templates: Templates | None = None) -> Starlette:
    web = Web(runtime, templates or Templates(), kind=SOURCE)
    source_views = SourceViews(web)
    routes: list[BaseRoute] = [
        *source_views.routes(),
        *SourceSendViews(source_views).routes(),
        *SourceDropViews(source_views).routes(),
        *QuestionnaireViews(source_views).routes(),
        _static(),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders, onion_location=_onion_location),
            Middleware(HostGate, runtime=runtime, kind=SOURCE),
        ],
        exception_handlers=_handlers(web, "source/error.html", source_views.page),  # type: ignore[arg-type]
    )


def create_staff_app(runtime: Runtime, templates: Templates | None = None) -> Starlette:
    web = Web(runtime, templates or Templates(), kind=STAFF)
    staff_views = StaffViews(web)
    admin_views = AdminViews(staff_views)
    routes: list[BaseRoute] = [
        *staff_views.routes(),
        *CaseWorkViews(staff_views).routes(),
        *IdentityViews(staff_views).routes(),
        *RetentionViews(staff_views).routes(),
        *DocumentViews(staff_views).routes(),
        *StaffDropViews(staff_views).routes(),
        *ChannelSettingsViews(admin_views).routes(),
        *QuestionnaireBuilderViews(admin_views).routes(),
        *admin_views.routes(),
        *AuditViews(staff_views).routes(),
        *StatsViews(staff_views).routes(),
        *AccountViews(staff_views).routes(),
        *WebauthnViews(staff_views).routes(),
        *HealthViews(runtime).routes(),
        Mount("/api/v1", app=BodyLimit(LazyApp(lambda: _api(runtime)), API_MAX_BODY)),
        _static(),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(HostGate, runtime=runtime, kind=STAFF, any_host=True),
        ],
        exception_handlers=_handlers(web, "staff/error.html", staff_views.page),  # type: ignore[arg-type]
    )
