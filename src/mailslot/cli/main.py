"""``mailslot``: serve, manage users and channels, migrate the database."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from mailslot import __version__, errors
from mailslot.cli.purge import day_options
from mailslot.config import Config, load_config, parse_addr
from mailslot.runtime import Runtime, open_runtime


def _config(**overrides: Any) -> Config:
    try:
        return load_config(**overrides)
    except errors.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _runtime(ctx: click.Context) -> Runtime:
    config: Config = ctx.obj["config"]
    try:
        return open_runtime(config)
    except errors.MailslotError as exc:
        raise click.ClickException(str(exc)) from None


def _fail(exc: errors.ServiceError) -> click.ClickException:
    return click.ClickException(exc.message % exc.params if exc.params else exc.message)


@click.group()
@click.version_option(__version__, prog_name="mailslot")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Data directory [MAILSLOT_DATA_DIR]."
)
@click.option("--database-url", help="Database URL [MAILSLOT_DATABASE_URL].")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    """Mailslot: a secure, anonymous tip line."""
    # Everything Mailslot writes (database, blobs, logs) is for the service account only.
    os.umask(0o077)
    ctx.ensure_object(dict)
    ctx.obj["overrides"] = {"data_dir": data_dir, "database_url": database_url}
    # `mailslot decrypt` runs on an offline machine with no instance: it needs no configuration,
    # and a stray MAILSLOT_* variable there must not stop it.
    if ctx.invoked_subcommand != "decrypt":
        ctx.obj["config"] = _config(**ctx.obj["overrides"])


def _migrate_in_child(config: Config) -> None:
    """Open the database once in a short-lived child process, which migrates it if needed.

    Alembic is imported only to migrate, but once imported it stays: about 9 MiB of a serving
    process's memory, for good, on every first start. The serving process then finds the
    schema current and never loads it. If the child fails, the serving process migrates
    itself, and reports the error properly if there is one.
    """
    if not hasattr(os, "fork"):  # pragma: no cover - Linux and the BSDs have it
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            open_runtime(config).close()
            code = 0
        finally:
            os._exit(code)
    os.waitpid(pid, 0)


@main.command()
@click.option("--source-addr", help="host:port of the source interface [MAILSLOT_SOURCE_ADDR].")
@click.option("--staff-addr", help="host:port of the staff interface [MAILSLOT_STAFF_ADDR].")
@click.pass_context
def serve(ctx: click.Context, source_addr: str | None, staff_addr: str | None) -> None:
    """Run the source and staff interfaces."""
    import uvicorn

    from mailslot.recipients.services import ensure_setup_link
    from mailslot.web.app import create_source_app, create_staff_app
    from mailslot.web.common import Templates

    overrides = dict(ctx.obj["overrides"])
    try:
        if source_addr:
            overrides["source_addr"] = parse_addr(source_addr, "--source-addr")
        if staff_addr:
            overrides["staff_addr"] = parse_addr(staff_addr, "--staff-addr")
    except errors.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    config = _config(**overrides)
    from mailslot import logs

    logs.configure(config.log_level, config.log_format)
    _migrate_in_child(config)
    runtime = open_runtime(config)
    from mailslot.jobs import smtp_settings

    try:
        smtp_settings(runtime)  # a bad mail setting stops start-up, not the first notice
    except errors.ConfigError as exc:
        runtime.close()
        raise click.ClickException(str(exc)) from None
    with runtime.db() as db:
        token = ensure_setup_link(db, runtime.now(), config.setup_token_lifetime)
    if token:
        click.echo("No admin account exists yet. Open this one-time setup link within 24 hours:")
        click.echo(f"\n    {config.resolved_staff_url}/setup/{token}\n")
    templates = Templates()
    servers = []
    for app, (host, port) in (
        (create_source_app(runtime, templates), config.source_addr),
        (create_staff_app(runtime, templates), config.staff_addr),
    ):
        servers.append(
            uvicorn.Server(
                uvicorn.Config(
                    app,
                    host=host,
                    port=port,
                    access_log=False,  # access logs would record who asked for what, and when
                    server_header=False,
                    date_header=False,
                    log_config=None,
                    log_level=config.log_level,
                    timeout_keep_alive=30,
                    lifespan="off",
                    # httptools parses HTTP in C; h11 (pure Python) cost a large share of the
                    # CPU time of every request and of every network chunk of an upload.
                    http="httptools",
                )
            )
        )
    click.echo(f"Source interface: http://{config.source_addr[0]}:{config.source_addr[1]}")
    click.echo(f"Staff interface:  http://{config.staff_addr[0]}:{config.staff_addr[1]}")

    async def run_all() -> None:
        from mailslot.jobs import run_forever

        jobs = asyncio.create_task(run_forever(runtime))
        try:
            await asyncio.gather(*(server.serve() for server in servers))
        finally:
            jobs.cancel()

    try:
        asyncio.run(run_all())
    finally:
        runtime.close()


@main.group()
def users() -> None:
    """Staff accounts."""


@users.command("add")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["admin", "recipient", "analyst"]), required=True)
@click.option(
    "--password-file",
    type=click.File("r"),
    required=True,
    help="File whose first line is the password ('-' for stdin).",
)
@click.option(
    "--channel",
    "channel_names",
    multiple=True,
    help="Channel to join (recipients; default: 'default').",
)
@click.option("--email")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def users_add(
    ctx: click.Context,
    username: str,
    role: str,
    password_file: Any,
    channel_names: tuple[str, ...],
    email: str | None,
    as_json: bool,
) -> None:
    """Create a staff account (non-interactive)."""
    from mailslot.audit import services as audit
    from mailslot.instance.services import DEFAULT_CHANNEL
    from mailslot.recipients.models import Role
    from mailslot.recipients.services import create_user

    password = password_file.readline().rstrip("\r\n")
    runtime = _runtime(ctx)
    chosen = Role(role)
    if chosen != Role.RECIPIENT and channel_names:
        raise click.ClickException("Only recipients can be members of a channel.")
    names = channel_names or ((DEFAULT_CHANNEL,) if chosen == Role.RECIPIENT else ())
    try:
        with runtime.db() as db:
            account = create_user(
                db,
                username=username,
                role=chosen,
                password=password,
                kdf=runtime.config.kdf,
                now=runtime.now(),
                email=email,
                channel_names=names,
            )
            audit.record(
                db,
                "admin.user_created",
                now=runtime.now(),
                user_id=account.user.id,
                username=account.user.username,
                role=account.user.role,
                channels=list(names),
                via="cli",
            )
            result = {
                "id": account.user.id,
                "username": account.user.username,
                "role": account.user.role,
                "channels": list(names),
                "totp_secret": account.totp_secret,
                "recovery_key": account.recovery_key,
            }
    except errors.ServiceError as exc:
        raise _fail(exc) from None
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"Created {result['role']} {result['username']}.")
        click.echo(f"TOTP secret (add it to an authenticator app): {result['totp_secret']}")
        click.echo(f"Recovery key (shown once, keep it offline): {result['recovery_key']}")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List staff accounts."""
    from mailslot.recipients.services import list_users

    runtime = _runtime(ctx)
    try:
        with runtime.db() as db:
            for user in list_users(db):
                state = " (disabled)" if user.disabled else ""
                click.echo(f"{user.username}\t{user.role}{state}")
    finally:
        runtime.close()


