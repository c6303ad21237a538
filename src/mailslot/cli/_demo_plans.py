"""The lives of ``mailslot demo-data``'s cases, decided before any row is written: when each
was sent, acknowledged, answered and closed, its labels, assignees and custom status, and
the demo texts its items hold. :mod:`mailslot.cli._demo_cases` writes them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final

from mailslot.cases.models import CaseStatus
from mailslot.sources.codenames import wordlist

DAY: Final = 86400
HOUR: Final = 3600
SPAN_DAYS: Final = 548  # about 18 months
DEMO_LABELS: Final = ("Fraud", "Safety", "Harassment", "Data protection", "Procurement")
DEMO_STATUSES: Final = (
    (CaseStatus.IN_PROGRESS, "Legal review"),
    (CaseStatus.IN_PROGRESS, "Waiting for the source"),
)
SUBJECTS: Final = (
    "I want to report irregularities in the purchasing department.",
    "There is something you should know about the night shift.",
    "Invoices are being approved without the required checks.",
    "My manager asked us to delete records before the audit.",
    "Safety inspections are signed but never carried out.",
    "Personal data of customers is shared with a third party.",
)
REPLIES: Final = (
    "Thank you for your report. We have received it and will look into it.",
    "Could you tell us when this started and who else knows about it?",
    "We have finished our review. Here is what happened next.",
)
NOTES: Final = (
    "Checked the dates against the public register; they match.",
    "Asked legal for an opinion before we reply.",
    "Possible duplicate of an earlier report; compare the invoices.",
)


@dataclass
class Plan:
    """The life of one demo case, as times (seconds) decided before any row is written.
    Labels, assignees and the custom status are indexes into the batch's lists."""

    channel_id: str
    created: int
    files: int
    acknowledged: int | None = None
    note: int | None = None
    follow_up: int | None = None
    feedback: int | None = None
    closed: int | None = None
    important: bool = False
    labels: list[int] = field(default_factory=list)
    assignees: list[int] = field(default_factory=list)
    custom_status: int | None = None
    read: bool = False

    @property
    def last(self) -> int:
        times = [self.created, self.acknowledged, self.note, self.follow_up, self.feedback]
        return max(t for t in times if t is not None)


def plan_case(rng: random.Random, channel_id: str, recipients: int, now: int) -> Plan:
    created = now - rng.randrange(HOUR, SPAN_DAYS * DAY)
    age = now - created
    plan = Plan(channel_id=channel_id, created=created, files=rng.choice((0, 0, 1, 1, 2)))

    def later(start: int, low: int, high: int) -> int | None:
        moment = start + rng.randrange(low, high)
        return moment if moment < now else None

    # Most cases are handled in time; a few are forgotten (they show up as overdue).
    still_new = rng.random() < (0.01 if age > 7 * DAY else 0.5)
    if not still_new:
        plan.acknowledged = later(created, HOUR, 6 * DAY)
    if plan.acknowledged is not None:
        if rng.random() < 0.4:
            plan.note = later(plan.acknowledged, HOUR, 10 * DAY)
        if rng.random() < 0.3:
            plan.follow_up = later(plan.acknowledged, DAY, 20 * DAY)
        if rng.random() < 0.97:
            plan.feedback = later(plan.acknowledged, DAY, 80 * DAY)
    if plan.feedback is not None and rng.random() < 0.75:
        closed = plan.last + rng.randrange(HOUR, 30 * DAY)
        plan.closed = closed if closed < now else None
    plan.important = rng.random() < 0.05
    plan.labels = rng.sample(range(len(DEMO_LABELS)), rng.choice((0, 1, 1, 2)))
    plan.assignees = rng.sample(range(recipients), min(recipients, rng.choice((0, 1, 1, 2))))
    if plan.closed is None and plan.acknowledged is not None and rng.random() < 0.5:
        plan.custom_status = rng.randrange(len(DEMO_STATUSES))
    plan.read = plan.closed is not None or rng.random() < 0.5
    return plan


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(wordlist()) for _ in range(n))
