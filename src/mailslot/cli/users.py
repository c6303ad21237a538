"""``mailslot users``: create and list staff accounts, and set a recipient's public display
name (what sources see when a channel lets them choose its recipients)."""

from __future__ import annotations

from typing import IO

import click

from mailslot import errors
from mailslot.cli.common import _, echo_json, fail, organisation
from mailslot.cli.help import Group
from mailslot.i18n import N_

NAMED_RECIPIENTS = N_("Only recipients have a display name (sources see it).")


@click.group(cls=Group, help=N_("Staff accounts."))
def users() -> None:
    pass


@users.command("add", help=N_("Create a staff account (non-interactive)."))
@click.option("--username", required=True)
@click.option(
    "--role", type=click.Choice(["admin", "recipient", "analyst", "custodian"]), required=True
)
@click.option(
    "--password-file",
    type=click.File("r"),
    required=True,
    help=N_("File whose first line is the password ('-' for stdin)."),
)
@click.option(
    "--channel",
    "channel_names",
    multiple=True,
    help=N_("Channel to join (recipients; default: 'default')."),
)
@click.option("--email")
@click.option(
    "--display-name",
    help=N_(
        "The name sources see when a channel lets them choose (recipients; default: the username)."
    ),
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print one JSON object."))
@click.pass_context
def users_add(
    ctx: click.Context,
    username: str,
    role: str,
    password_file: IO[str],
    channel_names: tuple[str, ...],
    email: str | None,
    display_name: str | None,
    as_json: bool,
) -> None:
    from mailslot.audit import services as audit
    from mailslot.channels.choice import check_display_name
    from mailslot.dropkeys import services as dropkeys
    from mailslot.instance.services import DEFAULT_CHANNEL
    from mailslot.recipients.models import Role
    from mailslot.recipients.services import create_user

    password = password_file.readline().rstrip("\r\n")
    with organisation(ctx) as org:
        chosen = Role(role)
        if chosen != Role.RECIPIENT and channel_names:
            raise click.ClickException(_("Only recipients can be members of a channel."))
        names = channel_names or ((DEFAULT_CHANNEL,) if chosen == Role.RECIPIENT else ())
        if chosen != Role.RECIPIENT and display_name is not None:
            raise click.ClickException(_(NAMED_RECIPIENTS))
        try:
            public_name = check_display_name(display_name or "")
            with org.db() as db:
                account = create_user(
                    db,
                    username=username,
                    role=chosen,
                    password=password,
                    kdf=org.config.kdf,
                    now=org.now(),
                    email=email,
                    channel_names=names,
                )
                account.user.display_name = public_name
                named = {"display_name": public_name} if public_name else {}
                audit.record(
                    db,
                    "admin.user_created",
                    now=org.now(),
                    user_id=account.user.id,
                    username=account.user.username,
                    role=account.user.role,
                    channels=list(names),
                    via="cli",
                    **named,
                )
                dropkeys.resync(db, org.instance_id, org.now())  # the channels it joined
                result = {
                    "id": account.user.id,
                    "username": account.user.username,
                    "role": account.user.role,
                    "channels": list(names),
                    "display_name": public_name,
                    "totp_secret": account.totp_secret,
                    "recovery_key": account.recovery_key,
                }
        except errors.ServiceError as exc:
            raise fail(exc) from None
    if as_json:
        echo_json(result)
    else:
        click.echo(
            _("Created %(role)s %(username)s.", role=result["role"], username=result["username"])
        )
        click.echo(
            _(
                "TOTP secret (add it to an authenticator app): %(secret)s",
                secret=result["totp_secret"],
            )
        )
        click.echo(
            _("Recovery key (shown once, keep it offline): %(key)s", key=result["recovery_key"])
        )


@users.command(
    "set-display-name",
    help=N_("Set the name sources see for recipient USERNAME ('' for none: the username)."),
)
@click.argument("username")
@click.argument("name")
@click.pass_context
def users_set_display_name(ctx: click.Context, username: str, name: str) -> None:
    from mailslot.audit import services as audit
    from mailslot.channels.choice import check_display_name
    from mailslot.recipients.models import Role
    from mailslot.recipients.services import find_user

    with organisation(ctx) as org:
        try:
            public_name = check_display_name(name)
            with org.db() as db:
                user = find_user(db, username)
                if user is None:
                    raise click.ClickException(
                        _("No account is named %(username)s.", username=repr(username))
                    )
                if user.role != Role.RECIPIENT.value:
                    raise click.ClickException(_(NAMED_RECIPIENTS))
                if user.display_name == public_name:
                    return
                user.display_name = public_name
                audit.record(
                    db,
                    "admin.user_display_name",
                    now=org.now(),
                    user_id=user.id,
                    username=user.username,
                    display_name=public_name,
                    via="cli",
                )
        except errors.ServiceError as exc:
            raise fail(exc) from None
    click.echo(f"{username}: {public_name or username}")


@users.command("list", help=N_("List staff accounts."))
@click.pass_context
def users_list(ctx: click.Context) -> None:
    from mailslot.recipients.services import list_users

    with organisation(ctx) as org, org.db() as db:
        for user in list_users(db):
            state = _(" (disabled)") if user.disabled else ""
            shown = f"\t{user.display_name}" if user.display_name else ""
            click.echo(f"{user.username}\t{user.role}{state}{shown}")
