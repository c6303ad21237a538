"""``mailslot channels``: create a channel, change its deadlines and retention."""

from __future__ import annotations

import click

from mailslot import errors
from mailslot.cli.common import _, day_options, echo_json, fail, organisation
from mailslot.cli.help import Group
from mailslot.i18n import N_


@click.group(cls=Group, help=N_("Channels."))
def channels() -> None:
    pass


def _in_languages(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``--name-in ko=텍스트`` … as {locale: text}; a language tag like ``zh-Hant`` works."""
    from mailslot import i18n

    texts = {}
    for value in values:
        tag, sep, text = value.partition("=")
        locale = i18n.supported(tag.strip())
        if not sep or locale is None:
            raise click.BadParameter(
                _("expected LANGUAGE=TEXT, got %(value)s", value=repr(value)), param_hint=option
            )
        texts[locale] = text
    return texts


_NAME_IN = click.option(
    "--name-in",
    "name_in",
    multiple=True,
    metavar="LANG=TEXT",
    help=N_("The name in another language (repeatable)."),
)
_DESCRIPTION_IN = click.option(
    "--description-in",
    "description_in",
    multiple=True,
    metavar="LANG=TEXT",
    help=N_("The description in another language (repeatable)."),
)


@channels.command("add", help=N_("Create a channel."))
@click.option("--name", required=True, help=N_("The name in the default language."))
@click.option("--description", default="", help=N_("The description in the default language."))
@_NAME_IN
@_DESCRIPTION_IN
@click.option(
    "--recipient", "recipient_names", multiple=True, help=N_("Recipient username (repeatable).")
)
@day_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def channels_add(
    ctx: click.Context,
    /,
    name: str,
    description: str,
    name_in: tuple[str, ...],
    description_in: tuple[str, ...],
    recipient_names: tuple[str, ...],
    as_json: bool,
    **days: int | None,
) -> None:
    from mailslot.audit import services as audit
    from mailslot.channels import settings
    from mailslot.channels.services import create_channel
    from mailslot.dropkeys import services as dropkeys
    from mailslot.instance.texts import default_locale

    with organisation(ctx) as org:
        try:
            checked = settings.parse_days(days)
            names = _in_languages(name_in, "--name-in")
            descriptions = _in_languages(description_in, "--description-in")
            with org.db() as db:
                locale = default_locale(db)
                channel = create_channel(
                    db,
                    name={**names, locale: name},
                    description={**descriptions, locale: description},
                    recipients=recipient_names,
                    now=org.now(),
                )
                settings.set_days(channel, checked)
                audit.record(
                    db,
                    "admin.channel_created",
                    now=org.now(),
                    channel_id=channel.id,
                    name=channel.name,
                    added=sorted(set(recipient_names)),
                    removed=[],
                    via="cli",
                )
                dropkeys.resync(db, org.instance_id, org.now())  # its first drop key
                result = {
                    "id": channel.id,
                    "name": channel.name,
                    "recipients": list(recipient_names),
                }
        except errors.ServiceError as exc:
            raise fail(exc) from None
    if as_json:
        echo_json(result)
    else:
        click.echo(_("Created channel %(name)s.", name=result["name"]))


@channels.command(
    "update",
    help=N_(
        "Change a channel's deadlines and retention (existing cases keep their "
        "deadlines), and its name and description in other languages (an empty "
        "text removes a language's)."
    ),
)
@click.option("--name", required=True, help=N_("The channel to change."))
@click.option("--description", default=None, help=N_("The description in the default language."))
@_NAME_IN
@_DESCRIPTION_IN
@day_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def channels_update(
    ctx: click.Context,
    /,
    name: str,
    description: str | None,
    name_in: tuple[str, ...],
    description_in: tuple[str, ...],
    as_json: bool,
    **days: int | None,
) -> None:
    from mailslot.audit import services as audit
    from mailslot.channels import services as channel_services
    from mailslot.channels import settings
    from mailslot.instance.texts import default_locale

    with organisation(ctx) as org:
        try:
            checked = settings.parse_days(days)
            names = _in_languages(name_in, "--name-in")
            descriptions = _in_languages(description_in, "--description-in")
            with org.db() as db:
                channel = channel_services.get_channel_by_name(db, name)
                locale = default_locale(db)
                if name_in or description_in or description is not None:
                    channel_services.set_texts(
                        db,
                        channel,
                        {**names, locale: channel.name},
                        {**descriptions, locale: channel.description}
                        if description is None
                        else {**descriptions, locale: description},
                    )
                    audit.record(
                        db,
                        "admin.channel_updated",
                        now=org.now(),
                        via="cli",
                        channel_id=channel.id,
                        name=channel.name,
                        added=[],
                        removed=[],
                    )
                changed = settings.set_days(channel, checked)
                if changed:
                    audit.record(
                        db,
                        "channel.settings",
                        now=org.now(),
                        via="cli",
                        channel_id=channel.id,
                        changed=changed,
                    )
                result = {"id": channel.id, "name": channel.name}
                result.update({f: getattr(channel, f) for f in settings.DAY_FIELDS})
        except errors.ServiceError as exc:
            raise fail(exc) from None
    if as_json:
        echo_json(result)
    else:
        click.echo(_("Updated channel %(name)s.", name=result["name"]))
