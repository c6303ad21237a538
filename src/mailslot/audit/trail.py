"""Reading the audit trail, as a use case shared by the admin page and the API: for
administrators only (the log names cases but never holds their content). Reading it is not
itself recorded.

Blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailslot.audit import services as audit
from mailslot.audit.models import AuditEvent
from mailslot.context import OrgContext
from mailslot.recipients.models import User
from mailslot.recipients.services import require_admin


@dataclass(frozen=True, slots=True)
class Page:
    """One page of events, newest first; ``previous`` maps each event's sequence number to
    the hash before it (to check the chain), ``actions`` every action in the log (for a
    filter's choices; empty unless asked for)."""

    events: list[AuditEvent]
    total: int
    previous: dict[int, bytes]
    actions: list[str]


def browse(
    ctx: OrgContext,
    user: User,
    filters: audit.Filters,
    *,
    limit: int,
    offset: int,
    with_actions: bool = False,
) -> Page:
    require_admin(user)
    with ctx.db() as db:
        rows, total = audit.search(db, filters, limit=limit, offset=offset)
        return Page(
            events=rows,
            total=total,
            previous=audit.previous_hashes(db, rows),
            actions=audit.action_names(db) if with_actions else [],
        )
