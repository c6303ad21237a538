"""The host registry: which organisations exist, their hosts, quotas and state.

:class:`Registry` reads and changes it (each change in one transaction that also increments
the registry's generation); :class:`Directory` is an immutable snapshot of it that a process
keeps in memory and swaps whole when the generation moves, so that resolving a request's
``Host`` is two dictionary look-ups and no query.

On first use the registry is created with the default organisation in it: the data that a
single-organisation install always had (see ``placement``), so an install upgrades in place.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from mailslot.context import DEFAULT_ORG
from mailslot.db.base import insert_ignoring_conflict, unit_of_work
from mailslot.errors import ConfigError
from mailslot.orgs.errors import OrgError, RegistryConflict, UnknownOrganisation
from mailslot.orgs.models import Organisation, OrganisationHost, RegistryBase, RegistryState
from mailslot.orgs.operator_models import (  # their tables are created here too
    OperatorEvent,
    OrganisationUsage,
)
from mailslot.orgs.placement import REGISTRY_SCHEMA
from mailslot.tor import SOURCE, STAFF

# 2: organisation_hosts.position (host names keep the order they were given in).
VERSION: Final = 2
DEFAULT_NAME: Final = "Default organisation"
DAY: Final = 86400
KINDS: Final = (SOURCE, STAFF)
_SLUG: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalise_host(value: str) -> str:
    """A ``Host`` header as the registry compares it: lower case, no port, no final dot."""
    host = value.strip().lower()
    if host.startswith("["):  # an IPv6 literal, "[::1]:8080"
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def check_host(value: str) -> str:
    """A host name an organisation may claim (a DNS name, an onion name or an IPv4 address),
    normalised; raises :class:`OrgError` otherwise."""
    host = normalise_host(value)
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise OrgError(f"{value!r} is not a host name (letters, digits, hyphens and dots).")
    return host


def check_slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise OrgError(
            f"{value!r} is not a slug: 1 to 63 lower-case letters, digits and inner hyphens."
        )
    return value


@dataclass(frozen=True, slots=True)
class OrgRecord:
    """One organisation as the registry holds it."""

    id: str
    slug: str
    name: str
    enabled: bool
    instance_id: int
    storage_quota: int | None
    case_quota: int | None
    created_at: int
    source_hosts: tuple[str, ...] = ()
    staff_hosts: tuple[str, ...] = ()

    @property
    def is_default(self) -> bool:
        return self.slug == DEFAULT_ORG

    @classmethod
    def of(cls, org: Organisation, claimed: Mapping[str, Sequence[str]]) -> OrgRecord:
        """The record of a registry row, with the host names it claims by kind (in the order
        they were given)."""
        return cls(
            id=org.id,
            slug=org.slug,
            name=org.name,
            enabled=org.enabled,
            instance_id=org.instance_id,
            storage_quota=org.storage_quota,
            case_quota=org.case_quota,
            created_at=org.created_at,
            source_hosts=tuple(claimed[SOURCE]),
            staff_hosts=tuple(claimed[STAFF]),
        )


@dataclass(frozen=True)
class Directory:
    """A snapshot of the registry, for resolving requests without a query."""

    generation: int
    orgs: tuple[OrgRecord, ...]
    by_slug: Mapping[str, OrgRecord] = field(init=False, repr=False)
    by_id: Mapping[str, OrgRecord] = field(init=False, repr=False)
    _hosts: Mapping[tuple[str, str], OrgRecord] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        hosts = {}
        for org in self.orgs:
            hosts.update({(SOURCE, host): org for host in org.source_hosts})
            hosts.update({(STAFF, host): org for host in org.staff_hosts})
        object.__setattr__(self, "by_slug", {org.slug: org for org in self.orgs})
        object.__setattr__(self, "by_id", {org.id: org for org in self.orgs})
        object.__setattr__(self, "_hosts", hosts)

    @property
    def single(self) -> bool:
        """Only the default organisation exists: it serves every host, as before."""
        return len(self.orgs) == 1 and self.orgs[0].is_default

    def resolve(self, host: str, kind: str) -> OrgRecord | None:
        """The enabled organisation that claims ``host`` for its ``kind`` interface."""
        if self.single:
            return self.orgs[0]
        found = self._hosts.get((kind, normalise_host(host)))
        return found if found is not None and found.enabled else None


class Registry:
    """The registry's tables, on their own engine (see ``placement.registry_engine``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)

    @property
    def postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    # Creation.

    def ensure(self, now: int) -> None:
        """Create the registry if it does not exist, with the default organisation in it.
        Safe to run from several processes at once."""
        for attempt in range(3):
            try:
                self._ensure(now)
                return
            except DBAPIError:  # another process created it at the same moment
                if attempt == 2:
                    raise

    def _ensure(self, now: int) -> None:
        with self.engine.begin() as connection:
            if self.postgresql:
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"),
                                   {"name": REGISTRY_SCHEMA})  # fmt: skip
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{REGISTRY_SCHEMA}"'))
            RegistryBase.metadata.create_all(connection)
            dialect = connection.dialect.name
            connection.execute(
                insert_ignoring_conflict(
                    dialect, RegistryState.__table__, {"id": 1, "version": VERSION,
                                                       "generation": 1}, ["id"]
                )
            )  # fmt: skip
            version = connection.execute(select(RegistryState.version)).scalar_one()
            if version > VERSION:
                raise ConfigError("The host registry was made by a newer Mailslot; upgrade it.")
            if version < 2:  # names claimed before it keep their alphabetical order
                schema = f'"{REGISTRY_SCHEMA}".' if self.postgresql else ""
                table = f"{schema}organisation_hosts"
                connection.execute(
                    text(f"ALTER TABLE {table} ADD COLUMN position INTEGER NOT NULL DEFAULT 0")
                )
                connection.execute(update(RegistryState).values(version=VERSION))
            connection.execute(
                insert_ignoring_conflict(
                    dialect,
                    Organisation.__table__,
                    {"id": secrets.token_hex(16), "slug": DEFAULT_ORG, "name": DEFAULT_NAME,
                     "enabled": True, "instance_id": 1, "created_at": now - now % DAY},
                    ["slug"],
                )
            )  # fmt: skip

    # Reading.

    def generation(self) -> int:
        with self.engine.connect() as connection:
            value = connection.execute(select(RegistryState.generation)).scalar_one()
        return int(value)

    def load(self) -> Directory:
        with unit_of_work(self._factory) as db:
            generation = int(db.execute(select(RegistryState.generation)).scalar_one())
            hosts: dict[str, dict[str, list[str]]] = {}
            ordered = select(OrganisationHost).order_by(
                OrganisationHost.position, OrganisationHost.host
            )
            for row in db.scalars(ordered):
                hosts.setdefault(row.org_id, {SOURCE: [], STAFF: []})[row.kind].append(row.host)
            orgs = []
            for org in db.scalars(select(Organisation).order_by(Organisation.slug)):
                orgs.append(OrgRecord.of(org, hosts.get(org.id, {SOURCE: [], STAFF: []})))
        return Directory(generation, tuple(orgs))

    def get(self, slug: str) -> OrgRecord:
        found = self.load().by_slug.get(slug)
        if found is None:
            raise UnknownOrganisation(slug)
        return found

    # Changes: each one transaction, each moving the generation on.

    def _change(self, db: Session) -> None:
        db.execute(update(RegistryState).values(generation=RegistryState.generation + 1))

    def _org(self, db: Session, slug: str) -> Organisation:
        org = db.scalar(select(Organisation).where(Organisation.slug == slug).with_for_update())
        if org is None:
            raise UnknownOrganisation(slug)
        return org

    def _claim(self, db: Session, org_id: str, kind: str, hosts: Iterable[str]) -> None:
        """Claim ``hosts`` in the order given: the first is the organisation's own (links)."""
        for position, host in enumerate(hosts):
            owner = db.scalar(
                select(OrganisationHost.org_id).where(OrganisationHost.host == host).limit(1)
            )
            if owner is not None and owner != org_id:
                raise RegistryConflict(f"Another organisation claims {host}.")
            if db.get(OrganisationHost, (host, kind)) is None:
                db.add(OrganisationHost(host=host, kind=kind, org_id=org_id, position=position))
        db.flush()

    def add(
        self,
        org_id: str,
        slug: str,
        name: str,
        *,
        instance_id: int,
        source_hosts: Iterable[str],
        staff_hosts: Iterable[str],
        now: int,
    ) -> None:
        with unit_of_work(self._factory) as db:
            if db.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
                raise RegistryConflict(f"The slug {slug!r} is taken.")
            db.add(
                Organisation(
                    id=org_id,
                    slug=slug,
                    name=name,
                    enabled=True,
                    instance_id=instance_id,
                    created_at=now - now % DAY,
                )
            )
            db.flush()
            self._claim(db, org_id, SOURCE, source_hosts)
            self._claim(db, org_id, STAFF, staff_hosts)
            self._change(db)

    def set_enabled(self, slug: str, enabled: bool) -> None:
        with unit_of_work(self._factory) as db:
            org = self._org(db, slug)
            if org.slug == DEFAULT_ORG and not enabled:
                raise RegistryConflict("The default organisation cannot be disabled.")
            org.enabled = enabled
            self._change(db)

    def set_quota(self, slug: str, *, storage: int | None, cases: int | None) -> None:
        with unit_of_work(self._factory) as db:
            org = self._org(db, slug)
            org.storage_quota = storage
            org.case_quota = cases
            self._change(db)

    def set_hosts(self, slug: str, *, source_hosts: list[str], staff_hosts: list[str]) -> None:
        """Replace the hosts an organisation claims."""
        with unit_of_work(self._factory) as db:
            org = self._org(db, slug)
            db.execute(delete(OrganisationHost).where(OrganisationHost.org_id == org.id))
            db.flush()
            self._claim(db, org.id, SOURCE, source_hosts)
            self._claim(db, org.id, STAFF, staff_hosts)
            self._change(db)

    def delete(self, slug: str) -> None:
        with unit_of_work(self._factory) as db:
            org = self._org(db, slug)
            if org.slug == DEFAULT_ORG:
                raise RegistryConflict("The default organisation cannot be removed.")
            db.execute(delete(OrganisationHost).where(OrganisationHost.org_id == org.id))
            db.execute(delete(OrganisationUsage).where(OrganisationUsage.org_id == org.id))
            # Its slug goes from the operator log too: nothing of it stays in the registry.
            db.execute(update(OperatorEvent).where(OperatorEvent.org == slug).values(org=""))
            db.delete(org)
            self._change(db)
