"""``mailslot serve``: the source, staff and operator interfaces, with the background jobs."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from mailslot import errors
from mailslot.cli.common import _, echo_progress, load_config, message_of
from mailslot.cli.help import Command
from mailslot.config import Config, parse_addr
from mailslot.i18n import N_

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp


def _migrate_in_child(config: Config) -> None:
    """Open the database once in a short-lived child process, which migrates it if needed.

    Alembic is imported only to migrate, but once imported it stays: about 9 MiB of a serving
    process's memory, for good, on every first start. The serving process then finds the
    schema current and never loads it. If the child fails, the serving process migrates
    itself, and reports the error properly if there is one.
    """
    from mailslot.runtime import open_runtime

    if not hasattr(os, "fork"):  # pragma: no cover - Linux and the BSDs have it
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            open_runtime(config, progress=echo_progress).close()
            code = 0
        finally:
            os._exit(code)
    os.waitpid(pid, 0)


def _server(app: ASGIApp, addr: tuple[str, int], config: Config) -> uvicorn.Server:
    import uvicorn

    from mailslot.web.server import uvicorn_settings

    host, port = addr
    return uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=port, log_level=config.log_level, **uvicorn_settings(config)
        )
    )


def _allow_open_files(config: Config) -> None:
    """Raise the soft limit on open files to the hard one if it is below what the three
    interfaces' connection limits need (1024 is a common default)."""
    import contextlib
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 3 * config.max_connections + 256  # the database and the blobs being written
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        with contextlib.suppress(ValueError, OSError):  # then the soft limit stays
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))


@click.command(cls=Command, help=N_("Run the source, staff and operator interfaces."))
@click.option("--source-addr", help=N_("host:port of the source interface [MAILSLOT_SOURCE_ADDR]."))
@click.option("--staff-addr", help=N_("host:port of the staff interface [MAILSLOT_STAFF_ADDR]."))
@click.option(
    "--operator-addr", help=N_("host:port of the host operator's pages [MAILSLOT_OPERATOR_ADDR].")
)
@click.pass_context
def serve(
    ctx: click.Context, source_addr: str | None, staff_addr: str | None, operator_addr: str | None
) -> None:
    import asyncio

    from mailslot import logs, memory
    from mailslot.jobs import run_forever, smtp_settings, watch_registry
    from mailslot.recipients.services import ensure_setup_link
    from mailslot.runtime import open_runtime
    from mailslot.web.app import create_source_app, create_staff_app
    from mailslot.web.common import Templates
    from mailslot.web.operator import create_operator_app
    from mailslot.web.server import trim_after_requests

    overrides = dict(ctx.obj["overrides"])
    try:
        if source_addr:
            overrides["source_addr"] = parse_addr(source_addr, "--source-addr")
        if staff_addr:
            overrides["staff_addr"] = parse_addr(staff_addr, "--staff-addr")
        if operator_addr:
            overrides["operator_addr"] = parse_addr(operator_addr, "--operator-addr")
    except errors.ConfigError as exc:
        raise click.ClickException(message_of(exc)) from None
    config = load_config(**overrides)

    logs.configure(config.log_level, config.log_format)
    _allow_open_files(config)
    # Before any thread starts: see mailslot/memory.py.
    memory.limit_arenas(memory.ARENAS)
    _migrate_in_child(config)
    try:
        runtime = open_runtime(config, progress=echo_progress)
    except errors.MailslotError as exc:  # an unreachable database or bucket: one line
        raise click.ClickException(message_of(exc)) from None
    try:
        smtp_settings(config)  # a bad mail setting stops start-up, not the first notice
    except errors.ConfigError as exc:
        runtime.close()
        raise click.ClickException(message_of(exc)) from None
    org = runtime.context()
    with org.db() as db:
        token = ensure_setup_link(db, org.now(), config.setup_token_lifetime)
    if token:
        click.echo(_("No admin account exists yet. Open this one-time setup link within 24 hours:"))
        link = f"\n    {config.resolved_staff_url}/setup/{token}\n"
        click.echo(link)
    templates = Templates()
    servers = [
        _server(create_source_app(runtime, templates), config.source_addr, config),
        _server(create_staff_app(runtime, templates), config.staff_addr, config),
        _server(create_operator_app(runtime, templates), config.operator_addr, config),
    ]
    listening = (
        (_("Source interface:"), config.source_addr),
        (_("Staff interface:"), config.staff_addr),
        (_("Operator pages:"), config.operator_addr),
    )
    width = max(len(label) for label, _addr in listening)
    for label, (host, port) in listening:
        address = f"http://{host}:{port}"
        click.echo(f"{label.ljust(width)} {address}")

    async def run_all() -> None:
        jobs = asyncio.create_task(run_forever(runtime))
        registry = asyncio.create_task(watch_registry(runtime))
        trimmer = asyncio.create_task(trim_after_requests(servers))
        try:
            await asyncio.gather(*(server.serve() for server in servers))
        finally:
            jobs.cancel()
            registry.cancel()
            trimmer.cancel()

    try:
        asyncio.run(run_all())
    finally:
        runtime.close()
