"""``mailslot purge``: delete every case past its channel's retention now (what the background
job does each round), then compact the SQLite file."""

from __future__ import annotations

import click

from mailslot.cli.common import _, echo_json, ngettext, organisation
from mailslot.cli.help import Command
from mailslot.i18n import N_


@click.command(
    cls=Command,
    help=N_(
        "Delete the cases past their channel's retention (what the background job"
        " does), then vacuum the SQLite database."
    ),
)
@click.option("--dry-run", is_flag=True, help=N_("Only list the cases that would be deleted."))
@click.option("--json", "as_json", is_flag=True, help=N_("Print one JSON object."))
@click.pass_context
def purge(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    from mailslot.cases import retention

    with organisation(ctx) as org:
        now = org.now()
        if dry_run:
            ids = org.transact(lambda db: retention.due_for_purge(db, now, limit=None))
            vacuumed = False
        else:
            ids = retention.purge(org, now)
            # The round rewrote (VACUUM) the SQLite file once at its end; settling again
            # rewrites only if a busy database put that off, and says whether none is owed.
            sqlite = org.engine.dialect.name == "sqlite"
            vacuumed = bool(ids) and sqlite and org.rewrites.settle(org.engine)
    if as_json:
        echo_json({"dry_run": dry_run, "count": len(ids), "cases": ids, "vacuumed": vacuumed})
        return
    if dry_run:
        text = ngettext(
            "Would delete %(num)s expired case(s).",
            "Would delete %(num)s expired case(s).",
            len(ids),
        )
    else:
        text = ngettext(
            "Deleted %(num)s expired case(s).", "Deleted %(num)s expired case(s).", len(ids)
        )
    click.echo(text)
    for case_id in ids:
        click.echo(f"  {case_id}")
    if vacuumed:
        click.echo(_("Vacuumed the database."))
