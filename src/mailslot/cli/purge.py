"""``mailslot purge``: delete every case past its channel's retention now (what the background
job does each round), then compact the SQLite file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailslot.cli.common import echo_json, organisation

if TYPE_CHECKING:
    from sqlalchemy import Engine


def vacuum(engine: Engine) -> bool:
    """Rebuild the SQLite file without free pages, then empty the WAL. True if it ran.

    ``secure_delete`` has already zeroed the freed pages, so this is not what makes a purged
    case unrecoverable; it returns the space and leaves no page of the old layout behind.
    """
    from mailslot.db.base import checkpoint

    if engine.dialect.name != "sqlite":
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")
    checkpoint(engine)
    return True


@click.command()
@click.option("--dry-run", is_flag=True, help="Only list the cases that would be deleted.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def purge(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Delete the cases past their channel's retention (what the background job does),
    then vacuum the SQLite database."""
    from mailslot.cases import retention

    with organisation(ctx) as org:
        now = org.now()
        if dry_run:
            ids = org.transact(lambda db: retention.due_for_purge(db, now, limit=None))
            vacuumed = False
        else:
            ids = retention.purge(org.transact, org.blobs, now)
            vacuumed = vacuum(org.engine) if ids else False
    if as_json:
        echo_json({"dry_run": dry_run, "count": len(ids), "cases": ids, "vacuumed": vacuumed})
        return
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(f"{verb} {len(ids)} expired case(s).")
    for case_id in ids:
        click.echo(f"  {case_id}")
    if vacuumed:
        click.echo("Vacuumed the database.")
