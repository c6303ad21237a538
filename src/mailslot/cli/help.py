"""``--help`` in the operator's language.

Every ``mailslot`` command is a :class:`Command` or a :class:`Group` (the group's
``command_class``), whose help pages translate, when they are shown, the texts the code marks
with ``N_`` (command help and option help) through :func:`mailslot.cli.common._`, the same
catalogue as every other line the command prints. The command objects themselves keep the
English msgids: one process may show help in several languages (the tests do).

Click's own words are translated by click with the standard library's global ``gettext``
domain, which cannot be told which language or catalogue to use short of replacing click's
private ``_`` in each of its modules. So the words of a help page (``Usage:``, the section
titles, ``[required]``, the ``--help`` and ``--version`` texts) and the frame of an error
(``Error:``, ``Try … for help.``, ``Aborted!``) are written here instead, as our own msgids;
click's own usage errors ("Missing option '--out'.") stay English (docs/translating.md).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from mailslot.cli.common import _
from mailslot.i18n import N_

_CommandT = TypeVar("_CommandT", bound=click.Command)

# Click's texts for the options it adds itself, so that they are in our catalogue.
CLICK_OPTION_HELP = (N_("Show this message and exit."), N_("Show the version and exit."))


def _in_operator_language(command: _CommandT) -> _CommandT:
    """A copy of ``command`` whose help texts are translated (the original stays English)."""
    shown = copy.copy(command)
    shown.help = _(command.help) if command.help else command.help
    shown.short_help = _(command.short_help) if command.short_help else command.short_help
    shown.epilog = _(command.epilog) if command.epilog else command.epilog
    return shown


def _option_row(param: click.Parameter, ctx: click.Context) -> tuple[str, str] | None:
    if not isinstance(param, click.Option):
        return None
    shown = copy.copy(param)
    shown.help = _(inspect.cleandoc(param.help)) if param.help else param.help
    # Click would add its own English "[required]".
    shown.required = False
    row = shown.get_help_record(ctx)
    if row is None or not param.required:
        return row
    required = "[" + _("required") + "]"
    return row[0], f"{row[1]}  {required}" if row[1] else required


def _format_help(
    command: click.Command, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    shown = _in_operator_language(command)
    shown.format_usage(ctx, formatter)
    click.Command.format_help_text(shown, ctx, formatter)
    rows = [row for param in command.get_params(ctx) if (row := _option_row(param, ctx))]
    if rows:
        with formatter.section(_("Options")):
            formatter.write_dl(rows)
    if isinstance(command, click.Group):
        _format_commands(command, ctx, formatter)
    click.Command.format_epilog(shown, ctx, formatter)


def _format_commands(
    group: click.Group, ctx: click.Context, formatter: click.HelpFormatter
) -> None:
    commands = [
        (name, found)
        for name in group.list_commands(ctx)
        if (found := group.get_command(ctx, name)) is not None and not found.hidden
    ]
    if commands:
        # As click does: the short help gets what is left of the line after the names.
        limit = formatter.width - 6 - max(len(name) for name, _found in commands)
        with formatter.section(_("Commands")):
            formatter.write_dl(
                [(name, found.get_short_help_str(limit)) for name, found in commands]
            )


@contextmanager
def _errors_shown(here: bool) -> Iterator[None]:
    """Show a ``ClickException`` or ``Abort`` raised inside in the operator's language, then
    exit as click would (``here`` is false: let it pass, an outer group shows it)."""
    if not here:
        yield
        return
    try:
        yield
    except click.ClickException as exc:
        if type(exc).show in (click.ClickException.show, click.UsageError.show):
            _show(exc)
        else:  # one that shows itself differently (the help page for no arguments)
            exc.show()
        raise click.exceptions.Exit(exc.exit_code) from None
    except click.Abort:
        click.echo(_("Aborted!"), err=True)
        raise click.exceptions.Exit(1) from None


def _show(exc: click.ClickException) -> None:
    """As ``ClickException.show`` and ``UsageError.show`` write it, translated."""
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    if ctx is not None:
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            option = max(ctx.command.get_help_option_names(ctx), key=len)
            hint = _(
                "Try '%(command)s %(option)s' for help.", command=ctx.command_path, option=option
            )
            hint += "\n"
        click.echo(f"{ctx.get_usage()}\n{hint}", err=True, color=ctx.color)
    color = ctx.color if ctx is not None else getattr(exc, "show_color", None)
    click.echo(_("Error: %(error)s", error=exc.format_message()), err=True, color=color)


class _TranslatedHelp(click.Command):
    """The help page of a command or group, in the operator's language."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        pieces = " ".join(self.collect_usage_pieces(ctx))
        formatter.write_usage(ctx.command_path, pieces, prefix=_("Usage: "))

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        _format_help(self, ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        return click.Command.get_short_help_str(_in_operator_language(self), limit)


class Command(_TranslatedHelp):
    """A command whose help page is in the operator's language."""


class Group(_TranslatedHelp, click.Group):
    """A command group whose help page, and its commands', are in the operator's language."""

    command_class = Command
    group_class = type  # a group's groups are of its own class

    # The outermost group (``mailslot``) shows the errors of every command, as click would but
    # in the operator's language.

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _errors_shown(parent is None):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _errors_shown(ctx.parent is None):
            return super().invoke(ctx)
