"""Staff login and logout, as use cases: shared by the HTML login, the API's token endpoint
and the security-key login.

A login is throttled per username (known or not), then runs Argon2id under the KDF cap (the
same work whether or not the username exists), then checks the password, the code and the
keys. Every outcome is recorded in the audit trail, except a failure for a username that
does not exist (a mistyped or guessed name is not recorded).

Each function is blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailslot import crypto
from mailslot.audit import services as audit
from mailslot.context import OrgContext
from mailslot.errors import AuthenticationFailed
from mailslot.identity import custodians
from mailslot.limits import services as limits
from mailslot.recipients import services as recipients
from mailslot.recipients.models import User

PASSWORD = "password"  # noqa: S105 - the name of a login method, not a secret


@dataclass(frozen=True, slots=True, repr=False)
class LoggedIn:
    """A successful login: the account (and its unwrapped seed, unless the key is offline),
    and how many failed attempts preceded it unreported (told to the account holder once)."""

    auth: recipients.Authenticated
    failures: int


def log_in(
    ctx: OrgContext, username: str, password: str, code: str, *, via: str = PASSWORD
) -> LoggedIn:
    """Both factors of a staff login; raises :class:`AuthenticationFailed` (or
    ``TooManyRequests`` for a locked username or a full KDF queue)."""
    now = ctx.now()
    user, keys = first_factor(ctx, username, password)
    try:
        with ctx.db() as db:
            auth = recipients.authenticate(db, db.merge(user) if user else None, keys, code, now)
    except AuthenticationFailed:
        login_failed(ctx, username)
        raise
    return logged_in(ctx, auth, username, via=via)


# The steps of a login, also used apart by the security-key login, which runs the first
# factor when the key is asked for and unwraps only after the key answers.


def first_factor(
    ctx: OrgContext, username: str, password: str
) -> tuple[User | None, crypto.PasswordKeys]:
    """Refuse a locked username, then Argon2id under the KDF cap (the same work whether or
    not the username exists). The caller checks the result."""
    now = ctx.now()
    with ctx.db() as db:
        limits.check_login(db, username, now)
        user = recipients.find_user(db, username)
    keys = ctx.kdf(lambda: recipients.derive_for(user, password, ctx.config.kdf))
    return user, keys


def login_failed(ctx: OrgContext, username: str) -> None:
    """Count a failure against the username; record it for an existing account."""
    now = ctx.now()
    with ctx.db() as db:
        limits.login_failed(db, username, now=now, threshold=ctx.config.login_failures_before_lock)
        user = recipients.find_user(db, username)
        if user is not None:
            audit.record(db, "auth.login_failed", now=now, actor_id=user.id, actor=user.username)


def login_succeeded(ctx: OrgContext, username: str, *, via: str = PASSWORD) -> int:
    """Clear the throttle and record the login; return the failures to tell about."""
    now = ctx.now()
    with ctx.db() as db:
        failures = limits.login_succeeded(db, username)
        user = recipients.find_user(db, username)
        if user is not None:
            audit.record(db, "auth.login", now=now, actor_id=user.id, actor=user.username, via=via)
        return failures


def logged_in(
    ctx: OrgContext, auth: recipients.Authenticated, username: str, *, via: str = PASSWORD
) -> LoggedIn:
    """The end of every staff login (password, API token, security key): the login recorded
    (:func:`login_succeeded`), then, for a custodian whose key was just opened, the
    identities they hold shared with colleagues who lack them (identity/custodians.py)."""
    failures = login_succeeded(ctx, username, via=via)
    custodians.share_after_login(ctx, auth.user, auth.private_seed)
    return LoggedIn(auth, failures)


def log_out(ctx: OrgContext, user: User) -> None:
    """Record a logout (the caller ends the session)."""
    with ctx.db() as db:
        audit.record(db, "auth.logout", now=ctx.now(), actor_id=user.id, actor=user.username)
