"""``mailslot serve``: the source and staff interfaces, with the background jobs."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from mailslot import errors
from mailslot.cli.common import load_config
from mailslot.config import Config, parse_addr

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
            open_runtime(config).close()
            code = 0
        finally:
            os._exit(code)
    os.waitpid(pid, 0)


def _server(app: ASGIApp, addr: tuple[str, int], log_level: str) -> uvicorn.Server:
    import uvicorn

    host, port = addr
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            access_log=False,  # access logs would record who asked for what, and when
            server_header=False,
            date_header=False,
            log_config=None,
            log_level=log_level,
            timeout_keep_alive=30,
            lifespan="off",
            # httptools parses HTTP in C; h11 (pure Python) cost a large share of the CPU time
            # of every request and of every network chunk of an upload.
            http="httptools",
        )
    )


@click.command()
@click.option("--source-addr", help="host:port of the source interface [MAILSLOT_SOURCE_ADDR].")
@click.option("--staff-addr", help="host:port of the staff interface [MAILSLOT_STAFF_ADDR].")
@click.pass_context
def serve(ctx: click.Context, source_addr: str | None, staff_addr: str | None) -> None:
    """Run the source and staff interfaces."""
    import asyncio

    from mailslot import logs
    from mailslot.jobs import run_forever, smtp_settings
    from mailslot.recipients.services import ensure_setup_link
    from mailslot.runtime import open_runtime
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
    config = load_config(**overrides)

    logs.configure(config.log_level, config.log_format)
    _migrate_in_child(config)
    runtime = open_runtime(config)
    try:
        smtp_settings(config)  # a bad mail setting stops start-up, not the first notice
    except errors.ConfigError as exc:
        runtime.close()
        raise click.ClickException(str(exc)) from None
    org = runtime.context()
    with org.db() as db:
        token = ensure_setup_link(db, org.now(), config.setup_token_lifetime)
    if token:
        click.echo("No admin account exists yet. Open this one-time setup link within 24 hours:")
        click.echo(f"\n    {config.resolved_staff_url}/setup/{token}\n")
    templates = Templates()
    servers = [
        _server(create_source_app(runtime, templates), config.source_addr, config.log_level),
        _server(create_staff_app(runtime, templates), config.staff_addr, config.log_level),
    ]
    click.echo(f"Source interface: http://{config.source_addr[0]}:{config.source_addr[1]}")
    click.echo(f"Staff interface:  http://{config.staff_addr[0]}:{config.staff_addr[1]}")

    async def run_all() -> None:
        jobs = asyncio.create_task(run_forever(runtime))
        try:
            await asyncio.gather(*(server.serve() for server in servers))
        finally:
            jobs.cancel()

    try:
        asyncio.run(run_all())
    finally:
        runtime.close()
