"""The host operator's use cases: adding, listing, disabling, enabling, removing an
organisation, and setting its quotas and hosts (``mailslot orgs``).

The operator works on the registry and on each organisation's database as a whole (create,
migrate, count, shred, drop); nothing here reads a case, an item, a name of a person or a
label. What :func:`list_orgs` reports is counts and bytes. Each function is blocking.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import sessionmaker

from mailslot.cases.models import CaseKeyWrap, Item, ItemKeyWrap
from mailslot.config import Config
from mailslot.db.base import make_engine, shred_on_commit, unit_of_work
from mailslot.db.models import Base
from mailslot.identity.models import Identity, IdentityKeyWrap, IdentityRequest
from mailslot.instance.services import MAX_NAME, ensure_instance
from mailslot.orgs import placement
from mailslot.orgs.errors import OrgError, RegistryConflict
from mailslot.orgs.quotas import Usage
from mailslot.orgs.registry import OrgRecord, Registry, check_host, check_slug
from mailslot.orgs.usage import Figures, measure, store
from mailslot.questionnaires.models import QuestionnaireDraftFile
from mailslot.recipients.models import User
from mailslot.recipients.services import ensure_setup_link
from mailslot.sessions.models import Session as StoredSession
from mailslot.text import plain_text


@dataclass(frozen=True, slots=True)
class Added:
    """A new organisation, and the one-time link that creates its first admin."""

    id: str
    slug: str
    name: str
    source_hosts: tuple[str, ...]
    staff_hosts: tuple[str, ...]
    setup_link: str


@dataclass(frozen=True, slots=True)
class Listed:
    """An organisation as the operator sees it: the registry's record and counts."""

    record: OrgRecord
    usage: Usage
    staff: int


def _hosts(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(check_host(value) for value in values))


def check_name(value: str) -> str:
    """An organisation's name as the registry keeps it: plain text, one line, not too long."""
    name = " ".join(plain_text(value).split())
    if not name or len(name) > MAX_NAME:
        raise OrgError(f"A name has 1 to {MAX_NAME} characters.")
    return name


def add(
    config: Config,
    registry: Registry,
    *,
    slug: str,
    name: str,
    source_hosts: Iterable[str] = (),
    staff_hosts: Iterable[str] = (),
    now: int,
) -> Added:
    """Create an organisation: its place (directory, schema) with its database at the head
    revision (a copy of a template, ``orgs/templates.py``), its instance (named ``name``)
    and a setup link for its first admin; then list it in the registry, so that it is
    served only once it is complete. If anything fails, what was made is removed again."""
    slug, name = check_slug(slug), check_name(name)
    sources, staff = _hosts(source_hosts), _hosts(staff_hosts)
    directory = registry.load()
    if slug in directory.by_slug:
        raise RegistryConflict(f"The slug {slug!r} is taken.")
    claimed = {host for org in directory.orgs for host in (*org.source_hosts, *org.staff_hosts)}
    if taken := sorted(claimed & {*sources, *staff}):
        raise RegistryConflict(f"Another organisation claims {', '.join(taken)}.")
    org_id = secrets.token_hex(16)
    placement.create(config, registry.engine, org_id)  # at the head revision, or nothing
    try:
        engine = placement.engine(config, org_id)
        try:
            with unit_of_work(sessionmaker(engine, expire_on_commit=False)) as db:
                instance = ensure_instance(db, config.kdf, now)
                instance.name = name
                instance_id = instance.id
                token = ensure_setup_link(db, now, config.setup_token_lifetime)
        finally:
            engine.dispose()
        registry.add(
            org_id,
            slug,
            name,
            instance_id=instance_id,
            source_hosts=sources,
            staff_hosts=staff,
            now=now,
        )
    except BaseException:
        placement.destroy(config, registry.engine, org_id)
        raise
    store(registry, {org_id: Figures(Usage(0, 0, 0), 0, now - now % 60)})
    link = f"{placement.staff_url(config, staff)}/setup/{token}"
    return Added(org_id, slug, name, tuple(sources), tuple(staff), link)


