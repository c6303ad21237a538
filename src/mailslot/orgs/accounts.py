"""The host operator's accounts, sessions and log: all kept in the host registry, none in any
organisation's database, so that no organisation's admins can see or change them and an
operator's login opens no organisation.

Passwords follow the staff recipe and limits (``recipients.services``: the same username and
password rules, Argon2id with the install's cost, under the process's KDF cap); the second
factor is a TOTP code, each good once. Failed logins are counted per username, known or not,
and lock it for a while as staff logins do. Sessions are server-side and sealed like staff
sessions: the cookie holds a random token, the registry its derived id and the session data
sealed under another key derived from it.

Every change an operator makes is written to ``operator_events`` (who, what, which
organisation's slug, to the minute): nothing about the client is kept. The ``mailslot orgs``
commands write there too, as the command line (:func:`record_command`).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailslot import crypto
from mailslot.config import Config
from mailslot.context import KdfLimiter
from mailslot.db.base import insert_ignoring_conflict, unit_of_work
from mailslot.errors import AuthenticationFailed, Conflict, NotFound, TooManyRequests
from mailslot.i18n import N_plural
from mailslot.orgs.operator_models import (
    Operator,
    OperatorEvent,
    OperatorSession,
    OperatorThrottle,
)
from mailslot.orgs.registry import DAY, Registry
from mailslot.recipients import services as recipients
from mailslot.sessions.data import BadSessionData, SessionData
from mailslot.sessions.services import TOKEN_BYTES, SessionRow, SessionState

KIND: Final = "operator"
SESSION_IDLE: Final = 30 * 60
SESSION_ABSOLUTE: Final = 12 * 3600
# Written at most this often, as for staff sessions: the idle timeout is exact to a minute.
TOUCH_INTERVAL: Final = 60
FAILURE_WINDOW: Final = 24 * 3600
FIRST_LOCK: Final = 60
LONGEST_LOCK: Final = 3600
TOTP_ISSUER: Final = "Mailslot host"
_WRONG: Final = "The username, password or code is wrong."
# The operator log's actor for ``mailslot orgs`` commands: not a username (those have no
# parentheses or spaces), shown translated on the pages.
COMMAND_LINE: Final = "(command line)"
# The same Argon2id work for an unknown username as for a known one.
_DUMMY_SALT: Final = bytes(16)


@dataclass(frozen=True)
class HostContext:
    """What the operator's use cases work on: the configuration, the registry (their one
    database) and the process's KDF cap. The clock can be replaced in tests."""

    config: Config
    registry: Registry
    limiter: KdfLimiter
    clock: Callable[[], float] = field(default=time.time, repr=False)
    _factory: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_factory", sessionmaker(self.registry.engine, expire_on_commit=False)
        )

    def now(self) -> int:
        return int(self.clock())

    @contextmanager
    def db(self) -> Iterator[Session]:
        """One unit of work on the registry."""
        with unit_of_work(self._factory) as db:
            yield db


@dataclass(frozen=True, slots=True)
class OperatorAccount:
    """An operator as the pages and the log name them."""

    id: str
    username: str
    created_at: int = 0


@dataclass(frozen=True, slots=True, repr=False)
class NewOperator:
    """A new account, and its TOTP secret: shown once, to be put in an authenticator app."""

    account: OperatorAccount
    totp_secret: str
    totp_uri: str


def record(db: Session, now: int, operator: str, action: str, org: str = "") -> None:
    """Write one line of the operator log (to the minute)."""
    db.add(OperatorEvent(at=now - now % 60, operator=operator, action=action, org=org))


def record_command(registry: Registry, now: int, action: str, org: str = "") -> None:
    """A change made with ``mailslot orgs``, in the same log as the pages' changes; its
    actor is :data:`COMMAND_LINE` (which no username can be), and no OS account is kept."""
    with unit_of_work(sessionmaker(registry.engine)) as db:
        record(db, now, COMMAND_LINE, action, org)


