"""The whole install: the host registry and every organisation, in one directory of archives.

Layout of the directory ``mailslot backup --all --out DIR`` makes (mode 0700, new)::

    DIR/install.msla   the index: the registry's organisations, sealed like an archive
    DIR/0001.msla      one ordinary archive per organisation, in the index's order
    DIR/0002.msla      ...

Every file is sealed with the same passphrase, and the key is derived once (one Argon2id
run for the whole install, ``write.Sealing``; each file still has its own id and stream
salt). The index's payload is one frame (``docs/backup.md``)::

    {"type": "install", "format": 1, "mailslot": VERSION, "created_at": HOUR,
     "organisations": [{"id", "slug", "name", "enabled", "storage_quota", "case_quota",
                        "created_at", "source_hosts", "staff_hosts", "archive",
                        "archive_id"}, ...]}

and names each organisation's file and that file's archive id (from its header), so that a
file swapped in from another backup is refused. File names are numbers: a listing of the
directory names no organisation. Each organisation's file is an ordinary archive that
``mailslot restore --org`` also takes on its own.

A restore of the whole install goes into an empty install only, after every file has been
checked; if it fails half way, what it wrote is removed again.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy import text

from mailslot import __version__, crypto
from mailslot.backup.errors import ArchiveUnreadable, NotEncodable
from mailslot.backup.format import (
    BackupSummary,
    check_count,
    check_keys,
    check_text,
    encode_frame,
    read_frame,
)
from mailslot.backup.orgs import backup_org, discard, fill_place
from mailslot.backup.read import Keys, Plaintext, check_all, read_key, reopen
from mailslot.backup.restore import RestoreSummary, check_target, rebuild, undo
from mailslot.backup.write import SealedOut, Sealing
from mailslot.config import Config
from mailslot.context import DEFAULT_ORG
from mailslot.db.base import coarse, make_engine
from mailslot.i18n import N_, LazyText
from mailslot.orgs import placement
from mailslot.orgs.errors import OrgError
from mailslot.orgs.registry import Directory, OrgRecord, Registry, check_host, check_slug

Echo = Callable[[str], None]
INDEX_FILE: Final = "install.msla"
INDEX_FORMAT: Final = 1
_NEW_FILE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_ARCHIVE: Final = re.compile(r"[0-9]{4,}\.msla")
_HEX_ID: Final = re.compile(r"[0-9a-f]{32}")
_VERSION: Final = re.compile(r"[0-9A-Za-z.+_-]{1,64}")
_NAME: Final = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_INDEX_KEYS: Final = frozenset({"type", "format", "mailslot", "created_at", "organisations"})
_ORG_KEYS: Final = frozenset(
    {"id", "slug", "name", "enabled", "storage_quota", "case_quota", "created_at",
     "source_hosts", "staff_hosts", "archive", "archive_id"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Archived:
    """One organisation in the index: its registry record and its archive."""

    record: OrgRecord
    archive: str
    archive_id: str


@dataclass(frozen=True, slots=True)
class Index:
    mailslot: str
    created_at: int
    organisations: tuple[Archived, ...]


# -- writing --------------------------------------------------------------------------------------


def _new_file(path: Path) -> IO[bytes]:
    return os.fdopen(os.open(path, _NEW_FILE, 0o600), "wb")


def _sync(out: IO[bytes]) -> None:
    out.flush()
    os.fsync(out.fileno())


def backup_install(
    config: Config,
    directory: Directory,
    out_dir: Path,
    passphrase: str,
    *,
    now: int,
    echo: Echo = lambda _: None,
) -> list[tuple[OrgRecord, str, BackupSummary]]:
    """Write the registry's index and every organisation's archive into ``out_dir``, a new
    directory. Raises ``BackupError`` or ``StorageError``; the caller removes ``out_dir``."""
    out_dir.mkdir(mode=0o700)
    sealing = Sealing.derive(passphrase)
    written: list[tuple[OrgRecord, str, BackupSummary]] = []
    entries = []
    total = len(directory.orgs)
    for number, record in enumerate(directory.orgs, start=1):
        line = N_("Backing up organisation %(number)s of %(total)s (%(slug)s)")
        echo(LazyText(line, number=number, total=total, slug=record.slug))
        name = f"{number:04d}.msla"
        with _new_file(out_dir / name) as out:
            summary = backup_org(config, record, out, passphrase, now=now, sealing=sealing)
            _sync(out)
        with (out_dir / name).open("rb") as written_file:
            archive_id = crypto.read_backup_header(written_file).archive_id.hex()
        written.append((record, name, summary))
        entries.append(_entry(record, name, archive_id))
    index = {
        "type": "install",
        "format": INDEX_FORMAT,
        "mailslot": __version__,
        "created_at": coarse(now),
        "organisations": entries,
    }
    with _new_file(out_dir / INDEX_FILE) as out:
        try:
            sink = SealedOut(out, sealing.header(), sealing.key)
            sink.write(encode_frame(index))
            sink.finish()
        except crypto.EncodingError as exc:
            raise NotEncodable(str(exc)) from exc
        _sync(out)
    return written


def _entry(record: OrgRecord, archive: str, archive_id: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "slug": record.slug,
        "name": record.name,
        "enabled": record.enabled,
        "storage_quota": record.storage_quota,
        "case_quota": record.case_quota,
        "created_at": record.created_at,
        "source_hosts": list(record.source_hosts),
        "staff_hosts": list(record.staff_hosts),
        "archive": archive,
        "archive_id": archive_id,
    }


# -- reading --------------------------------------------------------------------------------------


def read_index(path: Path, keys: Keys) -> Index:
    """Decrypt and check the index strictly; anything wrong is ``ArchiveUnreadable``."""
    with path.open("rb") as source:
        header, key = read_key(source, keys)
        payload = Plaintext(source, crypto.backup_opener(header, key))
        obj = check_keys(read_frame(payload), _INDEX_KEYS)
        if not payload.at_end():
            raise ArchiveUnreadable()
    if obj["type"] != "install" or check_count(obj["format"]) != INDEX_FORMAT:
        raise ArchiveUnreadable()
    listed = obj["organisations"]
    if type(listed) is not list or not listed:
        raise ArchiveUnreadable()
    organisations = tuple(_archived(entry) for entry in listed)
    slugs = [org.record.slug for org in organisations]
    hosts = [h for o in organisations for h in (*o.record.source_hosts, *o.record.staff_hosts)]
    files = [org.archive for org in organisations]
    ids = [org.record.id for org in organisations]
    if slugs.count(DEFAULT_ORG) != 1 or any(
        len(set(values)) != len(values) for values in (slugs, hosts, files, ids)
    ):
        raise ArchiveUnreadable()
    return Index(
        mailslot=check_text(obj["mailslot"], _VERSION),
        created_at=check_count(obj["created_at"]),
        organisations=organisations,
    )


def _quota(value: Any) -> int | None:
    return None if value is None else check_count(value)


def _hosts(value: Any) -> tuple[str, ...]:
    if type(value) is not list:
        raise ArchiveUnreadable()
    try:
        return tuple(check_host(check_text(host, _NAME)) for host in value)
    except OrgError:
        raise ArchiveUnreadable() from None


def _archived(entry: Any) -> Archived:
    if type(entry) is not dict:
        raise ArchiveUnreadable()
    check_keys(entry, _ORG_KEYS)
    if type(entry["enabled"]) is not bool:
        raise ArchiveUnreadable()
    try:
        slug = check_slug(check_text(entry["slug"], _NAME))
    except OrgError:
        raise ArchiveUnreadable() from None
    record = OrgRecord(
        id=check_text(entry["id"], _HEX_ID),
        slug=slug,
        name=check_text(entry["name"], _NAME),
        enabled=entry["enabled"],
        instance_id=0,  # its database's own, read after the restore
        storage_quota=_quota(entry["storage_quota"]),
        case_quota=_quota(entry["case_quota"]),
        created_at=check_count(entry["created_at"]),
        source_hosts=_hosts(entry["source_hosts"]),
        staff_hosts=_hosts(entry["staff_hosts"]),
    )
    return Archived(
        record, check_text(entry["archive"], _ARCHIVE), check_text(entry["archive_id"], _HEX_ID)
    )


def verify_install(
    path: Path, keys: Keys, echo: Echo = lambda _: None
) -> tuple[Index, list[RestoreSummary]]:
    """Check the index and every archive it names, writing nothing; what each holds."""
    index = read_index(path / INDEX_FILE, keys)
    total = len(index.organisations)
    checked = []
    for number, org in enumerate(index.organisations, start=1):
        line = N_("Checking organisation %(number)s of %(total)s (%(slug)s)")
        echo(LazyText(line, number=number, total=total, slug=org.record.slug))
        checked.append(_check_archive(path / org.archive, org, keys))
    return index, checked


def _check_archive(path: Path, org: Archived, keys: Keys) -> RestoreSummary:
    try:
        source = path.open("rb")
    except OSError:
        raise ArchiveUnreadable() from None
    with source:
        header, key = read_key(source, keys)
    if header.archive_id.hex() != org.archive_id:
        raise ArchiveUnreadable()
    manifest, checked = check_all(reopen(path, header, key))
    return RestoreSummary(
        rows=checked.rows,
        blobs=checked.blobs,
        bytes=checked.bytes,
        dropped=checked.dropped,
        created_at=checked.created_at,
        mailslot=manifest.mailslot,
    )


# -- restoring ------------------------------------------------------------------------------------


def restore_install(
    config: Config, path: Path, passphrase: str, *, now: int, echo: Echo = lambda _: None
) -> tuple[Index, list[RestoreSummary]]:
    """Restore a whole install's directory into an empty install: every file is checked
    first; then the default organisation, the registry and every other organisation (same
    ids, slugs, names, hosts, quotas and state). A failure half way removes what was made."""
    check_target(config)
    keys = Keys(passphrase)
    echo(LazyText(N_("Checking the archives (nothing is written yet)…")))
    index, checked = verify_install(path, keys, echo)
    echo(LazyText(N_("Every archive is complete and intact. Restoring…")))
    check_target(config)  # again: time has passed
    created_dir = not config.data_dir.exists()
    default = next(org for org in index.organisations if org.record.is_default)
    with (path / default.archive).open("rb") as source:
        header, key = read_key(source, keys)
    rebuild(config, reopen(path / default.archive, header, key))
    registry = Registry(placement.registry_engine(config))
    made: list[str] = []
    try:
        registry.ensure(now)
        _set_place(registry, default.record)
        for org in index.organisations:
            if org.record.is_default:
                continue
            echo(LazyText(N_("Restoring %(slug)s"), slug=org.record.slug))
            made.append(org.record.id)
            instance_id, _name = fill_place(
                config, registry, org.record.id, path / org.archive, keys
            )
            registry.add(
                org.record.id,
                org.record.slug,
                org.record.name,
                instance_id=instance_id,
                source_hosts=(),
                staff_hosts=(),
                now=org.record.created_at,
            )
            _set_place(registry, org.record)
    except BaseException:
        _undo_install(config, registry, made, created_dir)
        raise
    finally:
        registry.close()
    return index, checked


def _set_place(registry: Registry, record: OrgRecord) -> None:
    registry.set_hosts(
        record.slug, source_hosts=list(record.source_hosts), staff_hosts=list(record.staff_hosts)
    )
    registry.set_quota(record.slug, storage=record.storage_quota, cases=record.case_quota)
    if not record.enabled:
        registry.set_enabled(record.slug, False)


def _undo_install(config: Config, registry: Registry, made: list[str], created_dir: bool) -> None:
    for org_id in made:
        with contextlib.suppress(Exception):
            discard(config, registry, org_id)
    if placement.postgresql(config):
        with contextlib.suppress(Exception), registry.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{placement.REGISTRY_SCHEMA}" CASCADE'))
    registry.close()
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{config.data_dir / placement.REGISTRY_FILE}{suffix}")
    shutil.rmtree(config.data_dir / placement.ORGS_DIR, ignore_errors=True)
    undo(config, make_engine(config.resolved_database_url), created_dir)