@main.group()
def channels() -> None:
    """Channels."""


@channels.command("add")
@click.option("--name", required=True)
@click.option("--description", default="")
@click.option(
    "--recipient", "recipient_names", multiple=True, help="Recipient username (repeatable)."
)
@day_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def channels_add(
    ctx: click.Context,
    /,
    name: str,
    description: str,
    recipient_names: tuple[str, ...],
    as_json: bool,
    **days: int | None,
) -> None:
    """Create a channel."""
    from mailslot.audit import services as audit
    from mailslot.channels import settings
    from mailslot.channels.services import create_channel

    runtime = _runtime(ctx)
    try:
        checked = settings.parse_days(days)
        with runtime.db() as db:
            channel = create_channel(
                db,
                name=name,
                description=description,
                recipients=recipient_names,
                now=runtime.now(),
            )
            settings.set_days(channel, checked)
            audit.record(
                db,
                "admin.channel_created",
                now=runtime.now(),
                channel_id=channel.id,
                name=channel.name,
                added=sorted(set(recipient_names)),
                removed=[],
                via="cli",
            )
            result = {"id": channel.id, "name": channel.name, "recipients": list(recipient_names)}
    except errors.ServiceError as exc:
        raise _fail(exc) from None
    finally:
        runtime.close()
    click.echo(json.dumps(result) if as_json else f"Created channel {result['name']}.")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply every pending migration."""
    runtime = _runtime(ctx)  # open_runtime migrates
    runtime.close()
    click.echo("The database is up to date.")


@main.command("setup-link")
@click.pass_context
def setup_link(ctx: click.Context) -> None:
    """Print a new one-time admin setup link (only while no admin exists)."""
    from mailslot.recipients.services import ensure_setup_link

    runtime = _runtime(ctx)
    try:
        with runtime.db() as db_session:
            token = ensure_setup_link(
                db_session, runtime.now(), runtime.config.setup_token_lifetime
            )
    finally:
        runtime.close()
    if token is None:
        raise click.ClickException("An admin account exists already; admins invite others.")
    click.echo(f"{runtime.config.resolved_staff_url}/setup/{token}")


@main.command("tor-config")
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

    config: Config = ctx.obj["config"]
    directory = tor_dir or config.tor_dir or DEFAULT_TOR_DIR
    try:
        made = write_tor_config(config, out, directory, list(clients))
    except errors.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        keys = [{"name": c.name, "private_key": c.key.private_key} for c in made]
        click.echo(json.dumps({"torrc": str(out), "tor_dir": str(directory), "clients": keys}))
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


@main.command()
@click.option(
    "--torrc", type=click.Path(path_type=Path), help="Also check this torrc with tor itself."
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def check(ctx: click.Context, torrc: Path | None, as_json: bool) -> None:
    """Check configuration, permissions, database, migrations, keys and tor; say what to fix.

    Exits 1 if anything fails; warnings (what a new instance gets at its first start) do not.
    """
    import dataclasses

    from mailslot.check import run_checks

    findings = run_checks(ctx.obj["config"], torrc)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(f) for f in findings]))
    else:
        for finding in findings:
            mark = "ok  " if finding.ok else "warn" if finding.warn else "FAIL"
            click.echo(f"{mark} {finding.name}: {finding.detail}")
            if not finding.ok and finding.fix:
                click.echo(f"     fix: {finding.fix}")
    if any(f.fails for f in findings):
        sys.exit(1)


from mailslot.cli.offline import register as _register_offline  # noqa: E402 - needs `main`

_register_offline(main)

from mailslot.cli.backup import register as _register_backup  # noqa: E402 - needs `main`

_register_backup(main)

from mailslot.cli.purge import register as _register_purge  # noqa: E402 - needs `main`

_register_purge(main)

from mailslot.cli.demo import register as _register_demo  # noqa: E402 - needs `main`

_register_demo(main)

from mailslot.cli.audit import register as _register_audit  # noqa: E402 - needs `main`

_register_audit(main)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
