"""``mailslot questionnaires``: a channel's questionnaire imported, exported, or taken from
a shipped template (format: docs/spec/questionnaire.md).

An invalid definition is refused with the place of the problem and exit status 1; nothing
is stored then.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

import click

from mailslot import errors
from mailslot.cli.common import _, echo_json, fail, organisation
from mailslot.cli.help import Group
from mailslot.i18n import N_

if TYPE_CHECKING:
    from mailslot.context import OrgContext


@click.group(cls=Group, help=N_("Channels' questionnaires."))
def questionnaires() -> None:
    pass


_CHANNEL = click.option("--channel", "channel_name", required=True, help=N_("The channel's name."))


@contextmanager
def _channel(ctx: click.Context, name: str) -> Iterator[tuple[OrgContext, str]]:
    """The organisation and the id of its channel ``name``; a refusal, in finding the channel
    or inside the block, ends the command with its message."""
    from mailslot.questionnaires import store

    with organisation(ctx) as org:
        try:
            yield org, store.channel_id_named(org, name)
        except errors.ServiceError as exc:
            raise fail(exc) from None


def _report(stored_version: int, digest: str, name: str, as_json: bool) -> None:
    if as_json:
        echo_json({"channel": name, "version": stored_version, "hash": digest})
    else:
        click.echo(
            _(
                "Channel %(name)s uses questionnaire version %(version)s (%(hash)s).",
                name=name,
                version=stored_version,
                hash=digest,
            )
        )


@questionnaires.command(
    "import", help=N_("Make FILE (JSON, or - for standard input) the channel's questionnaire.")
)
@_CHANNEL
@click.argument("file", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def questionnaires_import(
    ctx: click.Context, /, channel_name: str, file: BinaryIO, as_json: bool
) -> None:
    from mailslot.questionnaires import store

    data = file.read(store.MAX_FILE_BYTES + 1)
    with _channel(ctx, channel_name) as (org, channel_id):
        stored = store.import_file(org, None, channel_id, data)
    _report(stored.ref.version, stored.ref.hash, channel_name, as_json)


@questionnaires.command(
    "export", help=N_("Write the channel's current questionnaire as JSON on standard output.")
)
@_CHANNEL
@click.pass_context
def questionnaires_export(ctx: click.Context, /, channel_name: str) -> None:
    from mailslot.questionnaires import store

    with _channel(ctx, channel_name) as (org, channel_id):
        data = store.export(org, None, channel_id)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


@questionnaires.command("templates", help=N_("List the shipped templates."))
@click.option("--json", "as_json", is_flag=True)
def questionnaires_templates(as_json: bool) -> None:
    from mailslot.questionnaires import TEMPLATES

    if as_json:
        echo_json([{"name": t.name, "title": t.title} for t in TEMPLATES])
    else:
        for template in TEMPLATES:
            click.echo(f"{template.name}\t{_(template.title)}")


@questionnaires.command("use", help=N_("Make the shipped TEMPLATE the channel's questionnaire."))
@_CHANNEL
@click.argument("template")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def questionnaires_use(
    ctx: click.Context, /, channel_name: str, template: str, as_json: bool
) -> None:
    from mailslot.questionnaires import store

    with _channel(ctx, channel_name) as (org, channel_id):
        stored = store.use_template(org, None, channel_id, template)
    _report(stored.ref.version, stored.ref.hash, channel_name, as_json)


@questionnaires.command(
    "remove",
    help=N_("Go back to the channel's free-text form (older versions stay, for their answers)."),
)
@_CHANNEL
@click.pass_context
def questionnaires_remove(ctx: click.Context, /, channel_name: str) -> None:
    from mailslot.questionnaires import store

    with _channel(ctx, channel_name) as (org, channel_id):
        removed = store.remove(org, None, channel_id)
    click.echo(_("Removed.") if removed else _("This channel had no questionnaire."))
