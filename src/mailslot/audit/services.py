"""Appending to, reading and verifying the audit trail.

Each event's hash is ``digest("audit", previous hash || canonical record)``, so changing,
dropping or reordering any event breaks every later link. The chain starts from 32 zero
bytes. Appends update the single ``audit_head`` row first, which makes concurrent writers
(threads or processes) take turns: the row lock is held until the transaction commits.

Whoever can write the database can also rebuild the whole chain; `mailslot audit verify
--anchor SEQ:HASH` checks the chain against a head recorded earlier somewhere else.
The format is specified in docs/spec/audit.md.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Select, Table, func, insert, select, update
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.audit.errors import ChainBroken
from mailslot.audit.models import AuditEvent, AuditHead
from mailslot.db.base import insert_ignoring_conflict

__all__ = [
    "GENESIS",
    "ChainBroken",
    "Filters",
    "Verified",
    "canonical",
    "events",
    "exported",
    "head",
    "link",
    "parse_anchor",
    "previous_hashes",
    "record",
    "search",
    "verify",
]

GENESIS: Final = bytes(32)
_HEAD: Final = cast(Table, AuditHead.__table__)
_EVENTS: Final = cast(Table, AuditEvent.__table__)
MINUTE: Final = 60


def canonical(
    *,
    seq: int,
    at: int,
    actor_id: str | None,
    actor: str,
    action: str,
    case_id: str | None,
    detail: str,
) -> bytes:
    """The bytes an event's hash covers: a JSON array of its fields, in a fixed order."""
    record = [seq, at, actor_id, actor, action, case_id, detail]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def canonical_detail(detail: dict[str, Any]) -> str:
    return json.dumps(detail, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def link(previous: bytes, record: bytes) -> bytes:
    return crypto.digest(b"audit", previous + record)


def event_hash(previous: bytes, event: AuditEvent) -> bytes:
    return link(
        previous,
        canonical(
            seq=event.seq,
            at=event.at,
            actor_id=event.actor_id,
            actor=event.actor,
            action=event.action,
            case_id=event.case_id,
            detail=event.detail,
        ),
    )


def _advance_head(db: Session) -> tuple[int, bytes]:
    """Take the head row (its lock is held until commit) and claim the next sequence number."""
    connection = db.connection()
    bump = (
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(seq=_HEAD.c.seq + 1)
        .returning(_HEAD.c.seq, _HEAD.c.hash)
    )
    row = connection.execute(bump).first()
    if row is None:
        # The very first event. Two first writers may race here: ON CONFLICT lets the
        # loser fall through to the update, which then waits for the winner's commit.
        values = {"id": 1, "seq": 0, "hash": GENESIS}
        connection.execute(insert_ignoring_conflict(connection.dialect.name, AuditHead, values))
        row = connection.execute(bump).one()
    return int(row[0]), bytes(row[1])


def record(
    db: Session,
    action: str,
    *,
    now: int,
    actor_id: str | None = None,
    actor: str = "",
    case_id: str | None = None,
    **detail: Any,
) -> int:
    """Append one event in the caller's unit of work; returns its sequence number.

    ``detail`` holds ids, names and statuses only: never content, never anything about a
    source beyond the case id. Call it last in the unit of work, so that the head row (one
    lock every writer waits for) is held only until the commit.
    """
    seq, previous = _advance_head(db)
    at = now - now % MINUTE
    text = canonical_detail(detail)
    values = {
        "seq": seq,
        "at": at,
        "actor_id": actor_id,
        "actor": actor,
        "action": action,
        "case_id": case_id,
        "detail": text,
    }
    digest = link(previous, canonical(**values))  # type: ignore[arg-type]
    connection = db.connection()
    connection.execute(insert(_EVENTS).values({**values, "hash": digest}))
    connection.execute(update(_HEAD).where(_HEAD.c.id == 1).values(hash=digest))
    return seq


# Reading.


@dataclass(frozen=True, slots=True)
class Filters:
    """What the admin page, the API and the export can narrow the log to."""

    actor: str | None = None
    action: str | None = None
    case_id: str | None = None
    since_seq: int | None = None
    start: int | None = None  # first second included
    end: int | None = None  # first second excluded

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.actor:
            query = query.where(AuditEvent.actor == self.actor)
        if self.action:
            # "case" matches every "case.*" action; "case.view" only itself.
            if "." in self.action:
                query = query.where(AuditEvent.action == self.action)
            else:
                query = query.where(
                    AuditEvent.action.startswith(self.action + ".", autoescape=True)
                )
        if self.case_id:
            query = query.where(AuditEvent.case_id == self.case_id)
        if self.since_seq is not None:
            query = query.where(AuditEvent.seq > self.since_seq)
        if self.start is not None:
            query = query.where(AuditEvent.at >= self.start)
        if self.end is not None:
            query = query.where(AuditEvent.at < self.end)
        return query


def search(
    db: Session, filters: Filters, *, limit: int, offset: int
) -> tuple[list[AuditEvent], int]:
    """One page of matching events, newest first, and how many match in all."""
    total = db.scalar(filters.apply(select(func.count()).select_from(AuditEvent))) or 0
    rows = db.scalars(
        filters.apply(select(AuditEvent))
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def action_names(db: Session) -> list[str]:
    """Every action that occurs in the log (for the filter's choices)."""
    return list(db.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def events(
    db: Session, *, batch: int = 1000, filters: Filters | None = None
) -> Iterator[AuditEvent]:
    """Matching events in order, read in batches (constant memory)."""
    last = filters.since_seq if filters is not None and filters.since_seq is not None else 0
    while True:
        query = select(AuditEvent).where(AuditEvent.seq > last)
        if filters is not None:
            query = filters.apply(query)
        rows = list(db.scalars(query.order_by(AuditEvent.seq).limit(batch)))
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        db.expunge_all()


def iso_minute(at: int) -> str:
    return datetime.datetime.fromtimestamp(at, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(event: AuditEvent, previous: bytes) -> dict[str, Any]:
    """One event as an export line: every field the hash covers, plus both links."""
    return {
        "seq": event.seq,
        "time": iso_minute(event.at),
        "at": event.at,
        "actor_id": event.actor_id,
        "actor": event.actor,
        "action": event.action,
        "case_id": event.case_id,
        "detail": json.loads(event.detail),
        "prev": previous.hex(),
        "hash": bytes(event.hash).hex(),
    }


def previous_hashes(db: Session, rows: list[AuditEvent]) -> dict[int, bytes]:
    """For each event, the hash of the one before it in the chain (one query)."""
    wanted = [e.seq - 1 for e in rows if e.seq > 1]
    found = dict(
        db.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(wanted))).all()
    )
    return {e.seq: GENESIS if e.seq == 1 else bytes(found.get(e.seq - 1, b"")) for e in rows}


def exported(
    db: Session, filters: Filters | None = None, *, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Matching events as export objects, in order, in batches. Each carries the hash of the
    event before it in the chain (even when a filter left that event out)."""
    pending: list[AuditEvent] = []
    for event in events(db, batch=batch, filters=filters):
        pending.append(event)
        if len(pending) >= batch:
            previous = previous_hashes(db, pending)
            yield from (as_json(e, previous[e.seq]) for e in pending)
            pending.clear()
    previous = previous_hashes(db, pending)
    yield from (as_json(e, previous[e.seq]) for e in pending)


# Verifying.


@dataclass(frozen=True, slots=True)
class Verified:
    events: int
    head_seq: int
    head_hash: bytes

    @property
    def anchor(self) -> str:
        return f"{self.head_seq}:{self.head_hash.hex()}"


def parse_anchor(text: str) -> tuple[int, bytes]:
    """``SEQ:HEXHASH`` as printed by ``mailslot audit head``; ValueError if malformed."""
    seq_text, sep, hash_text = text.strip().partition(":")
    if not sep or not seq_text.isdigit() or int(seq_text) < 1:
        raise ValueError("an anchor looks like 42:<64 hex digits>")
    try:
        digest = bytes.fromhex(hash_text)
    except ValueError:
        raise ValueError("an anchor looks like 42:<64 hex digits>") from None
    if len(digest) != 32:
        raise ValueError("an anchor looks like 42:<64 hex digits>")
    return int(seq_text), digest


def head(db: Session) -> tuple[int, bytes]:
    """The newest link as the head row records it: ``(0, GENESIS)`` before any event."""
    row = db.get(AuditHead, 1)
    return (row.seq, bytes(row.hash)) if row is not None else (0, GENESIS)


def verify(db: Session, *, anchor: tuple[int, bytes] | None = None) -> Verified:
    """Recompute every link; raise :class:`ChainBroken` at the first mismatch or gap.

    Checks, in order: sequence numbers run 1, 2, 3 … without a gap; each hash matches the
    one recomputed from the previous hash and the event's fields; the head row names the
    last event and its hash; and, given an anchor, the chain passes through it.
    """
    previous, expected, count = GENESIS, 1, 0
    anchor_seen = anchor is None
    for event in events(db):
        if event.seq != expected:
            raise ChainBroken(expected, "the event is missing")
        digest = event_hash(previous, event)
        if digest != bytes(event.hash):
            raise ChainBroken(event.seq, "the event, or the link to the one before it, was changed")
        if anchor is not None and event.seq == anchor[0]:
            if digest != anchor[1]:
                raise ChainBroken(event.seq, "the chain differs from the anchor")
            anchor_seen = True
        previous, expected, count = digest, expected + 1, count + 1
    head_seq, head_hash = head(db)
    if head_seq > count:
        raise ChainBroken(count + 1, "the newest events were removed (the head names a later one)")
    if head_seq < count:
        raise ChainBroken(head_seq + 1, "events were added after the head")
    if head_hash != previous:
        raise ChainBroken(count, "the newest event differs from the head")
    if not anchor_seen:
        assert anchor is not None  # noqa: S101 - anchor_seen starts True without one
        raise ChainBroken(anchor[0], "the anchored event is missing")
    return Verified(events=count, head_seq=head_seq, head_hash=previous)
