"""Deadlines follow the EU Whistleblowing Directive (2019/1937, art. 9): acknowledge receipt
within ``channel.acknowledge_days`` of the case opening, then give feedback within
``channel.feedback_days`` of the acknowledgement. ``case.due_at`` always holds the next
deadline still open, so "overdue" and "sort by deadline" are one indexed column:

    new case            acknowledge_by = opened + acknowledge_days   due_at = acknowledge_by
    acknowledged        feedback_by = acknowledged + feedback_days   due_at = feedback_by
    feedback given      (a reply after acknowledgement)              due_at = NULL
    closed                                                           due_at = NULL
    reopened            the deadlines not yet met apply again

All times are coarse (to the hour), like every other time about a case.
"""

from __future__ import annotations

from typing import Final

from mailslot.cases.models import Case, CaseStatus
from mailslot.channels.models import Channel
from mailslot.db.base import coarse

DAY: Final = 86400


def refresh_due(case: Case) -> None:
    """Recompute ``due_at`` from the deadlines and what has been met."""
    if case.status == CaseStatus.CLOSED.value:
        case.due_at = None
    elif case.acknowledged_at is None:
        case.due_at = case.acknowledge_by
    elif case.feedback_at is None:
        case.due_at = case.feedback_by
    else:
        case.due_at = None


def start_deadlines(case: Case, channel: Channel, now: int) -> None:
    """A new case: the acknowledgement clock starts."""
    case.acknowledge_by = coarse(now) + channel.acknowledge_days * DAY
    refresh_due(case)


def acknowledge(case: Case, channel: Channel, now: int) -> bool:
    """Receipt acknowledged (a status past "new", a reply, or the channel's automatic
    acknowledgement): the feedback clock starts. False if it already had."""
    if case.acknowledged_at is not None:
        return False
    case.acknowledged_at = coarse(now)
    case.feedback_by = case.acknowledged_at + channel.feedback_days * DAY
    refresh_due(case)
    return True


def give_feedback(case: Case, channel: Channel, now: int) -> bool:
    """Feedback given to the source (a staff reply once acknowledged, or closing). A reply
    to a case not yet acknowledged acknowledges it first. False if feedback was given."""
    acknowledge(case, channel, now)
    if case.feedback_at is not None:
        return False
    case.feedback_at = coarse(now)
    refresh_due(case)
    return True


def overdue(case: Case, now: int) -> bool:
    return case.due_at is not None and case.due_at < now
