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
from mailslot.cli.backup import (
    UNREADABLE,
    backup_failed,
    report_backup,
    report_restore,
    restore_failed,
)
from mailslot.cli.common import (
    _,
    cannot_create,
    echo_progress,
    message_of,
    no_such_org,
    open_runtime,
    shown,
)
from mailslot.config import Config

__all__ = ["OrgTarget", "backup_organisations", "restore_everything", "restore_organisation"]

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _echo_err(line: str) -> None:
    click.echo(shown(line), err=True)


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
        raise click.ClickException(
            _("No Mailslot install in %(directory)s.", directory=config.data_dir)
        )
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
            raise click.ClickException(no_such_org(slug))
        try:
            fd = os.open(out_path, _NEW_FILE, 0o600)
        except OSError as exc:
            raise click.ClickException(cannot_create(out_path, exc)) from None
        with os.fdopen(fd, "wb") as out:
            summary = backup_org(config, found, out, passphrase, now=now)
            out.flush()
            os.fsync(out.fileno())
        report_backup(out_path, summary)
    except (BackupError, errors.StorageError) as exc:
        _remove(out_path)
        raise click.ClickException(backup_failed(exc)) from None
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
            echo=echo_progress,
        )
    except ArchiveUnreadable:
        raise click.ClickException(_(UNREADABLE)) from None
    except (BackupError, OrgError) as exc:
        raise click.ClickException(message_of(exc)) from None
    except errors.MailslotError as exc:
        raise click.ClickException(restore_failed(exc)) from None
    finally:
        runtime.close()
    report_restore(summary, as_organisation(record.slug))
    hosts = [*record.source_hosts, *record.staff_hosts]
    click.echo(
        _("It answers on %(hosts)s.", hosts=", ".join(hosts))
        if hosts
        else _(
            "It claims no host yet: `mailslot orgs hosts %(slug)s --source-host … --staff-host …`.",
            slug=record.slug,
        )
    )


def as_organisation(slug: str) -> str:
    return _("as the organisation %(slug)s", slug=slug)


def restore_everything(config: Config, archive: Path, passphrase: str) -> None:
    """The whole install from ``backup --all``'s directory, into an empty install."""
    from mailslot.backup import ArchiveUnreadable, RestoreTargetNotEmpty
    from mailslot.backup.install import restore_install

    try:
        index, checked = restore_install(
            config, archive, passphrase, now=int(time.time()), echo=_echo_err
        )
    except RestoreTargetNotEmpty as exc:
        raise click.ClickException(message_of(exc)) from None
    except ArchiveUnreadable:
        raise click.ClickException(_(UNREADABLE)) from None
    except errors.MailslotError as exc:
        raise click.ClickException(restore_failed(exc)) from None
    for org, summary in zip(index.organisations, checked, strict=True):
        report_restore(summary, as_organisation(org.record.slug))
