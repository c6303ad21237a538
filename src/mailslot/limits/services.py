"""Instance-wide token buckets and per-username login throttles.

Both live in the database (one row each), so several ``mailslot serve`` processes sharing a
database enforce one limit. Rows are read with ``FOR UPDATE`` where the database supports it;
SQLite serialises writers anyway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.db.base import Base, insert_ignoring_conflict
from mailslot.errors import TooManyRequests
from mailslot.i18n import N_plural
from mailslot.limits.models import LoginThrottle, RateBucket

NEW_SOURCES = "new-sources"
SUBMISSIONS = "submissions"
# Failures older than this no longer count towards a lock.
FAILURE_WINDOW = 24 * 3600
FIRST_LOCK = 60
LONGEST_LOCK = 3600


def take(db: Session, name: str, *, per_minute: int, now: float) -> None:
    """Spend one token from bucket ``name``, or raise :class:`TooManyRequests` saying when the
    next tokens arrive. The bucket holds ``per_minute`` tokens and refills completely at each
    new minute; 0 means no limit.

    Only the minute is stored (not the time of the latest request), so the bucket does not
    date the newest submission more finely than that.
    """
    if per_minute <= 0:
        return
    minute = float(int(now // 60) * 60)
    _insert_missing(
        db, RateBucket, {"name": name, "tokens": float(per_minute), "updated_at": minute}
    )
    bucket = db.scalars(select(RateBucket).where(RateBucket.name == name).with_for_update()).one()
    tokens = float(per_minute) if minute > bucket.updated_at else bucket.tokens
    if tokens < 1.0:
        bucket.tokens, bucket.updated_at = tokens, minute
        db.flush()
        raise TooManyRequests(
            "Mailslot is very busy right now. Please wait a minute and try again; "
            "nothing was sent.",
            retry_after=int(minute + 60 - now) + 1,
        )
    bucket.tokens, bucket.updated_at = tokens - 1.0, minute
    db.flush()


def login_key(username: str) -> bytes:
    return crypto.digest(b"login-throttle", username.strip().lower().encode())


def _locked(retry_after: int) -> TooManyRequests:
    return TooManyRequests(
        N_plural(
            "Too many failed attempts. Wait %(num)s minute before trying again.",
            "Too many failed attempts. Wait %(num)s minutes before trying again.",
        ),
        retry_after=retry_after,
        num=max(1, -(-retry_after // 60)),
    )


def check_login(db: Session, username: str, now: int) -> None:
    """Refuse (before any password work) while the username is locked."""
    row = db.get(LoginThrottle, login_key(username))
    if row is not None and row.locked_until > now:
        raise _locked(row.locked_until - now)


def login_failed(db: Session, username: str, *, now: int, threshold: int) -> None:
    """Count a failure; from ``threshold`` on, each failure locks for twice as long."""
    key = login_key(username)
    _insert_missing(
        db,
        LoginThrottle,
        {"key": key, "failures": 0, "first_failure_at": now, "locked_until": 0, "unreported": 0},
    )
    row = db.scalars(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).one()
    if now - row.first_failure_at > FAILURE_WINDOW:
        row.failures, row.first_failure_at = 0, now
    row.failures += 1
    row.unreported += 1
    if row.failures >= threshold:
        row.locked_until = now + min(FIRST_LOCK << (row.failures - threshold), LONGEST_LOCK)
    db.flush()


def _insert_missing(db: Session, model: type[Base], values: dict[str, Any]) -> None:
    """Insert the row unless its key exists. Being a write, this also takes SQLite's write
    lock at once, so the read that follows cannot race another process's update."""
    db.execute(insert_ignoring_conflict(db.get_bind().dialect.name, model, values))


def login_succeeded(db: Session, username: str) -> int:
    """Clear the throttle; return how many failures the account holder should hear about."""
    row = db.get(LoginThrottle, login_key(username))
    if row is None:
        return 0
    unreported = row.unreported
    db.execute(delete(LoginThrottle).where(LoginThrottle.key == row.key))
    return unreported
