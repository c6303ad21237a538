"""``mailslot users``: create and list staff accounts."""

from __future__ import annotations

from typing import IO

import click

from mailslot import errors
from mailslot.cli.common import echo_json, fail, organisation


@click.group()
def users() -> None:
    """Staff accounts."""


@users.command("add")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["admin", "recipient", "analyst"]), required=True)
@click.option(
    "--password-file",
    type=click.File("r"),
    required=True,
    help="File whose first line is the password ('-' for stdin).",
)
@click.option(
    "--channel",
    "channel_names",
    multiple=True,
    help="Channel to join (recipients; default: 'default').",
)
@click.option("--email")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def users_add(
    ctx: click.Context,
    username: str,
    role: str,
    password_file: IO[str],
    channel_names: tuple[str, ...],
    email: str | None,
    as_json: bool,
) -> None:
    """Create a staff account (non-interactive)."""
    from mailslot.audit import services as audit
    from mailslot.instance.services import DEFAULT_CHANNEL
    from mailslot.recipients.models import Role
    from mailslot.recipients.services import create_user

    password = password_file.readline().rstrip("\r\n")
    with organisation(ctx) as org:
        chosen = Role(role)
        if chosen != Role.RECIPIENT and channel_names:
            raise click.ClickException("Only recipients can be members of a channel.")
        names = channel_names or ((DEFAULT_CHANNEL,) if chosen == Role.RECIPIENT else ())
        try:
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
                audit.record(
                    db,
                    "admin.user_created",
                    now=org.now(),
                    user_id=account.user.id,
                    username=account.user.username,
                    role=account.user.role,
                    channels=list(names),
                    via="cli",
                )
                result = {
                    "id": account.user.id,
                    "username": account.user.username,
                    "role": account.user.role,
                    "channels": list(names),
                    "totp_secret": account.totp_secret,
                    "recovery_key": account.recovery_key,
                }
        except errors.ServiceError as exc:
            raise fail(exc) from None
    if as_json:
        echo_json(result)
    else:
        click.echo(f"Created {result['role']} {result['username']}.")
        click.echo(f"TOTP secret (add it to an authenticator app): {result['totp_secret']}")
        click.echo(f"Recovery key (shown once, keep it offline): {result['recovery_key']}")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List staff accounts."""
    from mailslot.recipients.services import list_users

    with organisation(ctx) as org, org.db() as db:
        for user in list_users(db):
            state = " (disabled)" if user.disabled else ""
            click.echo(f"{user.username}\t{user.role}{state}")
