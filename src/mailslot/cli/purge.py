"""``mailslot purge``: delete every case past its channel's retention now, then compact the
SQLite file. ``mailslot channels update``: change a channel's deadline and retention days."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, TypeVar

import click
from sqlalchemy import Engine

from mailslot import errors
from mailslot.db.base import checkpoint

F = TypeVar("F", bound=Callable[..., Any])
DAY_OPTIONS: Final = (
    ("--acknowledge-days", "Days to acknowledge receipt (1-365, default 7)."),
    ("--feedback-days", "Days to give feedback after acknowledging (1-730, default 90)."),
    ("--retention-days", "Days to keep a case after its last activity (1-3650, default 90)."),
    ("--closed-retention-days", "Days to keep a case after closing (0-3650, default 30)."),
)


def day_options(command: F) -> F:
    """The channel day settings as options (``acknowledge_days`` … in the keyword arguments)."""
    for flag, text in reversed(DAY_OPTIONS):
        command = click.option(flag, type=int, help=text)(command)
    return command


def vacuum(engine: Engine) -> bool:
    """Rebuild the SQLite file without free pages, then empty the WAL. True if it ran.

    ``secure_delete`` has already zeroed the freed pages, so this is not what makes a purged
    case unrecoverable; it returns the space and leaves no page of the old layout behind.
    """
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")
    checkpoint(engine)
    return True


def register(main: click.Group) -> None:
    @main.command()
    @click.option("--dry-run", is_flag=True, help="Only list the cases that would be deleted.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    @click.pass_context
    def purge(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
        """Delete the cases past their channel's retention (what the background job does),
        then vacuum the SQLite database."""
        # Imported here: `mailslot --help` need not load the domain, and main imports us.
        from mailslot.cases import retention
        from mailslot.cli.main import _runtime

        runtime = _runtime(ctx)
        try:
            now = runtime.now()
            if dry_run:
                ids = runtime.transact(lambda db: retention.due_for_purge(db, now, limit=None))
                vacuumed = False
            else:
                ids = retention.purge(runtime.transact, runtime.blobs, now)
                vacuumed = vacuum(runtime.engine) if ids else False
        finally:
            runtime.close()
        if as_json:
            result = {"dry_run": dry_run, "count": len(ids), "cases": ids, "vacuumed": vacuumed}
            click.echo(json.dumps(result))
            return
        verb = "Would delete" if dry_run else "Deleted"
        click.echo(f"{verb} {len(ids)} expired case(s).")
        for case_id in ids:
            click.echo(f"  {case_id}")
        if vacuumed:
            click.echo("Vacuumed the database.")

    channels = main.commands["channels"]
    assert isinstance(channels, click.Group)  # noqa: S101 - defined in cli/main.py

    @channels.command("update")
    @click.option("--name", required=True, help="The channel to change.")
    @day_options
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def channels_update(
        ctx: click.Context, /, name: str, as_json: bool, **days: int | None
    ) -> None:
        """Change a channel's deadlines and retention (existing cases keep their deadlines)."""
        from mailslot.audit import services as audit
        from mailslot.channels import services as channel_services
        from mailslot.channels import settings
        from mailslot.cli.main import _fail, _runtime

        runtime = _runtime(ctx)
        try:
            checked = settings.parse_days(days)
            with runtime.db() as db:
                channel = channel_services.get_channel_by_name(db, name)
                changed = settings.set_days(channel, checked)
                if changed:
                    audit.record(
                        db,
                        "channel.settings",
                        now=runtime.now(),
                        via="cli",
                        channel_id=channel.id,
                        changed=changed,
                    )
                result = {"id": channel.id, "name": channel.name}
                result.update({f: getattr(channel, f) for f in settings.DAY_FIELDS})
        except errors.ServiceError as exc:
            raise _fail(exc) from None
        finally:
            runtime.close()
        click.echo(json.dumps(result) if as_json else f"Updated channel {result['name']}.")
