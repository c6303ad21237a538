"""``mailslot db upgrade`` (also ``mailslot migrate``): apply every pending migration, to every
organisation's database, saying which organisation it migrates ("Migrating organisation 12 of
1000 (slug)") on stderr, so that the progress never mixes with what a script reads."""

from __future__ import annotations

import click

from mailslot import errors
from mailslot.cli.common import _, config_of, message_of, shown
from mailslot.cli.help import Command, Group
from mailslot.i18n import N_


@click.group(cls=Group, help=N_("Database schema."))
def db() -> None:
    pass


def _progress(line: str) -> None:
    click.echo(shown(line), err=True)


def _upgrade(ctx: click.Context) -> None:
    from mailslot.runtime import open_runtime

    try:
        open_runtime(config_of(ctx), progress=_progress).close()  # opening migrates
    except errors.MailslotError as exc:
        raise click.ClickException(message_of(exc)) from None
    click.echo(_("Every database is up to date."))


@db.command("upgrade", help=N_("Apply every pending migration (every organisation's database)."))
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    _upgrade(ctx)


@click.command(
    "migrate",
    cls=Command,
    help=N_("Apply every pending migration (every organisation's database)."),
)
@click.pass_context
def migrate(ctx: click.Context) -> None:
    _upgrade(ctx)
