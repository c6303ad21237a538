"""API tokens, as use cases: issued after a full staff login, revoked by their holder.

A token is a server-side session of the ``api`` kind (``sessions.services``): the caller
keeps the token, the server keeps only what it derives from it, and the account's unwrapped
key (unless it is offline) is sealed in the session's data. A token lives at most
``api_token_lifetime`` seconds from its issue.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailslot.audit import services as audit
from mailslot.context import OrgContext
from mailslot.recipients import login
from mailslot.recipients.models import User
from mailslot.sessions import services as sessions
from mailslot.sessions.data import SessionData
from mailslot.sessions.services import SessionState

VIA_API = "api"


@dataclass(frozen=True, slots=True, repr=False)
class IssuedToken:
    token: str
    expires_at: int


def issue_token(ctx: OrgContext, username: str, password: str, code: str) -> IssuedToken:
    """Both factors of a login (recorded as ``auth.login`` via the API), then a new token."""
    auth = login.log_in(ctx, username, password, code, via=VIA_API).auth
    with ctx.db() as db:
        state = sessions.create(
            db,
            kind=sessions.API,
            data=SessionData(user_id=auth.user.id, seed=auth.private_seed),
            now=ctx.now(),
            absolute=ctx.config.api_token_lifetime,
            user_id=auth.user.id,
        )
    return IssuedToken(state.token, state.row.expires_at)


def revoke_token(ctx: OrgContext, user: User, token: SessionState) -> None:
    """End the token's session at once; recorded as ``auth.token_revoked``."""
    with ctx.db() as db:
        sessions.destroy(db, token)
        audit.record(db, "auth.token_revoked", now=ctx.now(), actor_id=user.id, actor=user.username)
