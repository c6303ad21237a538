"""``mailslot questionnaires``: a channel's questionnaire imported, exported, or taken from
a shipped template (format: docs/spec/questionnaire.md).

An invalid definition is refused with the place of the problem and exit status 1; nothing
is stored then.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from mailslot import errors
from mailslot.cli.common import echo_json, fail, organisation


@click.group()
def questionnaires() -> None:
    """Channels' questionnaires."""


def _report(stored_version: int, digest: str, name: str, as_json: bool) -> None:
    if as_json:
        echo_json({"channel": name, "version": stored_version, "hash": digest})
    else:
        click.echo(f"Channel {name} uses questionnaire version {stored_version} ({digest}).")


@questionnaires.command("import")
@click.option("--channel", "channel_name", required=True, help="The channel's name.")
@click.argument("file", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def questionnaires_import(
    ctx: click.Context, /, channel_name: str, file: BinaryIO, as_json: bool
) -> None:
    """Make FILE (JSON, or - for standard input) the channel's questionnaire."""
    from mailslot.questionnaires import store

    data = file.read(store.MAX_FILE_BYTES + 1)
    with organisation(ctx) as org:
        try:
            channel_id = store.channel_id_named(org, channel_name)
            stored = store.import_file(org, None, channel_id, data)
        except errors.ServiceError as exc:
            raise fail(exc) from None
    _report(stored.ref.version, stored.ref.hash, channel_name, as_json)


@questionnaires.command("export")
@click.option("--channel", "channel_name", required=True, help="The channel's name.")
@click.pass_context
def questionnaires_export(ctx: click.Context, /, channel_name: str) -> None:
    """Write the channel's current questionnaire as JSON on standard output."""
    from mailslot.questionnaires import store

    with organisation(ctx) as org:
        try:
            data = store.export(org, None, store.channel_id_named(org, channel_name))
        except errors.ServiceError as exc:
            raise fail(exc) from None
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


@questionnaires.command("templates")
@click.option("--json", "as_json", is_flag=True)
def questionnaires_templates(as_json: bool) -> None:
    """List the shipped templates."""
    from mailslot.questionnaires import TEMPLATES

    if as_json:
        echo_json([{"name": t.name, "title": t.title} for t in TEMPLATES])
    else:
        for template in TEMPLATES:
            click.echo(f"{template.name}\t{template.title}")


@questionnaires.command("use")
@click.option("--channel", "channel_name", required=True, help="The channel's name.")
@click.argument("template")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def questionnaires_use(
    ctx: click.Context, /, channel_name: str, template: str, as_json: bool
) -> None:
    """Make the shipped TEMPLATE the channel's questionnaire."""
    from mailslot.questionnaires import store

    with organisation(ctx) as org:
        try:
            stored = store.use_template(
                org, None, store.channel_id_named(org, channel_name), template
            )
        except errors.ServiceError as exc:
            raise fail(exc) from None
    _report(stored.ref.version, stored.ref.hash, channel_name, as_json)


@questionnaires.command("remove")
@click.option("--channel", "channel_name", required=True, help="The channel's name.")
@click.pass_context
def questionnaires_remove(ctx: click.Context, /, channel_name: str) -> None:
    """Go back to the channel's free-text form (older versions stay, for their answers)."""
    from mailslot.questionnaires import store

    with organisation(ctx) as org:
        try:
            removed = store.remove(org, None, store.channel_id_named(org, channel_name))
        except errors.ServiceError as exc:
            raise fail(exc) from None
    click.echo("Removed." if removed else "This channel had no questionnaire.")
