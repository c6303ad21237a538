"""``mailslot orgs``: the host operator's commands (add, list, disable, enable, remove, quota,
hosts). They change the host registry and create or destroy whole organisations; they never
show a case, a person or content (see docs/hosting.md). Each change is written to the
operator log, as the operator pages' changes are, by the command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailslot import errors
from mailslot.cli.common import _, echo_json, message_of, open_runtime, operator_language
from mailslot.cli.help import Group
from mailslot.config import parse_size
from mailslot.i18n import N_

if TYPE_CHECKING:
    from mailslot.orgs.operator import Listed
    from mailslot.runtime import Runtime

T = TypeVar("T")


@contextmanager
def _runtime(ctx: click.Context) -> Iterator[Runtime]:
    runtime = open_runtime(ctx)
    try:
        yield runtime
    finally:
        runtime.close()


def _run(work: Callable[[], T]) -> T:
    """An operator's change; a refusal ends the command with its message."""
    from mailslot.orgs.errors import OrgError

    try:
        return work()
    except OrgError as exc:
        raise click.ClickException(message_of(exc)) from None


def _logged(runtime: Runtime, action: str, slug: str = "") -> None:
    """Write the change to the operator log, as the pages do, by the command line."""
    from mailslot.orgs.accounts import record_command

    record_command(runtime.registry, runtime.default.now(), action, slug)


def _size(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value, "--storage")
    except errors.ConfigError as exc:
        raise click.BadParameter(message_of(exc)) from None


@click.group(cls=Group, help=N_("Organisations on this install (the host operator's commands)."))
def orgs() -> None:
    pass


@orgs.command(
    "add",
    help=N_("Create an organisation: its database, its instance, and a one-time admin setup link."),
)
@click.option("--slug", required=True, help=N_("Short name for commands: a-z, 0-9 and hyphens."))
@click.option(
    "--name", required=True, help=N_("The organisation's name (its admins can change it).")
)
@click.option(
    "--source-host", "source_hosts", multiple=True, help=N_("Host name of its source site.")
)
@click.option("--staff-host", "staff_hosts", multiple=True, help=N_("Host name of its staff site."))
@click.option("--json", "as_json", is_flag=True, help=N_("Print one JSON object."))
@click.pass_context
def orgs_add(
    ctx: click.Context,
    slug: str,
    name: str,
    source_hosts: tuple[str, ...],
    staff_hosts: tuple[str, ...],
    as_json: bool,
) -> None:
    from mailslot.orgs import operator

    with _runtime(ctx) as runtime:
        added = _run(
            lambda: operator.add(
                runtime.config,
                runtime.registry,
                slug=slug,
                name=name,
                source_hosts=source_hosts,
                staff_hosts=staff_hosts,
                now=runtime.default.now(),
            )
        )
        _logged(runtime, "org.added", added.slug)
    if as_json:
        echo_json(
            {
                "id": added.id,
                "slug": added.slug,
                "name": added.name,
                "source_hosts": list(added.source_hosts),
                "staff_hosts": list(added.staff_hosts),
                "setup_link": added.setup_link,
            }
        )
        return
    click.echo(_("Created organisation %(slug)s (%(id)s).", slug=added.slug, id=added.id))
    if not added.staff_hosts:
        click.echo(_("It claims no staff host yet: give it one (mailslot orgs hosts) to serve it."))
    click.echo(_("One-time setup link for its first admin (valid 24 hours):"))
    link = f"\n    {added.setup_link}\n"
    click.echo(link)


def _listed(entry: Listed) -> dict[str, Any]:
    record = entry.record
    return {
        "id": record.id,
        "slug": record.slug,
        "name": record.name,
        "enabled": record.enabled,
        "default": record.is_default,
        "created_at": record.created_at,
        "source_hosts": list(record.source_hosts),
        "staff_hosts": list(record.staff_hosts),
        "quotas": {"storage_bytes": record.storage_quota, "cases": record.case_quota},
        "usage": {
            "cases": entry.usage.cases,
            "items": entry.usage.items,
            "stored_bytes": entry.usage.stored_bytes,
            "staff_accounts": entry.staff,
        },
    }


