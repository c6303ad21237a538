"""``mailslot db upgrade`` (also ``mailslot migrate``): apply every pending migration, to every
organisation's database, saying which organisation it migrates ("Migrating organisation 12 of
1000 (slug)") on stderr, so that the progress never mixes with what a script reads."""

from __future__ import annotations

import click

from mailslot import errors
from mailslot.cli.common import config_of


@click.group()
def db() -> None:
    """Database schema."""


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _upgrade(ctx: click.Context) -> None:
    from mailslot.runtime import open_runtime

    try:
        open_runtime(config_of(ctx), progress=_progress).close()  # opening migrates
    except errors.MailslotError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Every database is up to date.")


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply every pending migration (every organisation's database)."""
    _upgrade(ctx)


@click.command("migrate")
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply every pending migration (every organisation's database)."""
    _upgrade(ctx)
