"""The one place a request's organisation is resolved: from its ``Host``, before any route.

:class:`HostGate` wraps each app. It asks the runtime which enabled organisation claims the
request's host for this interface (``source`` or ``staff``) and leaves that organisation's
context in the request's scope, where ``Web.org`` (pages) and the API's ``Org`` dependency
find it. A host that no enabled organisation claims gets a plain 404 whose body is the same
few bytes whatever was asked, with no page, style sheet, name or cookie: nothing tells an
unclaimed name from a disabled organisation or from a server that is not Mailslot's. With
only the default organisation, every host is its own (``Directory.single``). A request that
fails because its organisation was removed or disabled in the second before this process
learnt of it gets that same 404, never an error page.

The staff app's ``/healthz`` and ``/readyz`` answer on any host (a load balancer probes by
address), saying only "ok" or which dependency failed.
"""

from __future__ import annotations

from typing import Final

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailslot.context import DEFAULT_ORG, OrgContext
from mailslot.runtime import Runtime

SCOPE_KEY: Final = "mailslot.org"
ANY_HOST: Final = frozenset({"/healthz", "/readyz"})


def scoped_org(scope: Scope) -> OrgContext | None:
    found = scope.get(SCOPE_KEY)
    return found if isinstance(found, OrgContext) else None


class HostGate:
    """Pure ASGI middleware: resolve the organisation, or answer a plain 404."""

    def __init__(self, app: ASGIApp, *, runtime: Runtime, kind: str, any_host: bool = False):
        self.app = app
        self.runtime = runtime
        self.kind = kind
        self.any_host = any_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = self.runtime.for_host(Headers(scope=scope).get("host", ""), self.kind)
        if found is not None:
            scope[SCOPE_KEY] = found
        elif not (self.any_host and scope["path"] in ANY_HOST):
            await _not_found(scope, receive, send)
            return
        if found is None or found.slug == DEFAULT_ORG:
            await self.app(scope, receive, send)
            return
        await self._gone_is_not_found(found, scope, receive, send)

    async def _gone_is_not_found(
        self, found: OrgContext, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Serve an organisation other than the default, mapping a failure to the plain 404
        when it comes from the organisation having been removed or disabled meanwhile: for
        about a second this process still resolves it (``Runtime.refresh``), while its
        database and blobs may already be gone (they are never made again by opening them,
        ``orgs.placement``)."""
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if started or await anyio.to_thread.run_sync(self.runtime.still_serves, found):
                raise
            await _not_found(scope, receive, send)


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
