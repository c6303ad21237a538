"""What every page of the source interface shows about the organisation."""

from __future__ import annotations

from dataclasses import dataclass

from mailslot.channels import services as channels
from mailslot.context import OrgContext
from mailslot.instance.services import get_instance
from mailslot.questionnaires import store as questionnaire_store


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """An open channel, as a new source chooses among them."""

    id: str
    name: str
    description: str
    questionnaire: bool = False  # a new source answers its questionnaire instead of writing


@dataclass(frozen=True, slots=True)
class Welcome:
    """The instance's name and guidance, whether sources see what they sent, and the
    channels open for submissions."""

    instance_name: str
    guidance: str
    show_submissions: bool
    open_channels: list[ChannelChoice]


def welcome(ctx: OrgContext) -> Welcome:
    with ctx.db() as db:
        instance = get_instance(db, ctx.instance_id)
        asking = questionnaire_store.channels_with_one(db)
        return Welcome(
            instance_name=instance.name,
            guidance=instance.guidance,
            show_submissions=instance.show_source_submissions,
            open_channels=[
                ChannelChoice(c.id, c.name, c.description, c.id in asking)
                for c in channels.open_channels(db)
            ],
        )
