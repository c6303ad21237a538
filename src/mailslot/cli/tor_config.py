"""``mailslot tor-config``: a torrc for the two onion services, with staff client keys."""

from __future__ import annotations

from pathlib import Path

import click

from mailslot import errors
from mailslot.cli.common import config_of, echo_json


@click.command("tor-config")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Where to write the torrc."
)
@click.option(
    "--tor-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory for the two onion services [MAILSLOT_TOR_DIR, else /var/lib/tor/mailslot].",
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    help="Name of a staff client key to create (repeatable; default: one named 'staff').",
)
@click.option("--json", "as_json", is_flag=True, help="Print the client keys as JSON.")
@click.pass_context
def tor_config(
    ctx: click.Context, out: Path, tor_dir: Path | None, clients: tuple[str, ...], as_json: bool
) -> None:
    """Write a torrc for the source and staff onion services, with staff client keys."""
    from mailslot.tor import DEFAULT_TOR_DIR, write_tor_config

    config = config_of(ctx)
    directory = tor_dir or config.tor_dir or DEFAULT_TOR_DIR
    try:
        made = write_tor_config(config, out, directory, list(clients))
    except errors.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        keys = [{"name": c.name, "private_key": c.key.private_key} for c in made]
        echo_json({"torrc": str(out), "tor_dir": str(directory), "clients": keys})
        return
    click.echo(f"Wrote {out}. The onion services live in {directory}.")
    click.echo("Next: chown -R debian-tor:debian-tor that directory, add the mailslot account")
    click.echo("to the debian-tor group, include the torrc in /etc/tor/torrc, restart tor,")
    click.echo(f"and set MAILSLOT_TOR_DIR={directory} so Mailslot can show the addresses.")
    click.echo("")
    click.echo("Staff client keys. Give each to its person over a safe channel; they are not")
    click.echo("stored anywhere. When Tor Browser opens the staff address it asks for a key:")
    for client in made:
        click.echo(f"  {client.name}: {client.key.private_key}")
