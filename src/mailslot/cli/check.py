"""``mailslot check``: configuration, permissions, database, migrations, keys and tor, then the
host registry and one line per organisation (``--org``: only that one), each with what to fix
(the checks are :mod:`mailslot.check` and :mod:`mailslot.check_orgs`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailslot.cli.common import _, config_of, echo_json, shown
from mailslot.cli.help import Command
from mailslot.i18n import N_


@click.command(
    cls=Command,
    help=N_(
        "Check configuration, permissions, database, migrations, keys and tor, "
        "the host registry and every organisation; say what to fix.\n\n"
        "Exits 1 if anything fails; warnings (what a new instance gets at its "
        "first start, a quota nearly full) do not."
    ),
)
@click.option(
    "--torrc", type=click.Path(path_type=Path), help=N_("Also check this torrc with tor itself.")
)
@click.option(
    "--org", "slug", metavar="SLUG", help=N_("Check only this organisation (default: every one).")
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print the findings as JSON."))
@click.pass_context
def check(ctx: click.Context, torrc: Path | None, slug: str | None, as_json: bool) -> None:
    import dataclasses

    from mailslot.check import run_checks
    from mailslot.check_orgs import organisation_findings

    config = config_of(ctx)
    findings = [*run_checks(config, torrc), *organisation_findings(config, slug)]
    if as_json:
        echo_json([dataclasses.asdict(f) for f in findings])
    else:
        marks = {"ok": _("ok"), "warn": _("warn"), "fail": _("FAIL")}
        width = max(len(mark) for mark in marks.values())
        for finding in findings:
            mark = marks["ok" if finding.ok else "warn" if finding.warn else "fail"]
            line = f"{mark.ljust(width)} {shown(finding.name)}: {shown(finding.detail)}"
            click.echo(line)
            if not finding.ok and finding.fix:
                fix = _("fix: %(fix)s", fix=shown(finding.fix))
                click.echo(f"{'':{width}} {fix}")
    if any(f.fails for f in findings):
        sys.exit(1)
