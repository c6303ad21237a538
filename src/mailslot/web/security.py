"""Security headers on every response, and the request-origin check for unsafe methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP: Final = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'none'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
# Only the two staff pages that use a security key (``web/webauthn.py``) send this, on the
# response itself: the browser API needs script, which comes from our own static file and
# nothing else (no inline script, no eval, no connections). The source app never sends it.
STAFF_SCRIPT_CSP: Final = CSP.replace("script-src 'none'", "script-src 'self'")
API_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Decrypted downloads: never rendered as a page of ours, never framed, nothing runs.
DOWNLOAD_CSP: Final = (
    "default-src 'none'; sandbox; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
)
PERMISSIONS: Final = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=(), browsing-topics=()"
)
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class SecurityHeaders:
    """Pure ASGI middleware (streaming-safe) that sets the same strict headers everywhere."""

    def __init__(
        self, app: ASGIApp, *, onion_location: Callable[[Scope], str] | None = None
    ) -> None:
        self.app = app
        self.onion_location = onion_location

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        static = path.startswith("/static/")
        api = path.startswith("/api/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # A response with its own, stricter policy (a sandboxed download) keeps it.
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = API_CSP if api else CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                headers["Cross-Origin-Embedder-Policy"] = "require-corp"
                headers["Permissions-Policy"] = PERMISSIONS
                if static and message["status"] == 200:
                    headers["Cache-Control"] = "public, max-age=3600"
                else:
                    headers["Cache-Control"] = "no-store"
                    headers["Pragma"] = "no-cache"
                onion = self.onion_location(scope) if self.onion_location and not api else ""
                if onion:
                    query = scope.get("query_string", b"").decode("latin-1")
                    headers["Onion-Location"] = onion + path + ("?" + query if query else "")
                if "server" in headers:
                    del headers["server"]
            await send(message)

        await self.app(scope, receive, send_wrapper)


def cross_site(headers: Headers, host: str) -> bool:
    """True unless the browser says this request came from this site. Every browser sends
    ``Origin`` on a POST (Tor Browser too), and current ones ``Sec-Fetch-Site`` as well: a
    request with neither is refused, since nothing then tells a forged login, logout or
    ``/new`` (forms that have no session yet, or end it) from a real one."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:  # authoritative: with no-referrer, browsers send Origin: null
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is not None and origin != "null":
        origin_host = origin.split("://", 1)[-1]
        return origin_host != host
    return True
