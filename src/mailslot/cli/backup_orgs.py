"""``mailslot backup --org/--all`` and ``mailslot restore --org/--all``: organisations other
than the default, and the whole install (``mailslot.backup.orgs`` and ``.install``)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import click

from mailslot import errors
from mailslot.backup.orgs import OrgTarget
from mailslot.cli.backup import UNREADABLE, report_backup, report_restore
from mailslot.cli.common import open_runtime
from mailslot.config import Config

__all__ = ["OrgTarget", "backup_organisations", "restore_everything", "restore_organisation"]

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


def backup_organisations(config: Config, out_path: Path, passphrase: str, slug: str | None) -> None:
    """One organisation's archive (``slug``), or the whole install's directory (None)."""
    from mailslot.backup import BackupError
    from mailslot.backup.install import backup_install
    from mailslot.backup.orgs import backup_org
    from mailslot.orgs import placement
    from mailslot.orgs.registry import Registry

    if (
        not placement.postgresql(config)
        and not (config.data_dir / placement.REGISTRY_FILE).exists()
    ):
        raise click.ClickException(f"No Mailslot install in {config.data_dir}.")
    registry = Registry(placement.registry_engine(config))
    try:
        directory = registry.load()
    finally:
        registry.close()
    now = int(time.time())
    try:
        if slug is None:
            written = backup_install(
                config, directory, out_path, passphrase, now=now, echo=_echo_err
            )
            for record, name, summary in written:
                report_backup(out_path / name, summary, f" ({record.slug})")
            return
        found = directory.by_slug.get(slug)
        if found is None:
            raise click.ClickException(f"No organisation has the slug {slug!r}.")
        try:
            fd = os.open(out_path, _NEW_FILE, 0o600)
        except OSError as exc:
            raise click.ClickException(f"Cannot create {out_path}: {exc.strerror}.") from None
        with os.fdopen(fd, "wb") as out:
            summary = backup_org(config, found, out, passphrase, now=now)
            out.flush()
            os.fsync(out.fileno())
        report_backup(out_path, summary)
    except (BackupError, errors.StorageError) as exc:
        _remove(out_path)
        raise click.ClickException(f"The backup failed and was removed: {exc}") from None
    except BaseException:
        _remove(out_path)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def restore_organisation(
    ctx: click.Context, archive: Path, passphrase: str, target: OrgTarget
) -> None:
    """Add an organisation's archive to this (running) install, or replace one with it."""
    from mailslot.backup import ArchiveUnreadable, BackupError
    from mailslot.backup.orgs import restore_org
    from mailslot.orgs.errors import OrgError

    runtime = open_runtime(ctx)
    try:
        summary, record = restore_org(
            runtime.config,
            runtime.registry,
            archive,
            passphrase,
            target,
            now=int(time.time()),
            echo=click.echo,
        )
    except ArchiveUnreadable:
        raise click.ClickException(UNREADABLE) from None
    except (BackupError, OrgError) as exc:
        raise click.ClickException(str(exc)) from None
    except errors.MailslotError as exc:
        raise click.ClickException(f"The restore failed and was undone: {exc}") from None
    finally:
        runtime.close()
    report_restore(summary, f"as the organisation {record.slug}")
    hosts = [*record.source_hosts, *record.staff_hosts]
    click.echo(
        f"It answers on {', '.join(hosts)}."
        if hosts
        else f"It claims no host yet: `mailslot orgs hosts {record.slug} --source-host … "
        "--staff-host …`."
    )


def restore_everything(config: Config, archive: Path, passphrase: str) -> None:
    """The whole install from ``backup --all``'s directory, into an empty install."""
    from mailslot.backup import ArchiveUnreadable, RestoreTargetNotEmpty
    from mailslot.backup.install import restore_install

    try:
        index, checked = restore_install(
            config, archive, passphrase, now=int(time.time()), echo=_echo_err
        )
    except RestoreTargetNotEmpty as exc:
        raise click.ClickException(str(exc)) from None
    except ArchiveUnreadable:
        raise click.ClickException(UNREADABLE) from None
    except errors.MailslotError as exc:
        raise click.ClickException(f"The restore failed and was undone: {exc}") from None
    for org, summary in zip(index.organisations, checked, strict=True):
        report_restore(summary, f"as the organisation {org.record.slug}")
