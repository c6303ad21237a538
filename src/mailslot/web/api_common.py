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
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session as DbSession

from mailslot import errors
from mailslot.context import OrgContext
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