def events(ctx: HostContext, limit: int = 50) -> list[OperatorEvent]:
    """The latest lines of the operator log, newest first."""
    with ctx.db() as db:
        query = select(OperatorEvent).order_by(OperatorEvent.id.desc()).limit(limit)
        return list(db.scalars(query))


# Accounts (``mailslot operators``).


def add_operator(ctx: HostContext, username: str, password: str) -> NewOperator:
    """A new operator account; refuses a taken username and a weak password (staff rules)."""
    recipients.check_username(username)
    recipients.check_password(password, username)
    with ctx.db() as db:
        if db.scalar(select(Operator.id).where(Operator.username == username)) is not None:
            raise Conflict("This username is taken.")
    salt, keys = ctx.limiter.run(lambda: recipients.derive_new(password, ctx.config.kdf))
    now = ctx.now()
    account = OperatorAccount(secrets.token_hex(16), username, now - now % DAY)
    secret = pyotp.random_base32()
    with ctx.db() as db:
        db.add(
            Operator(
                id=account.id,
                username=username,
                password_kdf=ctx.config.kdf.encode(),
                password_salt=salt,
                password_verifier=keys.verifier,
                totp_secret=secret,
                totp_last_counter=0,
                created_at=account.created_at,
            )
        )
        record(db, now, username, "operator.added")
    uri = recipients.totp_uri(username, secret, TOTP_ISSUER)
    return NewOperator(account, secret, uri)


def list_operators(ctx: HostContext) -> list[OperatorAccount]:
    with ctx.db() as db:
        rows = db.scalars(select(Operator).order_by(Operator.username))
        return [OperatorAccount(row.id, row.username, row.created_at) for row in rows]


def remove_operator(ctx: HostContext, username: str) -> None:
    """Delete an operator account; its sessions end with it."""
    with ctx.db() as db:
        found = db.scalar(select(Operator).where(Operator.username == username))
        if found is None:
            raise NotFound("No operator has this username.")
        db.execute(delete(OperatorSession).where(OperatorSession.operator_id == found.id))
        db.delete(found)
        record(db, ctx.now(), username, "operator.removed")


# Login.


def _throttle_key(username: str) -> bytes:
    return crypto.digest(b"operator-login-throttle", username.strip().lower().encode())


