"""What every ``mailslot`` command shares: loading the configuration, opening the runtime and
the organisation a command works on, turning domain errors into click's, JSON output, and the
channel day options.

Commands import it, never :mod:`mailslot.cli.main`: the group owns the commands, not the other
way round. Only light modules are imported here, so that ``mailslot --help`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click

from mailslot import errors
from mailslot.config import Config
from mailslot.config import load_config as _load_config

if TYPE_CHECKING:
    from mailslot.context import OrgContext
    from mailslot.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

DAY_OPTIONS: Final = (
    ("--acknowledge-days", "Days to acknowledge receipt (1-365, default 7)."),
    ("--feedback-days", "Days to give feedback after acknowledging (1-730, default 90)."),
    ("--retention-days", "Days to keep a case after its last activity (1-3650, default 90)."),
    ("--closed-retention-days", "Days to keep a case after closing (0-3650, default 30)."),
)


def load_config(**overrides: Any) -> Config:
    """The configuration from the environment and ``overrides``; a bad value ends the command."""
    try:
        return _load_config(**overrides)
    except errors.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def config_of(ctx: click.Context) -> Config:
    """The configuration the ``mailslot`` group loaded for this command."""
    config: Config = ctx.obj["config"]
    return config


def open_runtime(ctx: click.Context) -> Runtime:
    """Connect to the instance (migrating its database if needed); the caller closes it."""
    from mailslot.runtime import open_runtime as _open_runtime

    try:
        return _open_runtime(config_of(ctx))
    except errors.MailslotError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def organisation(ctx: click.Context) -> Iterator[OrgContext]:
    """The organisation a command works on (today the default one), its runtime closed when
    the block ends."""
    runtime = open_runtime(ctx)
    try:
        yield runtime.context()
    finally:
        runtime.close()


def fail(exc: errors.ServiceError) -> click.ClickException:
    """A domain error as click reports it: its message on stderr, exit status 1."""
    return click.ClickException(exc.message % exc.params if exc.params else exc.message)


def echo_json(value: object) -> None:
    """Print one JSON document on its own line (the ``--json`` output of every command)."""
    click.echo(json.dumps(value))


def day_options(command: F) -> F:
    """The channel day settings as options (``acknowledge_days`` … in the keyword arguments)."""
    for flag, text in reversed(DAY_OPTIONS):
        command = click.option(flag, type=int, help=text)(command)
    return command
