"""A staff member's own account, as use cases: their sessions, a new password, the address
for notices, and recovery after a lost password. Each records its own audit event (never a
password, a key or an address).

Argon2id runs under the process-wide cap (:meth:`OrgContext.kdf`) before the unit of work
that needs its result, so no transaction waits on it. Each function is blocking: the web
layer runs it in a worker thread.
"""

from __future__ import annotations

from sqlalchemy import select

from mailslot.audit import services as audit
from mailslot.context import OrgContext
from mailslot.crypto import PasswordKeys
from mailslot.errors import AuthenticationFailed
from mailslot.limits import services as limits
from mailslot.recipients import services as recipients
from mailslot.recipients.login import login_failed
from mailslot.recipients.models import User
from mailslot.sessions import services as sessions
from mailslot.sessions.models import Session

# Which of one's sessions to end: every other one, or the one in use (the caller ends it).
OTHERS = "others"


def live_sessions(ctx: OrgContext, user: User) -> list[Session]:
    """The user's live sessions, browser and API, newest first."""
    idle = {
        sessions.STAFF: ctx.config.staff_session_idle,
        sessions.API: ctx.config.api_token_lifetime,
    }
    with ctx.db() as db:
        return sessions.user_sessions(db, user.id, now=ctx.now(), idle=idle)


def end_sessions(ctx: OrgContext, user: User, *, current: str, target: str) -> bool:
    """End one of the user's own sessions (``target`` is its id), or every other one
    (``target`` is :data:`OTHERS`). Someone else's session id ends nothing. Returns True when
    ``target`` is the session in use (``current``): the caller ends it (and its cookie)."""
    now = ctx.now()
    with ctx.db() as db:
        if target == OTHERS:
            sessions.end_user_sessions(db, user.id, keep=current)
            which = "others"
        elif target == current:
            which = "this"
        else:
            mine = select(Session.id).where(Session.user_id == user.id, Session.id == target)
            if db.scalar(mine) is None:  # someone else's session: nothing happens
                return False
            sessions.end_user_session(db, user.id, target)
            which = "one"
        audit.record(
            db,
            "account.session_ended",
            now=now,
            actor_id=user.id,
            actor=user.username,
            which=which,
        )
    return target == current


def change_password(
    ctx: OrgContext, user: User, *, current: str, new: str, again: str, keep_session: str
) -> None:
    """Check the current password, set the new one (the private key is re-wrapped under it)
    and end every other session of the user than ``keep_session``. A wrong current password
    counts against the username's login throttle, as a failed login does (a locked username
    is refused before any Argon2id work), and the holder hears of it at the next login."""
    kdf = ctx.config.kdf
    with ctx.db() as db:
        limits.check_login(db, user.username, ctx.now())

    def derive() -> tuple[PasswordKeys, bytes, PasswordKeys]:
        salt, new_keys = recipients.derive_new(new, kdf)
        return recipients.derive_for(user, current, kdf), salt, new_keys

    current_keys, salt, new_keys = ctx.kdf(derive)
    now = ctx.now()
    try:
        with ctx.db() as db:
            recipients.change_password(
                db,
                db.merge(user),
                current=current_keys,
                new_password=new,
                new_password_again=again,
                new_keys=new_keys,
                new_salt=salt,
                kdf=kdf,
                keep_session=keep_session,
            )
            audit.record(
                db, "account.password_changed", now=now, actor_id=user.id, actor=user.username
            )
    except AuthenticationFailed:  # the current password is wrong
        login_failed(ctx, user.username)
        raise


def set_email(ctx: OrgContext, user: User, email: str, locale: str | None = None) -> None:
    """Set (or, with an empty one, clear) the address for notices, and their language ("":
    the organisation's default; None: kept)."""
    now = ctx.now()
    with ctx.db() as db:
        recipients.set_email(db, db.merge(user), email, locale)
        # Whether a notice address is set, not the address.
        audit.record(
            db,
            "account.email_changed",
            now=now,
            actor_id=user.id,
            actor=user.username,
            notices=bool(email.strip()),
        )


def recover(
    ctx: OrgContext, *, username: str, recovery_key: str, totp: str, new: str, again: str
) -> str:
    """Set a new password with the recovery key and a current code; returns the new recovery
    key (shown once). Attempts count against the same per-username throttle as logins."""
    now = ctx.now()
    kdf = ctx.config.kdf
    with ctx.db() as db:
        limits.check_login(db, username, now)
    # The new password's Argon2id runs first, for every attempt, so the time taken does not
    # tell whether the username exists.
    salt, new_keys = ctx.kdf(lambda: recipients.derive_new(new, kdf))
    try:
        with ctx.db() as db:
            key = recipients.recover_account(
                db,
                username=username,
                recovery_key=recovery_key,
                totp_code=totp,
                new_password=new,
                new_password_again=again,
                new_keys=new_keys,
                new_salt=salt,
                kdf=kdf,
                now=now,
            )
            user = recipients.find_user(db, username)
            if user is not None:
                audit.record(
                    db, "account.recovered", now=now, actor_id=user.id, actor=user.username
                )
            return key
    except AuthenticationFailed:
        threshold = ctx.config.login_failures_before_lock
        with ctx.db() as db:
            limits.login_failed(db, username, now=now, threshold=threshold)
        raise
