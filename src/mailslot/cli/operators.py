"""``mailslot operators``: the host operator's accounts for the operator pages (add, list,
remove). They live in the host registry, not in any organisation (see docs/hosting.md)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from mailslot import errors
from mailslot.cli.common import _, echo_json, fail, open_runtime
from mailslot.cli.help import Group
from mailslot.i18n import N_

if TYPE_CHECKING:
    from mailslot.orgs.accounts import HostContext


@contextmanager
def _host(ctx: click.Context) -> Iterator[HostContext]:
    from mailslot.orgs.accounts import HostContext

    runtime = open_runtime(ctx)
    try:
        yield HostContext(runtime.config, runtime.registry, runtime.limiter)
    finally:
        runtime.close()


@click.group(
    cls=Group, help=N_("Host operator accounts (for the operator pages, MAILSLOT_OPERATOR_ADDR).")
)
def operators() -> None:
    pass


@operators.command("add", help=N_("Create an operator account; prints its TOTP secret once."))
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help=N_("Read the password from the first line of stdin.")
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print one JSON object."))
@click.pass_context
def operators_add(ctx: click.Context, username: str, password_stdin: bool, as_json: bool) -> None:
    from mailslot.orgs import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(
            _("Password"), hide_input=True, confirmation_prompt=_("Repeat the password")
        )
    with _host(ctx) as host:
        try:
            new = accounts.add_operator(host, username, password)
        except errors.ServiceError as exc:
            raise fail(exc) from None
    if as_json:
        echo_json(
            {
                "id": new.account.id,
                "username": new.account.username,
                "totp_secret": new.totp_secret,
                "totp_uri": new.totp_uri,
            }
        )
        return
    click.echo(
        _(
            "Operator %(username)s created. Add this to an authenticator app (shown once):",
            username=username,
        )
    )
    secret = f"\n    {new.totp_secret}\n    {new.totp_uri}\n"
    click.echo(secret)


@operators.command("list", help=N_("Every operator account."))
@click.option("--json", "as_json", is_flag=True, help=N_("Print one JSON object."))
@click.pass_context
def operators_list(ctx: click.Context, as_json: bool) -> None:
    import datetime

    from mailslot.orgs import accounts

    with _host(ctx) as host:
        found = accounts.list_operators(host)
    if as_json:
        echo_json(
            {"operators": [{"username": op.username, "created_at": op.created_at} for op in found]}
        )
        return
    for op in found:
        day = datetime.datetime.fromtimestamp(op.created_at, tz=datetime.UTC).date()
        click.echo(_("%(username)s\tadded %(day)s", username=op.username, day=day.isoformat()))


@operators.command("remove", help=N_("Delete an operator account (its sessions end)."))
@click.argument("username")
@click.pass_context
def operators_remove(ctx: click.Context, username: str) -> None:
    from mailslot.orgs import accounts

    with _host(ctx) as host:
        try:
            accounts.remove_operator(host, username)
        except errors.ServiceError as exc:
            raise fail(exc) from None
    click.echo(_("Operator %(username)s removed.", username=username))
