"""``mailslot setup-link``: a new one-time link to create the first admin account."""

from __future__ import annotations

import click

from mailslot.cli.common import organisation


@click.command("setup-link")
@click.pass_context
def setup_link(ctx: click.Context) -> None:
    """Print a new one-time admin setup link (only while no admin exists)."""
    from mailslot.recipients.services import ensure_setup_link

    with organisation(ctx) as org, org.db() as db:
        token = ensure_setup_link(db, org.now(), org.config.setup_token_lifetime)
    if token is None:
        raise click.ClickException("An admin account exists already; admins invite others.")
    click.echo(f"{org.config.resolved_staff_url}/setup/{token}")