@orgs.command(
    "list", help=N_("List organisations: state, hosts, quotas and counts (never a case or a name).")
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print one JSON object."))
@click.pass_context
def orgs_list(ctx: click.Context, as_json: bool) -> None:
    from mailslot.orgs import operator
    from mailslot.sizes import human_size

    with _runtime(ctx) as runtime:
        listed = operator.list_orgs(runtime.config, runtime.registry, runtime.default.now())
    if as_json:
        echo_json({"organisations": [_listed(entry) for entry in listed]})
        return
    for entry in listed:
        record, used = entry.record, entry.usage
        state = "" if record.enabled else _(" (disabled)")
        language = operator_language()
        quota = (
            human_size(record.storage_quota, language) if record.storage_quota else _("no limit")
        )
        cases = f"{used.cases}/{record.case_quota}" if record.case_quota else str(used.cases)
        click.echo(
            _(
                "%(slug)s%(state)s\tcases %(cases)s\tstored %(stored)s of %(quota)s\t"
                "staff %(staff)s\thosts %(hosts)s",
                slug=record.slug,
                state=state,
                cases=cases,
                stored=human_size(used.stored_bytes, language),
                quota=quota,
                staff=entry.staff,
                hosts=" ".join(record.source_hosts + record.staff_hosts) or "-",
            )
        )


@orgs.command(
    "disable", help=N_("Stop serving an organisation (a plain 404 on its hosts); its data stays.")
)
@click.argument("slug")
@click.pass_context
def orgs_disable(ctx: click.Context, slug: str) -> None:
    from mailslot.orgs import operator

    with _runtime(ctx) as runtime:
        _run(lambda: operator.set_enabled(runtime.registry, slug, False))
        _logged(runtime, "org.disabled", slug)
    click.echo(_("Disabled %(slug)s.", slug=slug))


@orgs.command("enable", help=N_("Serve a disabled organisation again."))
@click.argument("slug")
@click.pass_context
def orgs_enable(ctx: click.Context, slug: str) -> None:
    from mailslot.orgs import operator

    with _runtime(ctx) as runtime:
        _run(lambda: operator.set_enabled(runtime.registry, slug, True))
        _logged(runtime, "org.enabled", slug)
    click.echo(_("Enabled %(slug)s.", slug=slug))


@orgs.command(
    "remove",
    help=N_(
        "Destroy an organisation: key wraps first, then its rows, blobs, database and directory."
    ),
)
@click.argument("slug")
@click.option("--yes", is_flag=True, help=N_("Do not ask for confirmation."))
@click.pass_context
def orgs_remove(ctx: click.Context, slug: str, yes: bool) -> None:
    from mailslot.orgs import operator

    if not yes:
        click.confirm(
            _(
                "Destroy organisation %(slug)s and every case, account and file of it? "
                "This cannot be undone",
                slug=slug,
            ),
            abort=True,
        )
    with _runtime(ctx) as runtime:
        record = _run(lambda: operator.remove(runtime.config, runtime.registry, slug))
        _logged(runtime, "org.removed")  # its slug is struck from the log with it
    click.echo(_("Removed %(slug)s (%(id)s).", slug=record.slug, id=record.id))


@orgs.command(
    "quota", help=N_("Set an organisation's quotas (an option left out keeps its current value).")
)
@click.argument("slug")
@click.option("--storage", help=N_("Bytes its items may take (e.g. 50GiB; 0: no limit)."))
@click.option("--cases", type=int, help=N_("Cases it may hold (0: no limit)."))
@click.pass_context
def orgs_quota(ctx: click.Context, slug: str, storage: str | None, cases: int | None) -> None:
    from mailslot.orgs import operator

    size = _size(storage)
    with _runtime(ctx) as runtime:
        current = _run(lambda: runtime.registry.get(slug))
        _run(
            lambda: operator.set_quota(
                runtime.registry,
                slug,
                storage=current.storage_quota if size is None else size,
                cases=current.case_quota if cases is None else cases,
            )
        )
        _logged(runtime, "org.quota", slug)
    click.echo(_("Quotas of %(slug)s set.", slug=slug))


@orgs.command(
    "hosts", help=N_("Replace the host names an organisation claims (none given: it claims none).")
)
@click.argument("slug")
@click.option(
    "--source-host", "source_hosts", multiple=True, help=N_("Host name of its source site.")
)
@click.option("--staff-host", "staff_hosts", multiple=True, help=N_("Host name of its staff site."))
@click.pass_context
def orgs_hosts(
    ctx: click.Context, slug: str, source_hosts: tuple[str, ...], staff_hosts: tuple[str, ...]
) -> None:
    from mailslot.orgs import operator

    with _runtime(ctx) as runtime:
        _run(
            lambda: operator.set_hosts(
                runtime.registry, slug, source_hosts=source_hosts, staff_hosts=staff_hosts
            )
        )
        _logged(runtime, "org.hosts", slug)
    click.echo(_("Hosts of %(slug)s set.", slug=slug))
