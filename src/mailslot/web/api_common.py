"""What every part of the staff API shares: the signed-in caller, error shapes, and the
staff views (``request.app.state.views``) that endpoints call into.

Each part of the API is an ``APIRouter`` in its own module (``api_*.py``), included by
:func:`mailslot.web.api.create_api`.
"""

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session as DbSession

from mailslot import errors
from mailslot.recipients.models import User
from mailslot.sessions import services as sessions
from mailslot.sessions.services import unb64
from mailslot.web.staff import StaffViews


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


def staff_views(request: Request) -> StaffViews:
    views: StaffViews = request.app.state.views
    return views


async def current(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiUser:
    """The caller behind ``Authorization: Bearer``; 401 without a live token."""
    if credentials is None:
        raise errors.AuthenticationFailed("Authentication required.")
    token = credentials.credentials
    web = staff_views(request).web
    now = web.runtime.now()
    lifetime = web.runtime.config.api_token_lifetime

    def work(db: DbSession) -> ApiUser | None:
        state = sessions.load(db, token, kind=sessions.API, idle=lifetime, now=now)
        if state is None:
            return None
        user = db.get(User, state.data.get("user_id", ""))
        if user is None or user.disabled:
            return None
        seed = state.data.get("seed")
        return ApiUser(user, unb64(seed) if seed else None, state)

    found = await web.run(work)
    if found is None:
        raise errors.AuthenticationFailed("Authentication required.")
    return found


Current = Annotated[ApiUser, Depends(current)]
Views = Annotated[StaffViews, Depends(staff_views)]
