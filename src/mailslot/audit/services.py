"""Appending to and verifying the audit trail.

Each event's hash is ``digest("audit", previous hash || canonical record)``, so changing,
dropping or reordering any event breaks every later link. The chain starts from 32 zero
bytes. Appends update the single ``audit_head`` row first, which makes concurrent writers
(threads or processes) take turns: the row lock is held until the transaction commits.

Whoever can write the database can also rebuild the whole chain; `mailslot audit verify
--anchor SEQ:HASH` checks the chain against a head recorded earlier somewhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.audit.models import AuditEvent, AuditHead

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
    record = [seq, at, actor_id, actor, action, case_id, detail]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


def link(previous: bytes, record: bytes) -> bytes:
    return crypto.digest(b"audit", previous + record)


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
    source beyond the case id.
    """
    connection = db.connection()
    head_table = _HEAD
    row = connection.execute(
        update(head_table)
        .where(head_table.c.id == 1)
        .values(seq=head_table.c.seq + 1)
        .returning(head_table.c.seq, head_table.c.hash)
    ).first()
    if row is None:
        connection.execute(insert(head_table).values(id=1, seq=1, hash=GENESIS))
        seq, previous = 1, GENESIS
    else:
        seq, previous = int(row[0]), bytes(row[1])
    at = now - now % MINUTE
    text = json.dumps(detail, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    digest = link(
        previous,
        canonical(
            seq=seq,
            at=at,
            actor_id=actor_id,
            actor=actor,
            action=action,
            case_id=case_id,
            detail=text,
        ),
    )
    connection.execute(
        insert(_EVENTS).values(
            seq=seq,
            at=at,
            actor_id=actor_id,
            actor=actor,
            action=action,
            case_id=case_id,
            detail=text,
            hash=digest,
        )
    )
    connection.execute(update(head_table).where(head_table.c.id == 1).values(hash=digest))
    return seq


@dataclass(frozen=True, slots=True)
class Verified:
    events: int
    head_seq: int
    head_hash: bytes


class ChainBroken(Exception):
    """The audit chain does not verify; ``seq`` is the first event that fails."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit chain broken at event {seq}: {reason}")
        self.seq = seq
        self.reason = reason


def events(db: Session, *, batch: int = 1000) -> Iterator[AuditEvent]:
    """Every event in order, read in batches (constant memory)."""
    last = 0
    while True:
        rows = list(
            db.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > last)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        db.expunge_all()


def verify(db: Session, *, anchor: tuple[int, bytes] | None = None) -> Verified:
    """Recompute every link; raise :class:`ChainBroken` at the first mismatch or gap."""
    previous, expected, count = GENESIS, 1, 0
    anchor_seen = anchor is None
    for event in events(db):
        if event.seq != expected:
            raise ChainBroken(expected, "an event is missing")
        digest = link(
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
        if digest != bytes(event.hash):
            raise ChainBroken(event.seq, "the event or one before it was changed")
        if anchor is not None and event.seq == anchor[0]:
            if digest != anchor[1]:
                raise ChainBroken(event.seq, "the chain differs from the anchor")
            anchor_seen = True
        previous, expected, count = digest, expected + 1, count + 1
    head = db.get(AuditHead, 1)
    head_seq = head.seq if head is not None else 0
    if head_seq != count or (head is not None and bytes(head.hash) != previous):
        raise ChainBroken(count + 1, "the newest events were removed")
    if not anchor_seen:
        raise ChainBroken(anchor[0] if anchor else 0, "the anchored event is missing")
    return Verified(events=count, head_seq=head_seq, head_hash=previous)
