"""``mailslot tor-config``: a torrc for the source and staff onion services of every
organisation (or of one, ``--org``), with staff client keys; ``--claim`` then records the
onion names tor created as the organisations' host names, so that requests reach them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mailslot import errors
from mailslot.cli.common import _, echo_json, message_of, no_such_org, open_runtime
from mailslot.cli.help import Command
from mailslot.i18n import N_

if TYPE_CHECKING:
    from mailslot.orgs.registry import OrgRecord
    from mailslot.runtime import Runtime
    from mailslot.tor import Services


@click.command(
    "tor-config",
    cls=Command,
    help=N_(
        "Write a torrc for every organisation's source and staff onion services, "
        "with staff client keys (--out); claim the onion names tor created as "
        "their host names (--claim)."
    ),
)
@click.option("--out", type=click.Path(path_type=Path), help=N_("Where to write the torrc."))
@click.option(
    "--tor-dir",
    type=click.Path(path_type=Path),
    default=None,
    help=N_("Directory for the onion services [MAILSLOT_TOR_DIR, else /var/lib/tor/mailslot]."),
)
@click.option(
    "--client",
    "clients",
    multiple=True,
    help=N_(
        "Name of a staff client key to create for each organisation written (repeatable; "
        "default: one named 'staff' for each organisation that has none)."
    ),
)
@click.option(
    "--claim",
    is_flag=True,
    help=N_(
        "Claim the onion names tor created as the organisations' host names (after tor "
        "has started with the torrc)."
    ),
)
@click.option(
    "--org", "slug", metavar="SLUG", help=N_("Only this organisation (default: every one).")
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print the client keys as JSON."))
@click.pass_context
def tor_config(
    ctx: click.Context,
    out: Path | None,
    tor_dir: Path | None,
    clients: tuple[str, ...],
    claim: bool,
    slug: str | None,
    as_json: bool,
) -> None:
    from mailslot.tor import DEFAULT_TOR_DIR, write_tor_config

    if out is None and not claim:
        raise click.UsageError(_("Give --out to write a torrc, --claim to claim the onion names."))
    runtime = open_runtime(ctx)
    try:
        directory = tor_dir or runtime.config.tor_dir or DEFAULT_TOR_DIR
        chosen = _organisations(runtime, slug)
        services = [_services(directory, record) for record in chosen]
        try:
            made = write_tor_config(runtime.config, out, services, list(clients)) if out else []
        except errors.ConfigError as exc:
            raise click.ClickException(message_of(exc)) from None
        claimed = _claim(runtime, chosen, services) if claim else []
    finally:
        runtime.close()
    if as_json:
        keys = [{"org": c.org, "name": c.name, "private_key": c.key.private_key} for c in made]
        echo_json(
            {
                "torrc": str(out) if out else None,
                "tor_dir": str(directory),
                "clients": keys,
                "claimed": claimed,
            }
        )
        return
    if out is not None:
        _explain(out, directory, made)
    for found in claimed:
        names = [found[kind] for kind in ("source", "staff") if found[kind]]
        if len(names) == 2:
            text = _(
                "%(org)s: claims %(source)s and %(staff)s",
                org=found["org"],
                source=names[0],
                staff=names[1],
            )
        elif names:
            text = _("%(org)s: claims %(name)s", org=found["org"], name=names[0])
        else:
            text = _("%(org)s: tor has not created its onion services yet", org=found["org"])
        click.echo(text)


def _organisations(runtime: Runtime, slug: str | None) -> list[OrgRecord]:
    runtime.refresh()
    if slug is None:
        return list(runtime.directory.orgs)
    record = runtime.directory.by_slug.get(slug)
    if record is None:
        raise click.ClickException(no_such_org(slug))
    return [record]


def _services(directory: Path, record: OrgRecord) -> Services:
    """The default organisation's services are in the tor directory itself (as before there
    were organisations); every other's in ``orgs/<id>`` (``placement.tor_dir``)."""
    from mailslot.orgs.placement import ORGS_DIR
    from mailslot.tor import Services

    place = directory if record.is_default else directory / ORGS_DIR / record.id
    return Services(record.slug, place)


def _claim(
    runtime: Runtime, chosen: list[OrgRecord], services: list[Services]
) -> list[dict[str, Any]]:
    """Add the onion names tor wrote to the hosts each organisation claims (after the names
    it has: its first clearnet names stay the ones its links use)."""
    from mailslot.orgs import operator
    from mailslot.orgs.errors import OrgError
    from mailslot.tor import SOURCE, STAFF, read_hostname

    claimed = []
    for record, place in zip(chosen, services, strict=True):
        source, staff = read_hostname(place.hostname(SOURCE)), read_hostname(place.hostname(STAFF))
        sources = list(dict.fromkeys([*record.source_hosts, *([source] if source else [])]))
        staffs = list(dict.fromkeys([*record.staff_hosts, *([staff] if staff else [])]))
        if sources != list(record.source_hosts) or staffs != list(record.staff_hosts):
            try:
                operator.set_hosts(
                    runtime.registry, record.slug, source_hosts=sources, staff_hosts=staffs
                )
            except OrgError as exc:
                raise click.ClickException(message_of(exc)) from None
        claimed.append({"org": record.slug, "source": source, "staff": staff})
    return claimed


def _explain(out: Path, directory: Path, made: list[Any]) -> None:
    click.echo(
        _(
            "Wrote %(path)s. The onion services live in %(directory)s.\n"
            "Next: chown -R debian-tor:debian-tor that directory, add the mailslot account\n"
            "to the debian-tor group, include the torrc in /etc/tor/torrc, restart tor,\n"
            "set MAILSLOT_TOR_DIR=%(directory)s so Mailslot can show the addresses, and run\n"
            "`mailslot tor-config --claim` so that each organisation answers on its own.",
            path=out,
            directory=directory,
        )
    )
    if not made:
        return
    click.echo()
    click.echo(
        _(
            "Staff client keys. Give each to its person over a safe channel; they are not\n"
            "stored anywhere. When Tor Browser opens the staff address it asks for a key:"
        )
    )
    for client in made:
        click.echo(f"  {client.org}/{client.name}: {client.key.private_key}")
