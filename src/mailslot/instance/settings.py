"""Changing the organisation's settings, as a use case for administrators (audited).

Blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

from mailslot.audit import services as audit
from mailslot.context import OrgContext
from mailslot.instance.models import Instance
from mailslot.instance.services import update_settings
from mailslot.recipients.models import User
from mailslot.recipients.services import require_admin


def change_settings(
    ctx: OrgContext, admin: User, *, name: str, guidance: str, show_source_submissions: bool
) -> Instance:
    """The organisation's name, its guidance for sources, and whether sources see their own
    submissions (the audit event records only this last choice)."""
    require_admin(admin)
    now = ctx.now()
    with ctx.db() as db:
        instance = update_settings(
            db,
            ctx.instance_id,
            name=name,
            guidance=guidance,
            show_source_submissions=show_source_submissions,
        )
        audit.record(
            db,
            "admin.settings_changed",
            now=now,
            actor_id=admin.id,
            actor=admin.username,
            show_source_submissions=show_source_submissions,
        )
        return instance
