"""Changing the organisation's settings, as a use case for administrators (audited).

Blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping

from mailslot.audit import services as audit
from mailslot.context import OrgContext
from mailslot.dropkeys import services as dropkeys
from mailslot.instance.models import Instance
from mailslot.instance.services import update_settings
from mailslot.recipients.models import User
from mailslot.recipients.services import require_admin


def change_settings(
    ctx: OrgContext,
    admin: User,
    *,
    name: Mapping[str, str] | str,
    guidance: Mapping[str, str] | str,
    show_source_submissions: bool,
    default_locale: str | None = None,
    quick_exit_url: str | None = None,
) -> Instance:
    """The organisation's name and its guidance for sources, one text per language (see
    ``instance.texts``), its default language, where its quick exit leads, and whether
    sources see their own submissions (the audit event records the choices, not the texts)."""
    require_admin(admin)
    now = ctx.now()
    with ctx.db() as db:
        instance = update_settings(
            db,
            ctx.instance_id,
            name=name,
            guidance=guidance,
            show_source_submissions=show_source_submissions,
            default_locale=default_locale,
            quick_exit_url=quick_exit_url,
        )
        audit.record(
            db,
            "admin.settings_changed",
            now=now,
            actor_id=admin.id,
            actor=admin.username,
            show_source_submissions=show_source_submissions,
            default_locale=instance.default_locale,
            quick_exit_url=instance.quick_exit_url,
        )
        dropkeys.resync(db, ctx.instance_id, now)  # the manifest names the organisation
        return instance