def _engine(config: Config, record: OrgRecord) -> Engine:
    if record.is_default:
        return make_engine(config.resolved_database_url, pool_size=1)
    return placement.engine(config, record.id)


def measure_org(config: Config, record: OrgRecord, now: int) -> Figures:
    """One organisation's counts, live: its database is opened for them."""
    engine = _engine(config, record)
    try:
        with unit_of_work(sessionmaker(engine)) as db:
            return measure(db, now)
    finally:
        engine.dispose()


def list_orgs(config: Config, registry: Registry, now: int) -> list[Listed]:
    """Every organisation with its counts (cases, items, staff accounts) and the bytes its
    items take, counted live (each database is opened) and kept in the registry for the
    operator's pages: nothing about any case, person or content."""
    listed, measured = [], {}
    for record in registry.load().orgs:
        figures = measured[record.id] = measure_org(config, record, now)
        listed.append(Listed(record, figures.usage, figures.staff))
    store(registry, measured)
    return listed


def set_enabled(registry: Registry, slug: str, enabled: bool) -> None:
    """A disabled organisation answers no request (a plain 404 on every host it claims); its
    data stays, and enabling it again serves it as before."""
    registry.set_enabled(check_slug(slug), enabled)


def set_quota(registry: Registry, slug: str, *, storage: int | None, cases: int | None) -> None:
    """Set both quotas (None or 0: no limit)."""
    if (storage is not None and storage < 0) or (cases is not None and cases < 0):
        raise OrgError("A quota cannot be negative (0: no limit).")
    registry.set_quota(check_slug(slug), storage=storage or None, cases=cases or None)


def set_hosts(
    registry: Registry, slug: str, *, source_hosts: Iterable[str], staff_hosts: Iterable[str]
) -> None:
    """Replace the host names an organisation claims."""
    registry.set_hosts(
        check_slug(slug), source_hosts=_hosts(source_hosts), staff_hosts=_hosts(staff_hosts)
    )


def shred(engine: Engine) -> list[str]:
    """Destroy an organisation's database contents in one unit of work: every key wrap first
    (crypto-shredding: without them no sealed byte anywhere can be opened), then every row;
    returns the blob ids its rows named (items, identities, questionnaire drafts' files). The
    key pass also empties each identity request's reason key wrap. On SQLite,
    ``secure_delete`` zeroes the freed pages and the write-ahead log is emptied after the
    commit (``shred_on_commit``)."""
    with unit_of_work(sessionmaker(engine)) as db:
        blob_ids = [
            *db.scalars(select(Item.blob_id)),
            *db.scalars(select(Identity.blob_id)),
            *db.scalars(select(QuestionnaireDraftFile.blob_id)),
        ]
        for model in (ItemKeyWrap, IdentityKeyWrap, CaseKeyWrap, StoredSession):
            db.execute(delete(model))
        db.execute(update(IdentityRequest).values(reason_key_wrap=b""))
        db.execute(
            update(User).values(private_key_password_wrap=None, private_key_recovery_wrap=None)
        )
        for table in reversed(Base.metadata.sorted_tables):
            db.execute(table.delete())
        shred_on_commit(db)
    return blob_ids


def remove(config: Config, registry: Registry, slug: str) -> OrgRecord:
    """Remove an organisation and everything of it: disabled first (no process serves it
    from the next registry refresh), then its key wraps and rows (:func:`shred`), its blobs,
    its database or schema, directory and tor directory, and last its registry row."""
    record = registry.get(check_slug(slug))
    if record.is_default:
        raise RegistryConflict("The default organisation cannot be removed.")
    if record.enabled:
        registry.set_enabled(slug, False)
    engine = placement.engine(config, record.id)
    try:
        blob_ids = shred(engine)
    finally:
        engine.dispose()
    blobs = placement.blob_store(config, record.id)
    for blob_id in blob_ids:
        blobs.delete(blob_id)
    # And whatever no row named any more (a write cut short, a deletion interrupted).
    listing = getattr(blobs, "blob_ids", None)
    for blob_id in list(listing()) if callable(listing) else []:
        blobs.delete(blob_id)
    blobs.cleanup_incomplete()
    placement.destroy(config, registry.engine, record.id)
    registry.delete(slug)
    return record
