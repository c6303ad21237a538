"""Queueing and delivering notices.

A notice tells a recipient that something new is waiting, and nothing else: no content, no
pseudonym, no channel name, no time beyond its batching window. Delivery happens in a
background job (:func:`deliver_due`); several processes may run it at once, and a claim on
each row makes sure one of them sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mailslot.cases.models import CaseKeyWrap
from mailslot.db.base import insert_ignoring_conflict
from mailslot.i18n import SUPPORTED_LOCALES
from mailslot.instance import texts
from mailslot.notifications.models import PendingNotice
from mailslot.recipients.models import Role, User

T = TypeVar("T")
CLAIM_SECONDS = 300
# Retries back off: 1, 2, 4 … minutes, at most 6 hours apart.
FIRST_RETRY = 60
LONGEST_RETRY = 6 * 3600


def window_end(now: int, interval: int) -> int:
    """The end of the batching window that ``now`` falls in (``now`` itself if 0)."""
    if interval <= 0:
        return now
    return (now // interval + 1) * interval


def queue_for_case(
    db: Session,
    case_id: str,
    *,
    now: int,
    interval: int,
    only: Sequence[str] | None = None,
) -> int:
    """Note news for every active recipient with access to the case and an email address
    (of those in ``only``, if given). Returns how many recipients will hear. Existing notices
    keep their earlier due time."""
    query = (
        select(User.id)
        .join(CaseKeyWrap, CaseKeyWrap.user_id == User.id)
        .where(
            CaseKeyWrap.case_id == case_id,
            User.disabled.is_(False),
            User.role == Role.RECIPIENT.value,
            User.email.is_not(None),
        )
    )
    if only is not None:
        query = query.where(User.id.in_(only))
    recipients = list(db.scalars(query))
    due = window_end(now, interval)
    dialect = db.get_bind().dialect.name
    for user_id in recipients:
        values = {
            "user_id": user_id,
            "due_at": due,
            "attempts": 0,
            "claimed_until": 0,
            "last_error": None,
        }
        db.execute(insert_ignoring_conflict(dialect, PendingNotice, values, ["user_id"]))
    return len(recipients)


@dataclass(frozen=True, slots=True)
class Delivery:
    user_id: str
    email: str
    attempts: int
    locale: str  # the language of the notice


def claim_due(db: Session, *, now: int, limit: int = 50) -> list[Delivery]:
    """Claim notices that are due and not being sent by another process."""
    rows = db.execute(
        select(PendingNotice.user_id, User.email, PendingNotice.attempts, User.locale)
        .join(User, User.id == PendingNotice.user_id)
        .where(PendingNotice.due_at <= now, PendingNotice.claimed_until <= now)
        .order_by(PendingNotice.due_at)
        .limit(limit)
    ).all()
    claimed = []
    fallback = texts.default_locale(db)
    for user_id, email, attempts, locale in rows:
        result = db.execute(
            update(PendingNotice)
            .where(PendingNotice.user_id == user_id, PendingNotice.claimed_until <= now)
            .values(claimed_until=now + CLAIM_SECONDS)
        )
        if result.rowcount == 1 and email:  # type: ignore[attr-defined]
            chosen = locale if locale in SUPPORTED_LOCALES else fallback
            claimed.append(Delivery(user_id, str(email), int(attempts), chosen))
    return claimed


def delivered(db: Session, user_id: str) -> None:
    db.execute(delete(PendingNotice).where(PendingNotice.user_id == user_id))


def failed(db: Session, delivery: Delivery, error: str, *, now: int) -> None:
    wait = min(FIRST_RETRY << min(delivery.attempts, 20), LONGEST_RETRY)
    db.execute(
        update(PendingNotice)
        .where(PendingNotice.user_id == delivery.user_id)
        .values(
            attempts=delivery.attempts + 1,
            due_at=now + wait,
            claimed_until=0,
            last_error=error[:64],
        )
    )


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    waiting: int
    failing: int
    last_error: str | None


def status(db: Session) -> DeliveryStatus:
    """For admins: notices waiting, how many have failed at least once, the last error."""
    waiting = db.scalar(select(func.count()).select_from(PendingNotice)) or 0
    failing = (
        db.scalar(select(func.count()).select_from(PendingNotice).where(PendingNotice.attempts > 0))
        or 0
    )
    last_error = db.scalar(
        select(PendingNotice.last_error)
        .where(PendingNotice.last_error.is_not(None))
        .order_by(PendingNotice.attempts.desc())
        .limit(1)
    )
    return DeliveryStatus(int(waiting), int(failing), last_error)


class Transact(Protocol):
    """``Runtime.transact``: run one unit of work and return its result."""

    def __call__(self, work: Callable[[Session], T]) -> T: ...


def deliver_due(transact: Transact, send: Callable[[str, str], None], *, now: int) -> int:
    """Send every due notice through ``send(address, locale)``; returns how many were
    sent."""
    claimed = transact(lambda db: claim_due(db, now=now))
    sent = 0
    for delivery in claimed:
        try:
            send(delivery.email, delivery.locale)
        except Exception as exc:  # any failure is retried later and shown to admins
            error = type(exc).__name__

            def record_failure(db: Session, d: Delivery = delivery, e: str = error) -> None:
                failed(db, d, e, now=now)

            transact(record_failure)
            continue

        def record_delivery(db: Session, d: Delivery = delivery) -> None:
            delivered(db, d.user_id)

        transact(record_delivery)
        sent += 1
    return sent
