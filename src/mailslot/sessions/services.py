"""Server-side sessions.

The client holds a random 256-bit token. The server stores ``HKDF(token)`` as the session id
and the session data sealed under another key derived from the token, so a copy of the
database opens no session and reveals no session's data (keys unwrapped at login included).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Final, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session as DbSession

from mailslot import crypto
from mailslot.sessions.data import BadSessionData, SessionData
from mailslot.sessions.models import Session

SOURCE = "source"
STAFF = "staff"
API = "api"
TOKEN_BYTES = 32
# "Last seen" is written at most this often, so most requests cost no database write. Idle
# timeouts are therefore exact to within this many seconds.
TOUCH_INTERVAL = 60
# Every request loads its session, so this module talks to the table through SQLAlchemy Core:
# a row is one small SELECT, without the ORM's identity map and unit of work around it.
_TABLE: Final = cast(Table, Session.__table__)


@dataclass(slots=True)
class SessionRow:
    """A session's row as loaded (a plain copy, not tracked by the ORM)."""

    id: str
    kind: str
    user_id: str | None
    created_at: int
    last_seen_at: int
    expires_at: int
    data: bytes = field(repr=False)


@dataclass
class SessionState:
    """A loaded session. Mutate ``data`` and call :func:`save` to persist."""

    token: str
    row: SessionRow
    keys: crypto.SessionKeys = field(repr=False)
    data: SessionData = field(repr=False)


def _keys(token: str) -> crypto.SessionKeys | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != TOKEN_BYTES:
        return None
    return crypto.session_keys(raw)


def create(
    db: DbSession,
    *,
    kind: str,
    data: SessionData,
    now: int,
    absolute: int,
    user_id: str | None = None,
) -> SessionState:
    # Sessions abandoned without logging out are removed here rather than by a timer.
    purge_expired(db, now)
    token = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=")
    keys = _keys(token)
    assert keys is not None  # noqa: S101 - a token we just made always decodes
    row = SessionRow(
        id=keys.session_id,
        kind=kind,
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + absolute,
        data=crypto.seal_session(keys, data.body()),
    )
    db.flush()  # the user row this session may refer to must exist first
    db.connection().execute(
        insert(_TABLE).values(
            id=row.id,
            kind=row.kind,
            user_id=row.user_id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            data=row.data,
        )
    )
    return SessionState(token=token, row=row, keys=keys, data=data)


_SELECT_ONE: Final = select(
    _TABLE.c.id,
    _TABLE.c.kind,
    _TABLE.c.user_id,
    _TABLE.c.created_at,
    _TABLE.c.last_seen_at,
    _TABLE.c.expires_at,
    _TABLE.c.data,
).where(_TABLE.c.id == bindparam("id"))
_DELETE_ONE: Final = delete(_TABLE).where(_TABLE.c.id == bindparam("id"))


def load(
    db: DbSession, token: str | None, *, kind: str, idle: int, now: int
) -> SessionState | None:
    """Return the live session for ``token``; expired sessions are deleted on sight."""
    if not token or len(token) > 64:
        return None
    keys = _keys(token)
    if keys is None:
        return None
    connection = db.connection()
    found = connection.execute(_SELECT_ONE, {"id": keys.session_id}).first()
    if found is None:
        return None
    row = SessionRow(*found)
    if row.kind != kind:
        return None
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        connection.execute(_DELETE_ONE, {"id": row.id})
        return None
    try:
        data = SessionData.from_body(crypto.open_session(keys, row.data))
    except (crypto.DecryptionError, BadSessionData):
        connection.execute(_DELETE_ONE, {"id": row.id})
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        connection.execute(update(_TABLE).where(_TABLE.c.id == row.id).values(last_seen_at=now))
        row.last_seen_at = now
    return SessionState(token=token, row=row, keys=keys, data=data)


def save(db: DbSession, state: SessionState) -> None:
    sealed = crypto.seal_session(state.keys, state.data.body())
    db.flush()
    db.connection().execute(update(_TABLE).where(_TABLE.c.id == state.row.id).values(data=sealed))
    state.row.data = sealed


def reload_locked(db: DbSession, state: SessionState) -> bool:
    """Lock the session's row for the rest of the transaction and read its data again into
    ``state`` (what another request of the same session committed meanwhile, such as the
    same form sent twice); False if the session is gone. The lock comes first, an UPDATE
    that changes nothing: it takes SQLite's write lock before anything is read, and the row
    lock on PostgreSQL, so two requests of one session go through here one after the other.
    Call it first in a unit of work."""
    connection = db.connection()
    touched = connection.execute(
        update(_TABLE).where(_TABLE.c.id == state.row.id).values(last_seen_at=_TABLE.c.last_seen_at)
    )
    if touched.rowcount != 1:
        return False
    found = connection.execute(_SELECT_ONE, {"id": state.row.id}).first()
    if found is None:  # pragma: no cover - the row is locked by now
        return False
    try:
        state.data = SessionData.from_body(crypto.open_session(state.keys, found.data))
    except (crypto.DecryptionError, BadSessionData):
        return False
    state.row.data = found.data
    return True


def destroy(db: DbSession, state: SessionState | None) -> None:
    if state is not None:
        db.flush()
        db.connection().execute(_DELETE_ONE, {"id": state.row.id})


def rotate(db: DbSession, state: SessionState, *, now: int, absolute: int) -> SessionState:
    """A new token for the same data, e.g. when privileges change at login."""
    destroy(db, state)
    return create(
        db,
        kind=state.row.kind,
        data=state.data,
        now=now,
        absolute=absolute,
        user_id=state.row.user_id,
    )


def end_user_sessions(db: DbSession, user_id: str, keep: str | None = None) -> None:
    """End every session of a user, except the one with id ``keep`` if given."""
    query = delete(Session).where(Session.user_id == user_id)
    if keep is not None:
        query = query.where(Session.id != keep)
    db.execute(query)


def user_sessions(db: DbSession, user_id: str, *, now: int, idle: dict[str, int]) -> list[Session]:
    """A user's live sessions (browser and API), newest first; ``idle`` is per kind."""
    rows = db.scalars(
        select(Session).where(Session.user_id == user_id).order_by(Session.created_at.desc())
    )
    return [
        row
        for row in rows
        if row.expires_at > now and row.last_seen_at + idle.get(row.kind, 0) > now
    ]


def end_user_session(db: DbSession, user_id: str, session_id: str) -> None:
    """End one of a user's own sessions (only theirs: the user id is part of the match)."""
    db.execute(delete(Session).where(Session.user_id == user_id, Session.id == session_id))


def purge_expired(db: DbSession, now: int) -> int:
    expired = list(db.scalars(select(Session.id).where(Session.expires_at <= now)))
    if expired:
        db.execute(delete(Session).where(Session.id.in_(expired)))
    return len(expired)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)
