"""``mailslot channels``: create a channel, change its deadlines and retention."""

from __future__ import annotations

import click

from mailslot import errors
from mailslot.cli.common import day_options, echo_json, fail, organisation


@click.group()
def channels() -> None:
    """Channels."""


@channels.command("add")
@click.option("--name", required=True)
@click.option("--description", default="")
@click.option(
    "--recipient", "recipient_names", multiple=True, help="Recipient username (repeatable)."
)
@day_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def channels_add(
    ctx: click.Context,
    /,
    name: str,
    description: str,
    recipient_names: tuple[str, ...],
    as_json: bool,
    **days: int | None,
) -> None:
    """Create a channel."""
    from mailslot.audit import services as audit
    from mailslot.channels import settings
    from mailslot.channels.services import create_channel

    with organisation(ctx) as org:
        try:
            checked = settings.parse_days(days)
            with org.db() as db:
                channel = create_channel(
                    db,
                    name=name,
                    description=description,
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
        click.echo(f"Created channel {result['name']}.")


@channels.command("update")
@click.option("--name", required=True, help="The channel to change.")
@day_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def channels_update(ctx: click.Context, /, name: str, as_json: bool, **days: int | None) -> None:
    """Change a channel's deadlines and retention (existing cases keep their deadlines)."""
    from mailslot.audit import services as audit
    from mailslot.channels import services as channel_services
    from mailslot.channels import settings

    with organisation(ctx) as org:
        try:
            checked = settings.parse_days(days)
            with org.db() as db:
                channel = channel_services.get_channel_by_name(db, name)
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
        click.echo(f"Updated channel {result['name']}.")
