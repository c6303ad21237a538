"""``mailslot setup-link``: a new one-time link to create the first admin account."""

from __future__ import annotations

import click

from mailslot.cli.common import _, organisation
from mailslot.cli.help import Command
from mailslot.i18n import N_


@click.command(
    "setup-link",
    cls=Command,
    help=N_("Print a new one-time admin setup link (only while no admin exists)."),
)
@click.pass_context
def setup_link(ctx: click.Context) -> None:
    from mailslot.recipients.services import ensure_setup_link

    with organisation(ctx) as org, org.db() as db:
        token = ensure_setup_link(db, org.now(), org.config.setup_token_lifetime)
    if token is None:
        raise click.ClickException(_("An admin account exists already; admins invite others."))
    link = f"{org.config.resolved_staff_url}/setup/{token}"
    click.echo(link)
