"""What every part of the staff API shares: the request's organisation, the signed-in
caller, error shapes, and running use cases off the event loop.

Each part of the API is an ``APIRouter`` in its own module (``api_*.py``), included by
:func:`mailslot.web.api.create_api`. Endpoints parse, call one use case with the request's
:class:`~mailslot.context.OrgContext` (``await call(ctx, use_case, ...)``), and shape the
answer; they never import the HTML views.
"""

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

import anyio.to_thread
from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session as DbSession

from mailslot import errors, i18n
from mailslot.context import OrgContext
from mailslot.instance import texts
from mailslot.recipients.models import User
from mailslot.runtime import Runtime
from mailslot.sessions import services as sessions
from mailslot.tor import STAFF
from mailslot.web.hosts import scoped_org

T = TypeVar("T")
P = ParamSpec("P")


class ErrorOut(BaseModel):
    detail: str


class ApiUser:
    def __init__(self, user: User, seed: bytes | None, state: sessions.SessionState) -> None:
        self.user = user
        self.seed = seed
        self.state = state


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"model": ErrorOut, "description": "The body could not be read (not UTF-8)."},
    413: {"model": ErrorOut, "description": "The body is larger than 1 MiB."},
}
TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    **BODY_ERRORS,
    429: {"model": ErrorOut, "description": "Too many failed logins or too busy; see Retry-After."},
}


bearer = HTTPBearer(auto_error=False)


def org(request: Request) -> OrgContext:
    """The organisation the request is for, as ``HostGate`` resolved it from its host (the
    API mounted on its own, as in some tests, resolves it here the same way)."""
    found = scoped_org(request.scope)
    if found is None:
        runtime: Runtime = request.app.state.runtime
        found = runtime.for_host(request.headers.get("host", ""), STAFF)
    if found is None:
        raise HTTPException(404)
    return found


Org = Annotated[OrgContext, Depends(org)]


async def call(
    ctx: OrgContext,
    use_case: Callable[Concatenate[OrgContext, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run a use case with the organisation's context in a worker thread."""
    return await anyio.to_thread.run_sync(partial(use_case, ctx, *args, **kwargs))


async def run(ctx: OrgContext, work: Callable[[DbSession], T]) -> T:
    """Run ``work`` in one unit of work on the organisation's database (worker thread)."""
    return await anyio.to_thread.run_sync(ctx.transact, work)


async def current(
    ctx: Org,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiUser:
    """The caller behind ``Authorization: Bearer``; 401 without a live token."""
    if credentials is None:
        raise errors.AuthenticationFailed("Authentication required.")
    token = credentials.credentials
    now = ctx.now()
    lifetime = ctx.config.api_token_lifetime

    def work(db: DbSession) -> ApiUser | None:
        state = sessions.load(db, token, kind=sessions.API, idle=lifetime, now=now)
        if state is None:
            return None
        user = db.get(User, state.data.user_id) if state.data.user_id else None
        if user is None or user.disabled:
            return None
        return ApiUser(user, state.data.seed, state)

    found = await run(ctx, work)
    if found is None:
        raise errors.AuthenticationFailed("Authentication required.")
    return found


Current = Annotated[ApiUser, Depends(current)]


# How the OpenAPI descriptions of such texts say which language they are in.
IN_READERS_LANGUAGE = (
    "In the first language of the request's Accept-Language that Mailslot supports (none: "
    "the organisation's default language), where an admin wrote it in that language; in the "
    "default language otherwise. Content-Language names the language chosen."
)


async def reader_locale(ctx: Org, request: Request, response: Response) -> str:
    """The language of the texts admins write (channel names, custom statuses) in an answer:
    the first supported language of ``Accept-Language``, else the organisation's default
    language (what a script that sends no such header has always read). A text not written
    in that language is the default language's. Said back in ``Content-Language``."""
    locale = i18n.accepted(request.headers.get("accept-language"))
    if locale is None:
        locale = await run(ctx, texts.default_locale)
    response.headers["Content-Language"] = i18n.language(locale).tag
    response.headers["Vary"] = "Accept-Language"
    return locale


Locale = Annotated[str, Depends(reader_locale)]
