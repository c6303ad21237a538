"""Channels as administrators manage them, as use cases: creating and editing a channel and
its recipients, and a channel's case settings (deadlines, retention, automatic
acknowledgements, custom statuses). Each records its own audit event: names, ids and which
settings changed, never an acknowledgement's text.

Admins never read cases; nothing here touches one, except that removing a custom status
takes it off the cases that had it (they keep their phase). Each function is blocking: the
web layer runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mailslot.audit import services as audit
from mailslot.channels import services as channels
from mailslot.channels import settings
from mailslot.channels.models import Channel
from mailslot.context import OrgContext
from mailslot.dropkeys import services as dropkeys
from mailslot.errors import InvalidInput
from mailslot.recipients.models import User
from mailslot.recipients.services import require_admin


def save_channel(
    ctx: OrgContext,
    admin: User,
    channel_id: str | None,
    *,
    name: channels.Texts,
    description: channels.Texts,
    members: Sequence[str],
) -> Channel:
    """Create a channel (``channel_id`` None) or edit one; ``members`` are the usernames of
    its recipients; the name and description are one text per language (or the default
    language's only)."""
    require_admin(admin)
    now = ctx.now()
    with ctx.db() as db:
        if channel_id:
            channel = channels.get_channel(db, channel_id)
            before = {u.username for u in channels.members(db, channel)}
            channels.update_channel(
                db, channel, name=name, description=description, recipients=members
            )
            action = "admin.channel_updated"
        else:
            before = set()
            channel = channels.create_channel(
                db, name=name, description=description, recipients=members, now=now
            )
            action = "admin.channel_created"
        after = {u.username for u in channels.members(db, channel)}
        dropkeys.resync(db, ctx.instance_id, now)  # new drop keys if the members changed
        audit.record(
            db,
            action,
            now=now,
            actor_id=admin.id,
            actor=admin.username,
            channel_id=channel.id,
            name=channel.name,
            added=sorted(after - before),
            removed=sorted(before - after),
        )
        return channel


def save_case_settings(
    ctx: OrgContext,
    admin: User,
    channel_id: str,
    *,
    days: Mapping[str, str | None],
    auto_replies: Mapping[str, str],
) -> None:
    """The channel's deadlines and retention (``days``, by field name) and its automatic
    acknowledgement per language (an empty text removes one)."""
    require_admin(admin)
    parsed = settings.parse_days(days)
    now = ctx.now()
    with ctx.db() as db:
        channel = channels.get_channel(db, channel_id)
        changed = settings.set_days(channel, parsed)
        languages = settings.set_auto_replies(db, channel, auto_replies)
        if changed or languages:
            # The texts themselves stay out of the audit trail: only which changed.
            audit.record(
                db,
                "channel.settings",
                now=now,
                actor_id=admin.id,
                actor=admin.username,
                channel_id=channel.id,
                changed=changed,
                auto_reply_languages=languages,
            )


def add_status(
    ctx: OrgContext, admin: User, channel_id: str, *, phase: str, name: settings.StatusName
) -> None:
    """A custom status within a phase, named in one language or several."""
    require_admin(admin)
    now = ctx.now()
    with ctx.db() as db:
        channel = channels.get_channel(db, channel_id)
        status = settings.add_status(db, channel, phase=phase, name=name)
        audit.record(
            db,
            "channel.status.add",
            now=now,
            actor_id=admin.id,
            actor=admin.username,
            channel_id=channel.id,
            status_id=status.id,
            phase=status.phase,
            name=status.name,
            languages=sorted(settings.status_names(db, [status])[status.id].others),
        )


def change_status(
    ctx: OrgContext,
    admin: User,
    channel_id: str,
    status_id: str,
    *,
    action: str,
    name: settings.StatusName = "",
) -> None:
    """Rename a custom status, move it up or down within its phase, or remove it (``action``
    is ``rename``, ``up``, ``down`` or ``remove``). A change that changes nothing is not
    recorded."""
    require_admin(admin)
    now = ctx.now()
    with ctx.db() as db:
        channel = channels.get_channel(db, channel_id)
        status = settings.get_status(db, channel, status_id)
        detail: dict[str, Any] = {"channel_id": channel.id, "status_id": status.id}
        if action == "rename":
            old, languages = settings.name_status(db, status, name)
            if old == status.name and not languages:
                return
            event = "channel.status.rename"
            detail = dict(detail, old=old, name=status.name, languages=languages)
        elif action in ("up", "down"):
            if not settings.move_status(db, status, -1 if action == "up" else 1):
                return
            event, detail = "channel.status.move", dict(detail, direction=action)
        elif action == "remove":
            removed = status.name
            cases = settings.remove_status(db, status)
            event, detail = "channel.status.remove", dict(detail, name=removed, cases=cases)
        else:
            raise InvalidInput("Choose what to do with the status.")
        audit.record(db, event, now=now, actor_id=admin.id, actor=admin.username, **detail)
