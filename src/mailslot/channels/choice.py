"""Sources choosing which of a channel's recipients receive their case (SecureDrop #98).

A channel may let sources choose (``Channel.sources_choose``): the send form lists its
active recipients by their public display name (their username if they have none), all
chosen by default, and the case key is wrapped only to those left chosen. A
questionnaire's answer may also name recipients (a route): the same choice, made by the
answer. Either way the case is marked ``recipients_chosen``, and only the recipients chosen
(the holders from the start) may give anyone else access to it (``cases.access.grant``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailslot.audit import services as audit
from mailslot.channels import services as channels
from mailslot.channels.models import Channel, ChannelMember
from mailslot.context import OrgContext
from mailslot.errors import InvalidInput
from mailslot.i18n import N_plural
from mailslot.recipients.models import Role, User
from mailslot.recipients.services import require_admin
from mailslot.text import plain_text

MAX_CHOOSABLE: Final = 50  # recipients listed on a send form (its field limit)
MAX_DISPLAY_NAME: Final = 64


@dataclass(frozen=True, slots=True)
class Choosable:
    """A recipient as a source sees them on the send form."""

    id: str
    name: str


def public_name(user: User) -> str:
    return user.display_name or user.username


def recipients(db: Session, channel: Channel) -> list[User]:
    """The channel's active recipients, in the order sources see them."""
    users = db.scalars(
        select(User)
        .join(ChannelMember, ChannelMember.user_id == User.id)
        .where(
            ChannelMember.channel_id == channel.id,
            User.disabled.is_(False),
            User.role == Role.RECIPIENT.value,
        )
    )
    return sorted(users, key=lambda user: (public_name(user).casefold(), user.id))


def choosable(db: Session, channel: Channel) -> list[Choosable]:
    """What the send form lists for ``channel``: nothing unless it lets sources choose."""
    if not channel.sources_choose:
        return []
    return [Choosable(user.id, public_name(user)) for user in recipients(db, channel)]


def chosen_ids(db: Session, channel: Channel, chosen: Collection[str] | None) -> list[str] | None:
    """The recipients a source left chosen, as user ids; None for all of them (the channel
    does not let sources choose, or the form did not offer the choice)."""
    if chosen is None or not channel.sources_choose:
        return None
    found = [user.id for user in recipients(db, channel) if user.id in chosen]
    if not found:
        raise InvalidInput("Choose at least one person to receive your submission.")
    return found


def routed_ids(db: Session, channel: Channel, names: Sequence[str]) -> list[str] | None:
    """The channel's recipients that a questionnaire's route names (by display name or
    username); None when the route names none of them (the case goes to all)."""
    if not names:
        return None
    wanted = {name.casefold() for name in names}
    found = [
        user.id
        for user in recipients(db, channel)
        if public_name(user).casefold() in wanted or user.username.casefold() in wanted
    ]
    return found or None


def check_display_name(typed: str) -> str | None:
    """A display name as typed (the channel settings form, ``mailslot users``): plain text
    on one line, at most ``MAX_DISPLAY_NAME`` characters; None when empty (the username
    is shown instead)."""
    name = plain_text(typed).strip()
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidInput(
            N_plural(
                "A display name is too long (at most %(num)s character).",
                "A display name is too long (at most %(num)s characters).",
            ),
            num=MAX_DISPLAY_NAME,
        )
    return name or None


def save_recipient_choice(
    ctx: OrgContext,
    admin: User,
    channel_id: str,
    *,
    sources_choose: bool,
    display_names: Mapping[str, str],
) -> None:
    """An admin lets a channel's sources choose its recipients (or not) and sets the public
    display names of its recipients (``display_names`` by user id; empty: none, the
    username is shown). Audited with what changed, names included (they are public)."""
    require_admin(admin)
    cleaned = {user_id: check_display_name(typed) for user_id, typed in display_names.items()}
    with ctx.db() as db:
        channel = channels.get_channel(db, channel_id)
        members = {user.id: user for user in recipients(db, channel)}
        if sources_choose and len(members) > MAX_CHOOSABLE:
            raise InvalidInput(
                N_plural(
                    "Sources can choose among at most %(num)s recipient.",
                    "Sources can choose among at most %(num)s recipients.",
                ),
                num=MAX_CHOOSABLE,
            )
        renamed = {}
        for user_id, chosen_name in cleaned.items():
            user = members.get(user_id)
            if user is not None and user.display_name != chosen_name:
                user.display_name = chosen_name
                renamed[user.username] = chosen_name or ""
        if channel.sources_choose == sources_choose and not renamed:
            return
        channel.sources_choose = sources_choose
        audit.record(
            db,
            "channel.recipient_choice",
            now=ctx.now(),
            actor_id=admin.id,
            actor=admin.username,
            channel_id=channel.id,
            sources_choose=sources_choose,
            display_names=renamed,
        )
