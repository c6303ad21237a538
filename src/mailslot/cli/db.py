"""``mailslot db upgrade``: apply every pending migration."""

from __future__ import annotations

import click

from mailslot.cli.common import open_runtime


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply every pending migration."""
    open_runtime(ctx).close()  # opening the runtime migrates
    click.echo("The database is up to date.")
