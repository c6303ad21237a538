"""Creating channels and managing who receives what is sent to them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mailslot.channels.models import Channel, ChannelMember
from mailslot.db.base import new_id
from mailslot.errors import Conflict, InvalidInput, NotFound
from mailslot.instance import texts
from mailslot.recipients.models import Role, User
from mailslot.text import plain_text

MAX_NAME = 100
MAX_DESCRIPTION = 2000


def _clean_name(name: str) -> str:
    name = " ".join(plain_text(name).split())
    if len(name) > MAX_NAME:
        raise InvalidInput("The channel name is too long.")
    return name


def _clean_description(description: str) -> str:
    description = plain_text(description, multiline=True)
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput("The channel description is too long.")
    return description.strip()


# A channel's name and description: one text per language, or a plain string for the
# organisation's default language only (the others are kept). See ``instance.texts``.
Texts = Mapping[str, str] | str


def set_texts(db: Session, channel: Channel, name: Texts, description: Texts) -> None:
    """The channel's name and description; a language not given keeps its text."""
    locale = texts.default_locale(db)
    default_name, other_names = texts.split(name, locale, _clean_name)
    default_description, other_descriptions = texts.split(description, locale, _clean_description)
    if not default_name:
        raise InvalidInput("A channel needs a name.")
    clash = select(Channel.id).where(Channel.name == default_name, Channel.id != channel.id)
    if db.scalar(clash) is not None:
        raise Conflict("A channel with this name already exists.")
    channel.name = default_name
    channel.description = default_description
    texts.store(db, channel.id, "name", other_names, locale)
    texts.store(db, channel.id, "description", other_descriptions, locale)


def create_channel(
    db: Session, *, name: Texts, description: Texts, recipients: Sequence[str], now: int
) -> Channel:
    channel = Channel(id=new_id(), created_at=now)
    set_texts(db, channel, name, description)
    db.add(channel)
    db.flush()
    set_members(db, channel, recipients)
    return channel


def update_channel(
    db: Session, channel: Channel, *, name: Texts, description: Texts, recipients: Sequence[str]
) -> Channel:
    set_texts(db, channel, name, description)
    set_members(db, channel, recipients)
    return channel


@dataclass(frozen=True, slots=True)
class ChannelTexts:
    name: texts.Localized
    description: texts.Localized


def channel_texts(db: Session, channels: Sequence[Channel]) -> dict[str, ChannelTexts]:
    """The name and description of each of ``channels`` in every language, by id."""
    loaded = texts.load(db, [c.id for c in channels])
    return {
        c.id: ChannelTexts(
            texts.localized(loaded, c.id, "name", c.name),
            texts.localized(loaded, c.id, "description", c.description),
        )
        for c in channels
    }


@dataclass(frozen=True, slots=True)
class ShownChannel:
    """A channel as a reader of one language sees it (staff pages, the API)."""

    id: str
    name: str
    description: str


def shown_in(db: Session, channels: Sequence[Channel], locale: str | None) -> list[ShownChannel]:
    """``channels``, in their order, named and described in ``locale``: that language's
    texts where an admin wrote them, the default language's otherwise (and for None)."""
    shown = channel_texts(db, channels)
    return [
        ShownChannel(c.id, shown[c.id].name.text(locale), shown[c.id].description.text(locale))
        for c in channels
    ]


def names_in(db: Session, defaults: Mapping[str, str], locale: str | None) -> dict[str, str]:
    """Channels' names (``defaults``: id to the default language's name) as a reader of
    ``locale`` sees them; ``locale`` None: the default language's."""
    return texts.in_locale(db, defaults, "name", locale)


def set_members(db: Session, channel: Channel, usernames: Sequence[str]) -> None:
    """Replace the channel's recipients. Admins cannot be members: they never read cases."""
    users = []
    for username in dict.fromkeys(usernames):
        user = db.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound("No such user: %(name)s", name=username)
        if user.role != Role.RECIPIENT:
            raise InvalidInput(
                "Only recipients can be members of a channel: %(name)s", name=username
            )
        users.append(user)
    db.execute(delete(ChannelMember).where(ChannelMember.channel_id == channel.id))
    db.add_all(ChannelMember(channel_id=channel.id, user_id=user.id) for user in users)
    db.flush()


def add_member(db: Session, channel: Channel, user: User) -> None:
    if user.role != Role.RECIPIENT:
        raise InvalidInput(
            "Only recipients can be members of a channel: %(name)s", name=user.username
        )
    if db.get(ChannelMember, (channel.id, user.id)) is None:
        db.add(ChannelMember(channel_id=channel.id, user_id=user.id))
        db.flush()


def get_channel(db: Session, channel_id: str) -> Channel:
    channel = db.get(Channel, channel_id)
    if channel is None:
        raise NotFound("No such channel.")
    return channel


def get_channel_by_name(db: Session, name: str) -> Channel:
    channel = db.scalar(select(Channel).where(Channel.name == name))
    if channel is None:
        raise NotFound("No such channel: %(name)s", name=name)
    return channel


def list_channels(db: Session) -> list[Channel]:
    return list(db.scalars(select(Channel).order_by(Channel.name)))


def open_channels(db: Session) -> list[Channel]:
    """Channels that can receive a submission: those with at least one active recipient."""
    query = (
        select(Channel)
        .join(ChannelMember, ChannelMember.channel_id == Channel.id)
        .join(User, User.id == ChannelMember.user_id)
        .where(User.disabled.is_(False))
        .group_by(Channel.id)
        .order_by(Channel.name)
    )
    return list(db.scalars(query))


def members(db: Session, channel: Channel) -> list[User]:
    query = (
        select(User)
        .join(ChannelMember, ChannelMember.user_id == User.id)
        .where(ChannelMember.channel_id == channel.id)
        .order_by(User.username)
    )
    return list(db.scalars(query))


def member_counts(db: Session) -> dict[str, int]:
    rows = db.execute(
        select(ChannelMember.channel_id, func.count()).group_by(ChannelMember.channel_id)
    )
    return dict(rows.all())
