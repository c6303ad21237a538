"""``mailslot``: the command group and the console entry point (``python -m mailslot.cli.main``
runs it too).

The group reads the options every command shares and loads the configuration; each command
group lives in its own module under :mod:`mailslot.cli`, shares :mod:`mailslot.cli.common`, and
never imports this module. Commands import what they need inside their function, so that
``mailslot --help`` loads none of the domain.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mailslot import __version__
from mailslot.cli import (
    audit,
    backup,
    channels,
    check,
    db,
    demo,
    documents,
    drops,
    offline,
    operators,
    orgs,
    purge,
    questionnaires,
    serve,
    setup_link,
    tor_config,
    users,
)
from mailslot.cli.common import load_config, with_org_option
from mailslot.cli.help import Group
from mailslot.i18n import N_


@click.group(cls=Group, help=N_("Mailslot: a secure, anonymous tip line."))
@click.version_option(__version__, prog_name="mailslot")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help=N_("Data directory [MAILSLOT_DATA_DIR].")
)
@click.option("--database-url", help=N_("Database URL [MAILSLOT_DATABASE_URL]."))
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    # Everything Mailslot writes (database, blobs, logs) is for the service account only.
    os.umask(0o077)
    ctx.ensure_object(dict)
    ctx.obj["overrides"] = {"data_dir": data_dir, "database_url": database_url}
    # `mailslot decrypt`, `inspect`, `sanitize` and `seal` run on an offline machine with no
    # instance: they need no configuration, and a stray MAILSLOT_* variable there must not stop
    # them.
    if ctx.invoked_subcommand not in ("decrypt", "inspect", "sanitize", "seal"):
        ctx.obj["config"] = load_config(**ctx.obj["overrides"])


for _command in (
    serve.serve,
    users.users,
    channels.channels,
    db.db,
    setup_link.setup_link,
    tor_config.tor_config,
    check.check,
    offline.keys,
    offline.export,
    offline.decrypt,
    documents.inspect,
    documents.sanitize,
    drops.seal,
    backup.backup,
    backup.restore,
    purge.purge,
    demo.demo_data,
    audit.audit,
    orgs.orgs,
    operators.operators,
    db.migrate,
    questionnaires.questionnaires,
):
    main.add_command(_command)

# The commands that work inside one organisation take --org SLUG (default: the default one).
for _command in (
    users.users,
    channels.channels,
    setup_link.setup_link,
    offline.keys,
    offline.export,
    purge.purge,
    demo.demo_data,
    audit.audit,
    questionnaires.questionnaires,
):
    with_org_option(_command)

# `keys verify` checks a published manifest offline: it belongs to no organisation.
offline.keys.add_command(drops.keys_verify)
# `keys card` prints an organisation's published keys.
offline.keys.add_command(with_org_option(drops.keys_card))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
