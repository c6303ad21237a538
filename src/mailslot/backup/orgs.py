"""One organisation's archive: written from its own database and blobs, and restored into a
running install as a new organisation or in place of one.

An organisation's archive is an ordinary archive (the format does not change): what the
default organisation's ``mailslot backup`` always wrote, so an archive made before there were
organisations restores as an organisation too. Restoring one checks the whole archive first,
then fills a new place (a new id: directory, database or schema, blobs) and only then lists it
in the registry, so that no request reaches it half made. Replacing an organisation removes
the old one (crypto-shredding it, as ``mailslot orgs remove`` does) once the new one is
complete, and gives the new one its hosts and quotas.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mailslot.backup.errors import BackupError, RestoreConflict
from mailslot.backup.format import BackupSummary
from mailslot.backup.read import Keys, check_all, read_key, reopen
from mailslot.backup.restore import CHECKING, INTACT, RestoreSummary, fill
from mailslot.backup.write import Sealing, write_backup
from mailslot.config import Config
from mailslot.db.base import make_engine
from mailslot.db.migrate import HEAD, stored_revision
from mailslot.i18n import N_, LazyText
from mailslot.instance.models import Instance
from mailslot.orgs import operator, placement
from mailslot.orgs.errors import OrgError
from mailslot.orgs.registry import Directory, OrgRecord, Registry, check_host, check_slug
from mailslot.storage import BlobStore, open_blob_store

Echo = Callable[[str], None]


def org_engine(config: Config, record: OrgRecord) -> Engine:
    if record.is_default:
        return make_engine(config.resolved_database_url, pool_size=1)
    return placement.engine(config, record.id)


def org_blobs(config: Config, record: OrgRecord) -> BlobStore:
    return open_blob_store(config) if record.is_default else placement.blob_store(config, record.id)


def backup_org(
    config: Config,
    record: OrgRecord,
    out: IO[bytes],
    passphrase: str,
    *,
    now: int,
    sealing: Sealing | None = None,
) -> BackupSummary:
    """Write one organisation's archive to ``out`` (see ``write.write_backup``)."""
    engine = org_engine(config, record)
    try:
        revision = stored_revision(engine)
        if revision != HEAD:
            raise BackupError(
                LazyText(
                    N_(
                        "The database of %(slug)s is at schema revision %(revision)s, and this "
                        "Mailslot writes backups of revision %(head)s. Run `mailslot migrate` "
                        "first."
                    ),
                    slug=record.slug,
                    revision=revision,
                    head=HEAD,
                )
            )
        return write_backup(
            engine, org_blobs(config, record), out, passphrase, now=now, sealing=sealing
        )
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class OrgTarget:
    """Where an organisation's archive goes: its slug, and optionally its name and hosts
    (by default the instance's name in the archive, and the hosts of the one it replaces)."""

    slug: str
    name: str = ""
    source_hosts: tuple[str, ...] = ()
    staff_hosts: tuple[str, ...] = ()
    replace: bool = False


def _checked(directory: Directory, target: OrgTarget) -> tuple[OrgTarget, OrgRecord | None]:
    """The target with its slug and hosts checked against the registry; the organisation it
    replaces, if any. Raises :class:`RestoreConflict`."""
    try:
        slug = check_slug(target.slug)
        sources = tuple(dict.fromkeys(check_host(host) for host in target.source_hosts))
        staff = tuple(dict.fromkeys(check_host(host) for host in target.staff_hosts))
    except OrgError as exc:
        raise RestoreConflict(str(exc)) from None
    existing = directory.by_slug.get(slug)
    if existing is not None and existing.is_default:
        raise RestoreConflict(
            LazyText(
                N_(
                    "The default organisation is restored only into an empty install "
                    "(`mailslot restore` without --org); restore this archive under another "
                    "slug."
                )
            )
        )
    if existing is not None and not target.replace:
        raise RestoreConflict(
            LazyText(
                N_(
                    "The slug %(slug)s is taken. Give --replace to replace that organisation "
                    "with the archive, or choose another slug."
                ),
                slug=repr(slug),
            )
        )
    if existing is not None and not sources and not staff:
        sources, staff = existing.source_hosts, existing.staff_hosts
    others = [org for org in directory.orgs if org is not existing]
    claimed = {host for org in others for host in (*org.source_hosts, *org.staff_hosts)}
    if taken := sorted(claimed & {*sources, *staff}):
        claimed_here = LazyText(
            N_("Another organisation claims %(hosts)s."), hosts=", ".join(taken)
        )
        raise RestoreConflict(claimed_here)
    checked = OrgTarget(slug, target.name, sources, staff, target.replace)
    return checked, existing


