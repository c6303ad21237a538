"""``mailslot backup`` and ``mailslot restore``: the whole instance in one encrypted archive.

``backup`` runs beside a serving instance: it only reads (one database snapshot, the blobs it
names) and never touches the server's in-progress uploads. ``restore`` builds a new instance
into an empty data directory and an empty database, after checking the whole archive.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO

import click

from mailslot import __version__, errors
from mailslot.config import Config
from mailslot.sizes import human_size

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
@click.pass_context
def backup(ctx: click.Context, out_path: Path, passphrase_file: IO[str] | None) -> None:
    """Write the whole instance (database and files) to one encrypted archive.

    Safe while Mailslot is serving: the archive is one consistent snapshot.
    """
    from mailslot.backup import BackupError, write_backup
    from mailslot.db.base import make_engine
    from mailslot.db.migrate import HEAD, stored_revision
    from mailslot.recipients.services import check_password
    from mailslot.storage import open_blob_store

    config: Config = ctx.obj["config"]
    passphrase = _passphrase(passphrase_file, confirm=True)
    try:
        check_password(passphrase, "backup")
    except errors.ServiceError as exc:
        message = exc.message % exc.params if exc.params else exc.message
        raise click.ClickException(message.replace("password", "passphrase")) from None
    if out_path.exists() or out_path.is_symlink():
        raise click.ClickException(f"{out_path} exists already; nothing was changed.")
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
    rows = sum(summary.rows.values())
    click.echo(
        f"Wrote {out_path}: {rows} row(s) in {len(summary.rows)} table(s) and "
        f"{summary.blobs} file(s) ({human_size(summary.bytes)} of ciphertext), "
        f"by Mailslot {__version__}, schema revision {summary.schema}."
    )
    if summary.dropped:
        click.echo(
            f"{summary.dropped} item(s) were deleted with their case while the backup ran and "
            "are not in it: the archive shows the instance just after those deletions."
        )
    click.echo(
        "Keep the passphrase apart from the archive: without it nothing can be restored, "
        "and with it anyone holding the archive gets everything the server stores."
    )


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--passphrase-file",
    type=click.File("r"),
    help="Read the passphrase from the first line of this file instead of asking.",
)
@click.pass_context
def restore(ctx: click.Context, archive: Path, passphrase_file: IO[str] | None) -> None:
    """Rebuild an instance from an archive, into an empty data directory and database.

    The whole archive is checked first; nothing is written unless it is intact.
    """
    from mailslot.backup import ArchiveUnreadable, RestoreTargetNotEmpty, check_target
    from mailslot.backup import restore as run_restore

    config: Config = ctx.obj["config"]
    with archive.open("rb") as handle:
        marker = handle.read(5)
    if len(marker) == 5 and marker.startswith(b"MSLA") and marker[4] != 1:
        raise click.ClickException(
            f"{archive} is a backup of format version {marker[4]}, which this version of "
            "Mailslot cannot read. Install the Mailslot version that wrote it."
        )
    try:
        check_target(config)  # before asking for anything (restore checks again)
    except RestoreTargetNotEmpty as exc:
        raise click.ClickException(str(exc)) from None
    passphrase = _passphrase(passphrase_file, confirm=False)
    try:
        summary = run_restore(config, archive, passphrase, echo=click.echo)
    except RestoreTargetNotEmpty as exc:
        raise click.ClickException(str(exc)) from None
    except ArchiveUnreadable:
        raise click.ClickException(
            "The passphrase is wrong, or the archive is damaged, altered, or from another "
            "Mailslot schema version. Nothing was restored."
        ) from None
    except errors.MailslotError as exc:
        raise click.ClickException(f"The restore failed and was undone: {exc}") from None
    rows = sum(summary.rows.values())
    click.echo(
        f"Restored {rows} row(s) and {summary.blobs} file(s) ({human_size(summary.bytes)}) "
        f"into {config.data_dir}, from a backup made by Mailslot {summary.mailslot}."
    )
    if summary.dropped:
        click.echo(f"The backup had left out {summary.dropped} item(s) deleted while it ran.")
    click.echo("Start it with `mailslot serve`, with the same settings as here.")
