"""Retention: when each case is deleted, and the purge that deletes it.

A channel keeps an open case for ``retention_days`` after its last activity and a closed one
for ``closed_retention_days`` after closing; a recipient may keep a case longer, until a
date, with a reason (``case.keep_until``). Whichever is later wins:

    open      expires = max(last_activity_at + retention_days,        keep_until)
    closed    expires = max(closed_at        + closed_retention_days, keep_until)

The purge deletes expired cases exactly as a recipient's deletion does
(:func:`mailslot.cases.deletion.forget_case`): key wraps first (crypto-shredding), then rows,
then, after the commit, the blobs; the source's codename goes with its last case (its lookup
tag and public key are deleted, so it logs in like a codename never issued). It runs in
every process's background job and from ``mailslot purge``; each case is deleted by whoever
locks its row first, and the others find nothing to do, so running it concurrently is safe
and each purge is recorded once.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Final

from sqlalchemy import ColumnElement, case, func, or_, select, update
from sqlalchemy.orm import Session

from mailslot.audit import services as audit
from mailslot.cases.deletion import forget_case
from mailslot.cases.models import Case, CaseStatus
from mailslot.cases.services import case_for_user, case_key, delete_blobs
from mailslot.cases.work import REASON_TOO_LONG, add_note
from mailslot.channels.models import Channel
from mailslot.context import OrgContext
from mailslot.db.base import coarse
from mailslot.errors import InvalidInput, NotFound
from mailslot.i18n import N_plural
from mailslot.recipients.models import User
from mailslot.storage import BlobStore

DAY: Final = 86400
# How far ahead a recipient may keep a case (about five years).
MAX_KEEP_DAYS: Final = 5 * 366
TOO_FAR_AHEAD: Final = N_plural(
    "Choose a date at most %(num)s day ahead.", "Choose a date at most %(num)s days ahead."
)
MAX_REASON_CHARS: Final = 2000
BATCH: Final = 100


class Rule:
    ACTIVITY = "activity"  # days after the last activity
    CLOSED = "closed"  # days after closing
    KEPT = "kept"  # a recipient extended it


@dataclass(frozen=True, slots=True)
class Expiry:
    at: int
    rule: str
    days: int


def _closed(case: Case) -> bool:
    return case.status == CaseStatus.CLOSED.value


def expiry(case: Case, channel: Channel) -> Expiry:
    """When the case will be deleted, and which rule says so."""
    if _closed(case):
        start = case.closed_at if case.closed_at is not None else case.last_activity_at
        days = channel.closed_retention_days
        at, rule = start + days * DAY, Rule.CLOSED
    else:
        days = channel.retention_days
        at, rule = case.last_activity_at + days * DAY, Rule.ACTIVITY
    if case.keep_until is not None and case.keep_until > at:
        return Expiry(case.keep_until, Rule.KEPT, days)
    return Expiry(at, rule, days)


def expires_at(case: Case, channel: Channel) -> int:
    return expiry(case, channel).at


def _rule_expiry_sql() -> ColumnElement[int]:
    """``expiry().at`` before any extension, as one SQL expression over ``cases`` joined to
    ``channels`` (the extension is a separate condition, so the index on it can help)."""
    closed_start = func.coalesce(Case.closed_at, Case.last_activity_at)
    return case(
        (
            Case.status == CaseStatus.CLOSED.value,
            closed_start + Channel.closed_retention_days * DAY,
        ),
        else_=Case.last_activity_at + Channel.retention_days * DAY,
    )


def due_for_purge(db: Session, now: int, limit: int | None = BATCH) -> list[str]:
    """Ids of cases past their expiry, oldest activity first, at most ``limit`` (None: all)."""
    query = (
        select(Case.id)
        .join(Channel, Channel.id == Case.channel_id)
        .where(
            _rule_expiry_sql() <= now,
            or_(Case.keep_until.is_(None), Case.keep_until <= now),
        )
        .order_by(Case.last_activity_at, Case.id)
        .limit(limit)
    )
    return list(db.scalars(query))


def _still_expired(db: Session, case_id: str, now: int) -> Case | None:
    """Lock the case's row (a no-op UPDATE: PostgreSQL row lock, SQLite write lock), then
    read it afresh: None if another process deleted it, or it was kept or touched since."""
    locked = db.execute(update(Case).where(Case.id == case_id).values(keep_until=Case.keep_until))
    if locked.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = db.execute(
        select(Case, Channel).join(Channel, Channel.id == Case.channel_id).where(Case.id == case_id)
    ).first()
    if row is None:  # pragma: no cover - the row is locked
        return None
    found, channel = row
    return found if expires_at(found, channel) <= now else None


def purge_one(db: Session, case_id: str, now: int) -> list[str] | None:
    """Delete one expired case in the caller's unit of work and record it. Returns the blob
    ids to delete after the commit, or None if there was nothing to do."""
    found = _still_expired(db, case_id, now)
    if found is None:
        return None
    blob_ids = forget_case(db, found)
    # The purge is the system's act: no actor. Only the case id, nothing about its content.
    audit.record(db, "case.purged", now=now, actor="", case_id=case_id)
    return blob_ids


def purge(ctx: OrgContext, now: int, *, batch: int = BATCH) -> list[str]:
    """Delete every case expired at ``now``, one transaction per case (a failure leaves the
    others done). Blobs go after their case's commit. The SQLite file is rewritten once when
    the round ends, even if it fails (``db.base.rewrite``: a pass over the whole file, not
    one per case), so no deleted secret outlives the round. Returns the ids this call
    purged."""
    purged: list[str] = []
    skipped: set[str] = set()
    try:
        while True:
            found = ctx.transact(lambda db: due_for_purge(db, now, batch + len(skipped)))
            due = [c for c in found if c not in skipped]
            if not due:
                return purged
            for case_id in due:
                with ctx.db(rewrite=False) as db:
                    blob_ids = purge_one(db, case_id, now)
                if blob_ids is None:
                    skipped.add(case_id)  # gone or kept meanwhile: do not look at it again
                    continue
                delete_blobs(ctx.blobs, blob_ids)
                purged.append(case_id)
    finally:
        ctx.rewrites.settle(ctx.engine)


# Keeping a case longer.


def parse_until(value: str, now: int) -> int:
    """A date (YYYY-MM-DD) from tomorrow to about five years ahead, as the end of that day
    (UTC)."""
    try:
        day = datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("Enter the date as YYYY-MM-DD.") from None
    # Checked as a date first: the day after 9999-12-31 does not exist (OverflowError).
    today = datetime.datetime.fromtimestamp(now, tz=datetime.UTC).date()
    if day > today + datetime.timedelta(days=MAX_KEEP_DAYS + 1):
        raise InvalidInput(TOO_FAR_AHEAD, num=MAX_KEEP_DAYS)
    until = int(
        datetime.datetime.combine(
            day + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC
        ).timestamp()
    )
    if until <= now + DAY:
        raise InvalidInput("Choose a date after tomorrow.")
    if until > now + (MAX_KEEP_DAYS + 1) * DAY:
        raise InvalidInput(TOO_FAR_AHEAD, num=MAX_KEEP_DAYS)
    return until


def keep_until(
    db: Session,
    blobs: BlobStore,
    case: Case,
    channel: Channel,
    *,
    until: str,
    reason: str,
    user_id: str,
    username: str,
    now: int,
    written: list[str] | None = None,
) -> int:
    """Keep the case at least until the end of the day ``until``, with a reason stored as a
    sealed internal note (the audit trail keeps only the date). Returns the new expiry. The
    note's blob id is appended to ``written``: the caller deletes it if its unit of work
    fails."""
    moment = parse_until(until, now)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Give a reason for keeping the case longer.")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(REASON_TOO_LONG, num=MAX_REASON_CHARS)
    if moment <= expires_at(case, channel):
        raise InvalidInput("Choose a date after the case's current deletion date.")
    day = datetime.datetime.fromtimestamp(moment - DAY, tz=datetime.UTC).date().isoformat()
    add_note(
        db,
        blobs,
        case,
        f"Retention extended to {day}: {reason}",
        author_id=user_id,
        now=now,
        written=written,
    )
    case.keep_until = coarse(moment)
    db.flush()
    audit.record(
        db,
        "case.retention.extend",
        now=now,
        actor_id=user_id,
        actor=username,
        case_id=case.id,
        until=day,
    )
    return expires_at(case, channel)


def keep_case(
    ctx: OrgContext, user: User, seed: bytes | None, case_id: str, *, until: str, reason: str
) -> int:
    """The use case behind the staff page and the API: keep a case the recipient holds a key
    to until the end of ``until``; returns the new expiry. A recipient whose key is offline
    cannot seal the reason, so is refused."""
    now = ctx.now()
    written: list[str] = []
    try:
        with ctx.db() as db:
            case, wrap = case_for_user(db, user, case_id)
            case_key(case, wrap, seed)  # the key must be online (raises KeyOffline)
            channel = db.get(Channel, case.channel_id)
            if channel is None:  # pragma: no cover - channels are never deleted under cases
                raise NotFound("No such channel.")
            return keep_until(
                db,
                ctx.blobs,
                case,
                channel,
                until=until,
                reason=reason,
                user_id=user.id,
                username=user.username,
                now=now,
                written=written,
            )
    except BaseException:
        delete_blobs(ctx.blobs, written)
        raise


def is_expired(case: Case, channel: Channel, now: int) -> bool:
    return expires_at(case, channel) <= now
