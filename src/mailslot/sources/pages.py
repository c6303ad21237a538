"""What every page of the source interface shows about the organisation."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailslot.channels import choice
from mailslot.channels import services as channels
from mailslot.context import OrgContext
from mailslot.identity import services as identity_services
from mailslot.instance.services import get_instance, localized_texts
from mailslot.questionnaires import store as questionnaire_store


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """An open channel, as a new source chooses among them."""

    id: str
    name: str
    description: str
    questionnaire: bool = False  # a new source answers its questionnaire instead of writing
    # The recipients a new source may choose among (by display name); empty: no choice.
    recipients: list[choice.Choosable] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Welcome:
    """The instance's name and guidance, whether sources see what they sent, and the
    channels open for submissions."""

    instance_name: str
    guidance: str
    show_submissions: bool
    open_channels: list[ChannelChoice]
    identity_offered: bool = False  # a custodian exists: a new source may give their identity


def quick_exit_url(ctx: OrgContext) -> str:
    """Where the organisation's admins want the quick exit to lead (empty: not chosen)."""
    with ctx.db() as db:
        return get_instance(db, ctx.instance_id).quick_exit_url


def welcome(ctx: OrgContext, locale: str) -> Welcome:
    """In the source's language where an admin wrote the texts in it, in the organisation's
    default language otherwise."""
    with ctx.db() as db:
        instance = get_instance(db, ctx.instance_id)
        name, guidance = localized_texts(db, instance)
        asking = questionnaire_store.channels_with_one(db)
        open_channels = channels.open_channels(db)
        shown = channels.channel_texts(db, open_channels)
        return Welcome(
            instance_name=name.text(locale),
            guidance=guidance.text(locale),
            show_submissions=instance.show_source_submissions,
            open_channels=[
                ChannelChoice(
                    c.id,
                    shown[c.id].name.text(locale),
                    shown[c.id].description.text(locale),
                    c.id in asking,
                    choice.choosable(db, c),
                )
                for c in open_channels
            ],
            identity_offered=identity_services.offered(db),
        )