def _check_throttle(db: Session, username: str, now: int) -> None:
    row = db.get(OperatorThrottle, _throttle_key(username))
    if row is not None and row.locked_until > now:
        wait = row.locked_until - now
        raise TooManyRequests(
            N_plural(
                "Too many failed attempts. Wait %(num)s minute before trying again.",
                "Too many failed attempts. Wait %(num)s minutes before trying again.",
            ),
            retry_after=wait,
            num=max(1, -(-wait // 60)),
        )


def _count_failure(ctx: HostContext, username: str) -> None:
    """From the configured number of failures on, each one locks for twice as long."""
    now, key = ctx.now(), _throttle_key(username)
    with ctx.db() as db:
        db.execute(
            insert_ignoring_conflict(
                db.get_bind().dialect.name,
                OperatorThrottle,
                {"key": key, "failures": 0, "first_failure_at": now, "locked_until": 0},
            )
        )
        row = db.scalars(
            select(OperatorThrottle).where(OperatorThrottle.key == key).with_for_update()
        ).one()
        if now - row.first_failure_at > FAILURE_WINDOW:
            row.failures, row.first_failure_at = 0, now
        row.failures += 1
        threshold = ctx.config.login_failures_before_lock
        if row.failures >= threshold:
            row.locked_until = now + min(FIRST_LOCK << (row.failures - threshold), LONGEST_LOCK)


def _second_factor(db: Session, operator: Operator, code: str, now: int) -> None:
    """The current code or a neighbour, never one already used (compare-and-set)."""
    # The staff login's check of a code (its clock drift allowance), reused as it is.
    counter = recipients._totp_counter(operator.totp_secret, code, now)
    if counter is None or counter <= operator.totp_last_counter:
        raise AuthenticationFailed(_WRONG)
    spent = db.execute(
        update(Operator)
        .where(Operator.id == operator.id, Operator.totp_last_counter < counter)
        .values(totp_last_counter=counter)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise AuthenticationFailed(_WRONG)


def log_in(ctx: HostContext, username: str, password: str, code: str) -> OperatorAccount:
    """Both factors; :class:`AuthenticationFailed` for any wrong one (one message), or
    ``TooManyRequests`` while the username is locked or the KDF queue is full."""
    now = ctx.now()
    with ctx.db() as db:
        _check_throttle(db, username, now)
        found = db.scalar(select(Operator).where(Operator.username == username))
    password = password[: recipients.MAX_PASSWORD]
    if found is None:
        kdf, salt = ctx.config.kdf, _DUMMY_SALT
    else:
        kdf, salt = crypto.KdfParams.decode(found.password_kdf), found.password_salt
    keys = ctx.limiter.run(lambda: crypto.derive_password_keys(password, salt, kdf))
    try:
        if found is None:
            raise AuthenticationFailed(_WRONG)
        try:
            crypto.verify(found.password_verifier, keys.verifier)
        except crypto.DecryptionError:
            raise AuthenticationFailed(_WRONG) from None
        with ctx.db() as db:
            _second_factor(db, found, code, now)
            db.execute(
                delete(OperatorThrottle).where(OperatorThrottle.key == _throttle_key(username))
            )
            record(db, now, found.username, "login")
    except AuthenticationFailed:
        _count_failure(ctx, username)
        raise
    return OperatorAccount(found.id, found.username, found.created_at)


# Sessions.


def _keys(token: str) -> crypto.SessionKeys | None:
    if not token or len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    return crypto.session_keys(raw) if len(raw) == TOKEN_BYTES else None


def start_session(ctx: HostContext, account: OperatorAccount, old: str | None) -> SessionState:
    """A new session for a logged-in operator (the browser's old one, if any, is ended)."""
    now = ctx.now()
    token = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=")
    keys = _keys(token)
    assert keys is not None  # noqa: S101 - a token just made always decodes
    data = SessionData(csrf=secrets.token_urlsafe(24), user_id=account.id)
    row = SessionRow(
        id=keys.session_id,
        kind=KIND,
        user_id=account.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_ABSOLUTE,
        data=crypto.seal_session(keys, data.body()),
    )
    with ctx.db() as db:
        db.execute(delete(OperatorSession).where(OperatorSession.expires_at <= now))
        if old_keys := _keys(old or ""):
            db.execute(delete(OperatorSession).where(OperatorSession.id == old_keys.session_id))
        db.add(
            OperatorSession(
                id=row.id,
                operator_id=account.id,
                created_at=now,
                last_seen_at=now,
                expires_at=row.expires_at,
                data=row.data,
            )
        )
    return SessionState(token=token, row=row, keys=keys, data=data)


def load_session(
    ctx: HostContext, token: str | None
) -> tuple[SessionState, OperatorAccount] | None:
    """The live session of ``token`` and its operator; an expired, idle or unreadable one is
    deleted on sight."""
    keys = _keys(token or "")
    if keys is None or token is None:
        return None
    now = ctx.now()
    with ctx.db() as db:
        row = db.get(OperatorSession, keys.session_id)
        if row is None:
            return None
        if row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
            db.delete(row)
            return None
        try:
            data = SessionData.from_body(crypto.open_session(keys, row.data))
        except (crypto.DecryptionError, BadSessionData):
            db.delete(row)
            return None
        operator = db.get(Operator, row.operator_id)
        if operator is None or data.user_id != operator.id:
            db.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_INTERVAL:
            row.last_seen_at = now
        copy = SessionRow(
            row.id,
            KIND,
            row.operator_id,
            row.created_at,
            row.last_seen_at,
            row.expires_at,
            row.data,
        )
        account = OperatorAccount(operator.id, operator.username, operator.created_at)
    return SessionState(token=token, row=copy, keys=keys, data=data), account


def log_out(ctx: HostContext, actor: OperatorAccount, state: SessionState) -> None:
    with ctx.db() as db:
        db.execute(delete(OperatorSession).where(OperatorSession.id == state.row.id))
        record(db, ctx.now(), actor.username, "logout")
