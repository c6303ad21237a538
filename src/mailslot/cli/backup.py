"""``mailslot backup`` and ``mailslot restore``: an organisation in one encrypted archive, or
the whole install (``--all``) in a directory of them.

``backup`` runs beside a serving instance: it only reads (one database snapshot, the blobs it
names) and never touches the server's in-progress uploads. ``restore`` builds a new instance
into an empty data directory and an empty database (the default organisation's archive, or
with ``--all`` the whole install), or with ``--org`` adds an organisation to a running install
(or replaces one, ``--replace``); it always checks everything it will read first.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from mailslot import __version__, errors
from mailslot.cli.common import (
    _,
    cannot_create,
    echo_progress,
    exists_already,
    fail,
    message_of,
    ngettext,
    operator_language,
)
from mailslot.cli.help import Command
from mailslot.config import Config
from mailslot.i18n import N_
from mailslot.sizes import human_size

if TYPE_CHECKING:
    from mailslot.backup import BackupSummary, RestoreSummary

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _passphrase(passphrase_file: IO[str] | None, *, confirm: bool) -> str:
    if passphrase_file is not None:
        return passphrase_file.readline().rstrip("\r\n")
    return str(
        click.prompt(
            _("Passphrase of the backup"),
            hide_input=True,
            confirmation_prompt=_("Repeat the passphrase") if confirm else False,
        )
    )


@click.command(
    "backup",
    cls=Command,
    help=N_(
        "Write an organisation (database and files) to one encrypted archive, or "
        "with --all the whole install to a directory of them.\n\n"
        "Safe while Mailslot is serving: each archive is one consistent snapshot."
    ),
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("The archive to write (must not exist)."),
)
@click.option(
    "--passphrase-file",
    type=click.File("r"),
    help=N_("Read the passphrase from the first line of this file instead of asking."),
)
@click.option(
    "--org",
    "slug",
    metavar="SLUG",
    help=N_("Back up this organisation (default: the default one)."),
)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help=N_(
        "Back up the whole install: --out is then a new directory, with one archive per "
        "organisation and the host registry's index."
    ),
)
@click.pass_context
def backup(
    ctx: click.Context,
    out_path: Path,
    passphrase_file: IO[str] | None,
    slug: str | None,
    every: bool,
) -> None:
    from mailslot.recipients.services import check_password

    config: Config = ctx.obj["config"]
    if slug and every:
        raise click.UsageError(_("Give --org or --all, not both."))
    passphrase = _passphrase(passphrase_file, confirm=True)
    try:
        check_password(passphrase, "backup")
    except errors.ServiceError as exc:
        # The checks speak of a password; in English, say what is meant here.
        message = fail(exc).message.replace("password", "passphrase")
        raise click.ClickException(message) from None
    if out_path.exists() or out_path.is_symlink():
        raise click.ClickException(exists_already(out_path))
    if every or (slug and slug != "default"):
        from mailslot.cli.backup_orgs import backup_organisations

        backup_organisations(config, out_path, passphrase, slug)
        _keep_apart()
        return
    _backup_default(config, out_path, passphrase)
    _keep_apart()


def _keep_apart() -> None:
    click.echo(
        _(
            "Keep the passphrase apart from the archive: without it nothing can be restored, "
            "and with it anyone holding the archive gets everything the server stores."
        )
    )


def _backup_default(config: Config, out_path: Path, passphrase: str) -> None:
    from mailslot.backup import BackupError, write_backup
    from mailslot.db.base import make_engine
    from mailslot.db.migrate import HEAD, stored_revision
    from mailslot.storage import open_blob_store

    if config.s3_location is None and not config.blob_dir.is_dir():
        raise click.ClickException(
            _("No Mailslot instance in %(directory)s.", directory=config.data_dir)
        )
    engine = make_engine(config.resolved_database_url)
    try:
        revision = stored_revision(engine)
        if revision != HEAD:
            raise click.ClickException(
                _(
                    "The database is at schema revision %(revision)s, and this Mailslot writes "
                    "backups of revision %(head)s. Run the Mailslot version that serves it.",
                    revision=revision,
                    head=HEAD,
                )
            )
        try:
            fd = os.open(out_path, _NEW_FILE, 0o600)
        except OSError as exc:
            raise click.ClickException(cannot_create(out_path, exc)) from None
        try:
            with os.fdopen(fd, "wb") as out:
                summary = write_backup(
                    engine,
                    open_blob_store(config),
                    out,
                    passphrase,
                    now=int(time.time()),
                )
                out.flush()
                os.fsync(out.fileno())
        except (BackupError, errors.StorageError) as exc:
            out_path.unlink(missing_ok=True)
            raise click.ClickException(backup_failed(exc)) from None
        except BaseException:
            out_path.unlink(missing_ok=True)
            raise
    finally:
        engine.dispose()
    report_backup(out_path, summary)


def backup_failed(exc: Exception) -> str:
    return _("The backup failed and was removed: %(reason)s", reason=message_of(exc))


def restore_failed(exc: Exception) -> str:
    return _("The restore failed and was undone: %(reason)s", reason=message_of(exc))


def report_backup(out_path: Path, summary: BackupSummary, label: str = "") -> None:
    click.echo(
        _(
            "Wrote %(path)s%(label)s: %(rows)s in %(tables)s and %(files)s (%(size)s of "
            "ciphertext), by Mailslot %(version)s, schema revision %(schema)s.",
            path=out_path,
            label=label,
            rows=ngettext("%(num)s row", "%(num)s rows", sum(summary.rows.values())),
            tables=ngettext("%(num)s table", "%(num)s tables", len(summary.rows)),
            files=ngettext("%(num)s file", "%(num)s files", summary.blobs),
            size=human_size(summary.bytes, operator_language()),
            version=__version__,
            schema=summary.schema,
        )
    )
    if summary.dropped:
        click.echo(
            ngettext(
                "%(num)s item was deleted with its case while the backup ran and is not in it: "
                "the archive shows the instance just after that deletion.",
                "%(num)s items were deleted with their case while the backup ran and are not "
                "in it: the archive shows the instance just after those deletions.",
                summary.dropped,
            )
        )


@click.command(
    "restore",
    cls=Command,
    help=N_(
        "Rebuild an instance from an archive, into an empty data directory and "
        "database; or add an organisation's archive to this install (--org); or "
        "restore a whole install (--all).\n\n"
        "Everything is checked first; nothing is written unless it is intact."
    ),
)
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--passphrase-file",
    type=click.File("r"),
    help=N_("Read the passphrase from the first line of this file instead of asking."),
)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help=N_(
        "ARCHIVE is the directory of a whole install (`backup --all`): restore it into an "
        "empty install."
    ),
)
@click.option(
    "--org",
    "slug",
    metavar="SLUG",
    help=N_(
        "Add the archive to this install as the organisation SLUG (a new slug, or an "
        "existing one with --replace)."
    ),
)
@click.option(
    "--name", default="", help=N_("With --org: its name (default: the one in the archive).")
)
@click.option(
    "--source-host", "source_hosts", multiple=True, help=N_("With --org: a source host name.")
)
@click.option(
    "--staff-host", "staff_hosts", multiple=True, help=N_("With --org: a staff host name.")
)
@click.option(
    "--replace",
    is_flag=True,
    help=N_(
        "With --org: replace the organisation of that slug (it is destroyed, as by "
        "`orgs remove`, once the archive is restored; its hosts and quotas carry over)."
    ),
)
@click.pass_context
def restore(
    ctx: click.Context,
    archive: Path,
    passphrase_file: IO[str] | None,
    every: bool,
    slug: str | None,
    name: str,
    source_hosts: tuple[str, ...],
    staff_hosts: tuple[str, ...],
    replace: bool,
) -> None:
    from mailslot.backup import RestoreTargetNotEmpty, check_target
    from mailslot.cli import backup_orgs

    config: Config = ctx.obj["config"]
    if slug and every:
        raise click.UsageError(_("Give --org or --all, not both."))
    if not slug and (name or source_hosts or staff_hosts or replace):
        raise click.UsageError(
            _("--name, --source-host, --staff-host and --replace go with --org.")
        )
    if every != archive.is_dir():
        raise click.UsageError(
            _("--all takes the directory `backup --all` wrote.")
            if every
            else _("%(path)s is a directory: give --all to restore a whole install.", path=archive)
        )
    if not every:
        _check_marker(archive)
    if slug:
        target = backup_orgs.OrgTarget(slug, name, source_hosts, staff_hosts, replace)
        passphrase = _passphrase(passphrase_file, confirm=False)
        backup_orgs.restore_organisation(ctx, archive, passphrase, target)
        return
    try:
        check_target(config)  # before asking for anything (restore checks again)
    except RestoreTargetNotEmpty as exc:
        raise click.ClickException(message_of(exc)) from None
    passphrase = _passphrase(passphrase_file, confirm=False)
    if every:
        backup_orgs.restore_everything(config, archive, passphrase)
    else:
        _restore_default(config, archive, passphrase)
    click.echo(_("Start it with `mailslot serve`, with the same settings as here."))


def _check_marker(archive: Path) -> None:
    with archive.open("rb") as handle:
        marker = handle.read(5)
    if len(marker) == 5 and marker.startswith(b"MSLA") and marker[4] != 1:
        raise click.ClickException(
            _(
                "%(path)s is a backup of format version %(version)s, which this version of "
                "Mailslot cannot read. Install the Mailslot version that wrote it.",
                path=archive,
                version=marker[4],
            )
        )


UNREADABLE = N_(
    "The passphrase is wrong, or the archive is damaged, altered, or from another "
    "Mailslot schema version. Nothing was restored."
)


def _restore_default(config: Config, archive: Path, passphrase: str) -> None:
    from mailslot.backup import ArchiveUnreadable, RestoreTargetNotEmpty
    from mailslot.backup import restore as run_restore

    try:
        summary = run_restore(config, archive, passphrase, echo=echo_progress)
    except RestoreTargetNotEmpty as exc:
        raise click.ClickException(message_of(exc)) from None
    except ArchiveUnreadable:
        raise click.ClickException(_(UNREADABLE)) from None
    except errors.MailslotError as exc:
        raise click.ClickException(restore_failed(exc)) from None
    report_restore(summary, _("into %(directory)s", directory=config.data_dir))


def report_restore(summary: RestoreSummary, where: str) -> None:
    """``where``: "into DIRECTORY" or "as the organisation SLUG", translated."""
    click.echo(
        _(
            "Restored %(rows)s and %(files)s (%(size)s) %(where)s, from a backup made by "
            "Mailslot %(version)s.",
            rows=ngettext("%(num)s row", "%(num)s rows", sum(summary.rows.values())),
            files=ngettext("%(num)s file", "%(num)s files", summary.blobs),
            size=human_size(summary.bytes, operator_language()),
            where=where,
            version=summary.mailslot,
        )
    )
    if summary.dropped:
        click.echo(
            ngettext(
                "The backup had left out %(num)s item deleted while it ran.",
                "The backup had left out %(num)s items deleted while it ran.",
                summary.dropped,
            )
        )
