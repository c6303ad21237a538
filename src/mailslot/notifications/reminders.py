"""Deadline reminders: when a case's next deadline (``case.due_at``) comes within the
reminder lead, or has passed, its assignees (or, if nobody is assigned, everyone holding its
key) get a notice. The notice is the ordinary content-free one ("new activity"): no case, no
pseudonym, no channel, no deadline.

Each deadline is reminded once: ``case.reminded_for`` records the ``due_at`` a reminder was
queued for. The background job runs in every process; a guarded UPDATE (the row changes
only if it was not yet reminded for this deadline) lets exactly one of them queue it.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from mailslot.cases.models import Case, CaseAssignee, CaseKeyWrap
from mailslot.notifications import services as notices

BATCH: Final = 200


def due_reminders(db: Session, *, now: int, lead: int, limit: int = BATCH) -> list[tuple[str, int]]:
    """(case id, due_at) of cases whose deadline is within ``lead`` seconds or past, and not
    yet reminded for it."""
    rows = db.execute(
        select(Case.id, Case.due_at)
        .where(
            Case.due_at.is_not(None),
            Case.due_at <= now + lead,
            or_(Case.reminded_for.is_(None), Case.reminded_for != Case.due_at),
        )
        .order_by(Case.due_at, Case.id)
        .limit(limit)
    ).all()
    return [(str(case_id), int(due or 0)) for case_id, due in rows]


def claim(db: Session, case_id: str, due_at: int) -> bool:
    """Mark the case reminded for ``due_at``; True only for the one caller that changed it."""
    result = db.execute(
        update(Case)
        .where(
            Case.id == case_id,
            Case.due_at == due_at,
            or_(Case.reminded_for.is_(None), Case.reminded_for != due_at),
        )
        .values(reminded_for=due_at)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def who_to_remind(db: Session, case_id: str) -> list[str] | None:
    """The assignees who hold the case's key, or None for everyone who holds it."""
    assignees = list(
        db.scalars(
            select(CaseAssignee.user_id)
            .join(
                CaseKeyWrap,
                (CaseKeyWrap.case_id == CaseAssignee.case_id)
                & (CaseKeyWrap.user_id == CaseAssignee.user_id),
            )
            .where(CaseAssignee.case_id == case_id)
        )
    )
    return assignees or None


def queue_due(transact: notices.Transact, *, now: int, lead: int, interval: int) -> int:
    """Queue every reminder that is due; returns how many cases were reminded."""
    reminded = 0
    while True:
        due = transact(lambda db: due_reminders(db, now=now, lead=lead))
        claimed = 0
        for case_id, due_at in due:

            def work(db: Session, case_id: str = case_id, due_at: int = due_at) -> bool:
                if not claim(db, case_id, due_at):
                    return False
                notices.queue_for_case(
                    db, case_id, now=now, interval=interval, only=who_to_remind(db, case_id)
                )
                return True

            if transact(work):
                claimed += 1
        reminded += claimed
        if len(due) < BATCH:
            return reminded
