"""``create_source_app`` and ``create_staff_app``: the two ASGI applications."""

from __future__ import annotations

import logging
from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from mailslot import errors
from mailslot.runtime import Runtime
from mailslot.web.account import AccountViews
from mailslot.web.admin import AdminViews
from mailslot.web.api import create_api
from mailslot.web.common import Templates, Web
from mailslot.web.security import SecurityHeaders
from mailslot.web.source import SourceViews
from mailslot.web.staff import StaffViews

log = logging.getLogger("mailslot.web")


def _static() -> Mount:
    return Mount(
        "/static",
        StaticFiles(directory=str(resources.files("mailslot.web") / "static")),
        name="static",
    )


def _handlers(web: Web, template: str) -> dict[type[Exception] | int, object]:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException
        key = {
            404: "This page does not exist.",
            405: "This page does not accept that kind of request.",
            400: "The request could not be read. Please try again.",
            413: "This request is too large.",
        }.get(exc.status_code, "Something went wrong. Please try again.")
        request.scope.setdefault("mailslot.session", None)
        return web.page(
            request,
            template,
            {"error": web.gettext(request, key), "logged_in": False, "me": None, "is_admin": False},
            status=exc.status_code,
        )

    async def service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.ServiceError)  # noqa: S101 - registered for it
        request.scope.setdefault("mailslot.session", None)
        return web.page(
            request,
            template,
            {
                "error": web.error_message(request, exc),
                "logged_in": False,
                "me": None,
                "is_admin": False,
            },
            status=web.error_status(exc),
        )

    async def server_error(request: Request, exc: Exception) -> Response:
        # Log the error type only: messages and tracebacks could carry request data.
        log.error("internal error: %s", type(exc).__name__)
        return PlainTextResponse("Internal error", status_code=500)

    return {HTTPException: http_error, errors.ServiceError: service_error, 500: server_error}


def create_source_app(runtime: Runtime, templates: Templates | None = None) -> Starlette:
    web = Web(runtime, templates or Templates(), kind="source")
    routes: list[BaseRoute] = [*SourceViews(web).routes(), _static()]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders, onion_location=runtime.source_onion_url)],
        exception_handlers=_handlers(web, "source/error.html"),  # type: ignore[arg-type]
    )


def create_staff_app(runtime: Runtime, templates: Templates | None = None) -> Starlette:
    web = Web(runtime, templates or Templates(), kind="staff")
    staff_views = StaffViews(web)
    routes: list[BaseRoute] = [
        *staff_views.routes(),
        *AdminViews(staff_views).routes(),
        *AccountViews(staff_views).routes(),
        Mount("/api/v1", app=create_api(staff_views)),
        _static(),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers=_handlers(web, "staff/error.html"),  # type: ignore[arg-type]
    )
