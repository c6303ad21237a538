"""``mailslot check``: configuration, permissions, database, migrations, keys and tor, then the
host registry and one line per organisation (``--org``: only that one), each with what to fix
(the checks are :mod:`mailslot.check` and :mod:`mailslot.check_orgs`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mailslot.cli.common import config_of, echo_json


@click.command()
@click.option(
    "--torrc", type=click.Path(path_type=Path), help="Also check this torrc with tor itself."
)
@click.option(
    "--org", "slug", metavar="SLUG", help="Check only this organisation (default: every one)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def check(ctx: click.Context, torrc: Path | None, slug: str | None, as_json: bool) -> None:
    """Check configuration, permissions, database, migrations, keys and tor, the host
    registry and every organisation; say what to fix.

    Exits 1 if anything fails; warnings (what a new instance gets at its first start, a quota
    nearly full) do not.
    """
    import dataclasses

    from mailslot.check import run_checks
    from mailslot.check_orgs import organisation_findings

    config = config_of(ctx)
    findings = [*run_checks(config, torrc), *organisation_findings(config, slug)]
    if as_json:
        echo_json([dataclasses.asdict(f) for f in findings])
    else:
        for finding in findings:
            mark = "ok  " if finding.ok else "warn" if finding.warn else "FAIL"
            click.echo(f"{mark} {finding.name}: {finding.detail}")
            if not finding.ok and finding.fix:
                click.echo(f"     fix: {finding.fix}")
    if any(f.fails for f in findings):
        sys.exit(1)