def _instance(engine: Engine) -> tuple[int, str]:
    with Session(engine) as db:
        instance = db.execute(select(Instance.id, Instance.name)).one()
    return int(instance.id), str(instance.name)


def fill_place(
    config: Config, registry: Registry, org_id: str, path: Path, keys: Keys
) -> tuple[int, str]:
    """Make an organisation's place and restore an archive (checked before) into it; its
    instance's id and name. What it made is removed again if it fails."""
    with path.open("rb") as source:
        header, key = read_key(source, keys)
    placement.create(config, registry.engine, org_id)
    try:
        engine = placement.engine(config, org_id)
        try:
            fill(engine, placement.blob_store(config, org_id), reopen(path, header, key))
            return _instance(engine)
        finally:
            engine.dispose()
    except BaseException:
        discard(config, registry, org_id)
        raise


def discard(config: Config, registry: Registry, org_id: str) -> None:
    """Remove a place a restore made: its blobs (in a bucket, a directory's removal would
    not take them), then what ``placement.create`` made."""
    with contextlib.suppress(Exception):
        blobs = placement.blob_store(config, org_id)
        listing = getattr(blobs, "blob_ids", None)
        for blob_id in list(listing()) if callable(listing) else []:
            blobs.delete(blob_id)
        blobs.cleanup_incomplete()
    placement.destroy(config, registry.engine, org_id)


def restore_org(
    config: Config,
    registry: Registry,
    path: Path,
    passphrase: str | Keys,
    target: OrgTarget,
    *,
    now: int,
    echo: Echo = lambda _: None,
) -> tuple[RestoreSummary, OrgRecord]:
    """Restore an organisation's archive into this install under ``target.slug``: checked
    completely first, then filled into a new place, then (after removing the organisation it
    replaces) listed in the registry. Raises :class:`RestoreConflict` before reading the
    archive, and ``ArchiveUnreadable`` before writing anything."""
    target, existing = _checked(registry.load(), target)
    keys = passphrase if isinstance(passphrase, Keys) else Keys(passphrase)
    with path.open("rb") as source:
        header, key = read_key(source, keys)
    echo(CHECKING)
    manifest, checked = check_all(reopen(path, header, key))
    echo(INTACT)
    org_id = secrets.token_hex(16)
    instance_id, instance_name = fill_place(config, registry, org_id, path, keys)
    try:
        target, existing = _checked(registry.load(), target)  # again: time has passed
        if existing is not None:
            removing = N_("Removing the organisation it replaces (%(slug)s)…")
            echo(LazyText(removing, slug=existing.slug))
            operator.remove(config, registry, existing.slug)
        registry.add(
            org_id,
            target.slug,
            operator.check_name(target.name or instance_name),
            instance_id=instance_id,
            source_hosts=target.source_hosts,
            staff_hosts=target.staff_hosts,
            now=now,
        )
        if existing is not None:
            registry.set_quota(
                target.slug, storage=existing.storage_quota, cases=existing.case_quota
            )
    except BaseException:
        listed = registry.load().by_slug.get(target.slug)
        replaced = existing is not None and listed is None  # kept: the old one is gone
        if not replaced and (listed is None or listed.id != org_id):
            discard(config, registry, org_id)
        raise
    summary = RestoreSummary(
        rows=checked.rows,
        blobs=checked.blobs,
        bytes=checked.bytes,
        dropped=checked.dropped,
        created_at=checked.created_at,
        mailslot=manifest.mailslot,
    )
    return summary, registry.get(target.slug)
