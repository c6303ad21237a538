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
from mailslot.config import Config
from mailslot.sizes import human_size

if TYPE_CHECKING:
    from mailslot.backup import BackupSummary, RestoreSummary

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _passphrase(passphrase_file: IO[str] | None, *, confirm: bool) -> str:
    if passphrase_file is not None:
        return passphrase_file.readline().rstrip("\r\n")
    return str(
        click.prompt(
            "Passphrase of the backup",
            hide_input=True,
            confirmation_prompt="Repeat the passphrase" if confirm else False,
        )
    )


@click.command("backup")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive to write (must not exist).",
)
@click.option(
    "--passphrase-file",
    type=click.File("r"),
    help="Read the passphrase from the first line of this file instead of asking.",
)
@click.option(
    "--org", "slug", metavar="SLUG", help="Back up this organisation (default: the default one)."
)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Back up the whole install: --out is then a new directory, with one archive per "
    "organisation and the host registry's index.",
)
@click.pass_context
def backup(
    ctx: click.Context,
    out_path: Path,
    passphrase_file: IO[str] | None,
    slug: str | None,
    every: bool,
) -> None:
    """Write an organisation (database and files) to one encrypted archive, or with --all the
    whole install to a directory of them.

    Safe while Mailslot is serving: each archive is one consistent snapshot.
    """
    from mailslot.i18n import english_message
    from mailslot.recipients.services import check_password

    config: Config = ctx.obj["config"]
    if slug and every:
        raise click.UsageError("Give --org or --all, not both.")
    passphrase = _passphrase(passphrase_file, confirm=True)
    try:
        check_password(passphrase, "backup")
    except errors.ServiceError as exc:
        message = english_message(exc.message, exc.plural, exc.params)
        raise click.ClickException(message.replace("password", "passphrase")) from None
    if out_path.exists() or out_path.is_symlink():
        raise click.ClickException(f"{out_path} exists already; nothing was changed.")
    if every or (slug and slug != "default"):
        from mailslot.cli.backup_orgs import backup_organisations

        backup_organisations(config, out_path, passphrase, slug)
        _keep_apart()
        return
    _backup_default(config, out_path, passphrase)
    _keep_apart()


def _keep_apart() -> None:
    click.echo(
        "Keep the passphrase apart from the archive: without it nothing can be restored, "
        "and with it anyone holding the archive gets everything the server stores."
    )


def _backup_default(config: Config, out_path: Path, passphrase: str) -> None:
    from mailslot.backup import BackupError, write_backup
    from mailslot.db.base import make_engine
    from mailslot.db.migrate import HEAD, stored_revision
    from mailslot.storage import open_blob_store

    if config.s3_location is None and not config.blob_dir.is_dir():
        raise click.ClickException(f"No Mailslot instance in {config.data_dir}.")
    engine = make_engine(config.resolved_database_url)
    try:
        revision = stored_revision(engine)
        if revision != HEAD:
            raise click.ClickException(
                f"The database is at schema revision {revision}, and this Mailslot writes "
                f"backups of revision {HEAD}. Run the Mailslot version that serves it."
            )
        try:
            fd = os.open(out_path, _NEW_FILE, 0o600)
        except OSError as exc:
            raise click.ClickException(f"Cannot create {out_path}: {exc.strerror}.") from None
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
            raise click.ClickException(f"The backup failed and was removed: {exc}") from None
        except BaseException:
            out_path.unlink(missing_ok=True)
            raise
    finally:
        engine.dispose()
    report_backup(out_path, summary)


def report_backup(out_path: Path, summary: BackupSummary, label: str = "") -> None:
    rows = sum(summary.rows.values())
    click.echo(
        f"Wrote {out_path}{label}: {rows} row(s) in {len(summary.rows)} table(s) and "
        f"{summary.blobs} file(s) ({human_size(summary.bytes)} of ciphertext), "
        f"by Mailslot {__version__}, schema revision {summary.schema}."
    )
    if summary.dropped:
        click.echo(
            f"{summary.dropped} item(s) were deleted with their case while the backup ran and "
            "are not in it: the archive shows the instance just after those deletions."
        )


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--passphrase-file",
    type=click.File("r"),
    help="Read the passphrase from the first line of this file instead of asking.",
)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="ARCHIVE is the directory of a whole install (`backup --all`): restore it into an "
    "empty install.",
)
@click.option(
    "--org",
    "slug",
    metavar="SLUG",
    help="Add the archive to this install as the organisation SLUG (a new slug, or an "
    "existing one with --replace).",
)
@click.option("--name", default="", help="With --org: its name (default: the one in the archive).")
@click.option(
    "--source-host", "source_hosts", multiple=True, help="With --org: a source host name."
)
@click.option("--staff-host", "staff_hosts", multiple=True, help="With --org: a staff host name.")
@click.option(
    "--replace",
    is_flag=True,
    help="With --org: replace the organisation of that slug (it is destroyed, as by "
    "`orgs remove`, once the archive is restored; its hosts and quotas carry over).",
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
    """Rebuild an instance from an archive, into an empty data directory and database; or add
    an organisation's archive to this install (--org); or restore a whole install (--all).

    Everything is checked first; nothing is written unless it is intact.
    """
    from mailslot.backup import RestoreTargetNotEmpty, check_target
    from mailslot.cli import backup_orgs

    config: Config = ctx.obj["config"]
    if slug and every:
        raise click.UsageError("Give --org or --all, not both.")
    if not slug and (name or source_hosts or staff_hosts or replace):
        raise click.UsageError("--name, --source-host, --staff-host and --replace go with --org.")
    if every != archive.is_dir():
        raise click.UsageError(
            "--all takes the directory `backup --all` wrote."
            if every
            else f"{archive} is a directory: give --all to restore a whole install."
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
        raise click.ClickException(str(exc)) from None
    passphrase = _passphrase(passphrase_file, confirm=False)
    if every:
        backup_orgs.restore_everything(config, archive, passphrase)
    else:
        _restore_default(config, archive, passphrase)
    click.echo("Start it with `mailslot serve`, with the same settings as here.")


def _check_marker(archive: Path) -> None:
    with archive.open("rb") as handle:
        marker = handle.read(5)
    if len(marker) == 5 and marker.startswith(b"MSLA") and marker[4] != 1:
        raise click.ClickException(
            f"{archive} is a backup of format version {marker[4]}, which this version of "
            "Mailslot cannot read. Install the Mailslot version that wrote it."
        )


UNREADABLE = (
    "The passphrase is wrong, or the archive is damaged, altered, or from another "
    "Mailslot schema version. Nothing was restored."
)


def _restore_default(config: Config, archive: Path, passphrase: str) -> None:
    from mailslot.backup import ArchiveUnreadable, RestoreTargetNotEmpty
    from mailslot.backup import restore as run_restore

    try:
        summary = run_restore(config, archive, passphrase, echo=click.echo)
    except RestoreTargetNotEmpty as exc:
        raise click.ClickException(str(exc)) from None
    except ArchiveUnreadable:
        raise click.ClickException(UNREADABLE) from None
    except errors.MailslotError as exc:
        raise click.ClickException(f"The restore failed and was undone: {exc}") from None
    report_restore(summary, f"into {config.data_dir}")


def report_restore(summary: RestoreSummary, where: str) -> None:
    rows = sum(summary.rows.values())
    click.echo(
        f"Restored {rows} row(s) and {summary.blobs} file(s) ({human_size(summary.bytes)}) "
        f"{where}, from a backup made by Mailslot {summary.mailslot}."
    )
    if summary.dropped:
        click.echo(f"The backup had left out {summary.dropped} item(s) deleted while it ran.")
