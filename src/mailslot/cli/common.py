"""What every ``mailslot`` command shares: loading the configuration, opening the runtime and
the organisation a command works on (``--org``), turning domain errors into click's, the
operator's language (:func:`_`, :func:`ngettext`), JSON output, and the channel day options.

Commands import it, never :mod:`mailslot.cli.main`: the group owns the commands, not the other
way round. Only light modules are imported here, so that ``mailslot --help`` stays fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, TypeVar

import click

from mailslot import errors
from mailslot.config import Config
from mailslot.config import load_config as _load_config
from mailslot.i18n import N_

if TYPE_CHECKING:
    from mailslot.context import OrgContext
    from mailslot.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

DAY_OPTIONS: Final = (
    ("--acknowledge-days", N_("Days to acknowledge receipt (1-365, default 7).")),
    ("--feedback-days", N_("Days to give feedback after acknowledging (1-730, default 90).")),
    ("--retention-days", N_("Days to keep a case after its last activity (1-3650, default 90).")),
    ("--closed-retention-days", N_("Days to keep a case after closing (0-3650, default 30).")),
)


def load_config(**overrides: Any) -> Config:
    """The configuration from the environment and ``overrides``; a bad value ends the command."""
    try:
        return _load_config(**overrides)
    except errors.ConfigError as exc:
        raise click.ClickException(message_of(exc)) from None


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
        raise click.ClickException(message_of(exc)) from None


# ``--org SLUG`` on every organisation-scoped command (``main.py`` adds it with
# :func:`with_org_option`); ``MAILSLOT_ORG`` sets it for a whole session.
ORG_ENV: Final = "MAILSLOT_ORG"


def _remember_org(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.find_root().ensure_object(dict)["org"] = value


def with_org_option(command: click.Command) -> click.Command:
    """Give ``command`` (and, for a group, each of its commands) the ``--org`` option."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            with_org_option(sub)
        return command
    command.params.append(
        click.Option(
            ["--org"],
            envvar=ORG_ENV,
            expose_value=False,
            callback=_remember_org,
            metavar="SLUG",
            # A literal (ORG_ENV spelled out) so that it can be extracted and translated.
            help=N_("The organisation to work on (default: the default one) [MAILSLOT_ORG]."),
        )
    )
    return command


def org_slug(ctx: click.Context) -> str | None:
    """The ``--org`` the command was given, if any."""
    found = ctx.find_root().ensure_object(dict).get("org")
    return str(found) if found else None


@contextmanager
def organisation(ctx: click.Context) -> Iterator[OrgContext]:
    """The organisation a command works on (``--org``; the default one without it), its
    runtime closed when the block ends."""
    runtime = open_runtime(ctx)
    try:
        slug = org_slug(ctx)
        try:
            context = runtime.context(slug)
        except errors.NotFound:
            raise click.ClickException(no_such_org(slug)) from None
        yield context
    finally:
        runtime.close()


# Every line a command prints for a person goes through these two, in the language of whoever
# runs it (``LANG`` …, see ``i18n.operator_locale``); ``--json`` output, file contents,
# identifiers and paths stay as they are. ``scripts/i18n`` extracts both names
# (tests/unit/test_cli_languages.py checks that no message bypasses them).


def operator_language() -> str:
    """The locale of whoever runs the command (sizes and numbers are formatted in it)."""
    from mailslot import i18n

    return i18n.operator_locale(os.environ)


def _(message: str, **params: object) -> str:
    """``message`` in the operator's language, its ``%(name)s`` placeholders filled from
    ``params``."""
    from mailslot import i18n

    return i18n.translate(i18n.operator_locale(os.environ), message, params or None)


def ngettext(singular: str, plural: str, num: int, **params: object) -> str:
    """A message that counts ``num`` (``%(num)s``) in the operator's language and its plural
    form for ``num``."""
    from mailslot import i18n

    locale = i18n.operator_locale(os.environ)
    return i18n.translate_plural(locale, singular, plural, num, params)


def shown(text: str) -> str:
    """``text`` in the operator's language if it is an ``i18n.LazyText``, else as it is."""
    from mailslot import i18n

    if isinstance(text, i18n.LazyText):
        return text.translated(i18n.operator_locale(os.environ))
    return text


def message_of(exc: Exception) -> str:
    """An error's message, in the operator's language when the error was raised with an
    ``i18n.LazyText`` (the backup errors are), else ``str(exc)``."""
    from mailslot import i18n

    first = exc.args[0] if len(exc.args) == 1 else None
    return shown(first) if isinstance(first, i18n.LazyText) else str(exc)


def echo_progress(line: str) -> None:
    """A progress line of domain code (an ``i18n.LazyText`` when it is Mailslot's own words),
    in the operator's language."""
    click.echo(shown(line))


def no_such_org(slug: str | None) -> str:
    return _("No organisation has the slug %(slug)s.", slug=repr(slug))


def exists_already(path: os.PathLike[str]) -> str:
    return _("%(path)s exists already; nothing was changed.", path=path)


def cannot_create(path: os.PathLike[str], exc: OSError) -> str:
    return _("Cannot create %(path)s: %(reason)s.", path=path, reason=exc.strerror)


def fail(exc: errors.ServiceError) -> click.ClickException:
    """A domain error as click reports it: its message on stderr, in the operator's language
    (``LANG`` …, see ``i18n.operator_locale``), exit status 1."""
    from mailslot import i18n

    locale = i18n.operator_locale(os.environ)
    return click.ClickException(i18n.translate_message(locale, exc.message, exc.plural, exc.params))


def echo_json(value: object) -> None:
    """Print one JSON document on its own line (the ``--json`` output of every command)."""
    click.echo(json.dumps(value))


def day_options(command: F) -> F:
    """The channel day settings as options (``acknowledge_days`` … in the keyword arguments)."""
    for flag, text in reversed(DAY_OPTIONS):
        command = click.option(flag, type=int, help=text)(command)
    return command
