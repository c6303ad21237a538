"""Each organisation's usage (cases, items, stored bytes, staff accounts) as the host registry
keeps it, and the operator's list of organisations read from the registry alone.

Counting means opening an organisation's database; with a thousand organisations, a list
that counted on every page view would open a thousand. So the figures are measured where an
organisation's database is open anyway: by the background round (``jobs.run_round``), for
each organisation whose figures are older than :data:`MEASURE_EVERY`, written to the
registry in one transaction per round; by ``mailslot orgs list``, which counts live; and by
the operator's page of one organisation. The list shows them with the time they were
measured (to the minute). Like the rest of the operator's view, they are counts and bytes:
nothing of a case, a person or content.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from mailslot.db.base import unit_of_work
from mailslot.orgs.models import Organisation, OrganisationHost
from mailslot.orgs.operator_models import OrganisationUsage
from mailslot.orgs.quotas import Usage, usage
from mailslot.orgs.registry import OrgRecord, Registry
from mailslot.recipients.models import User
from mailslot.tor import SOURCE, STAFF

# Seconds: how stale the figures may grow before the background round measures them again.
MEASURE_EVERY: Final = 600
PER_PAGE: Final = 50


@dataclass(frozen=True, slots=True)
class Figures:
    """An organisation's usage, and when it was measured (to the minute)."""

    usage: Usage
    staff: int
    measured_at: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the operator's list: the registry's record and its last figures, if any."""

    record: OrgRecord
    figures: Figures | None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the operator's list, and how many organisations match in all."""

    entries: list[Entry]
    total: int
    number: int
    pages: int


def measure(db: Session, now: int) -> Figures:
    """Count one organisation's usage, in a unit of work on its own database."""
    staff = db.scalar(select(func.count()).select_from(User)) or 0
    return Figures(usage(db), int(staff), now - now % 60)


def store(registry: Registry, measured: Mapping[str, Figures]) -> None:
    """Keep the figures of these organisations (by id), in one transaction on the registry.
    An organisation removed meanwhile is skipped. The registry's generation does not move:
    usage is no reason for a process to reload the registry."""
    if not measured:
        return
    with unit_of_work(sessionmaker(registry.engine)) as db:
        known = set(db.scalars(select(Organisation.id).where(Organisation.id.in_(measured))))
        db.execute(delete(OrganisationUsage).where(OrganisationUsage.org_id.in_(known)))
        db.add_all(
            OrganisationUsage(
                org_id=org_id,
                cases=figures.usage.cases,
                items=figures.usage.items,
                stored_bytes=figures.usage.stored_bytes,
                staff=figures.staff,
                measured_at=figures.measured_at,
            )
            for org_id, figures in measured.items()
            if org_id in known
        )


def due(registry: Registry, now: int) -> dict[str, str]:
    """The organisations (slug to id) whose figures are missing or older than
    :data:`MEASURE_EVERY`: one query, for the background round."""
    query = (
        select(Organisation.slug, Organisation.id)
        .outerjoin(OrganisationUsage, OrganisationUsage.org_id == Organisation.id)
        .where(
            or_(
                OrganisationUsage.measured_at.is_(None),
                OrganisationUsage.measured_at <= now - MEASURE_EVERY,
            )
        )
    )
    with registry.engine.connect() as connection:
        return {str(slug): str(org_id) for slug, org_id in connection.execute(query)}


def _figures(row: OrganisationUsage | None) -> Figures | None:
    if row is None:
        return None
    used = Usage(cases=row.cases, items=row.items, stored_bytes=row.stored_bytes)
    return Figures(used, row.staff, row.measured_at)


def page(registry: Registry, *, search: str = "", number: int = 1) -> Page:
    """One page of organisations (by slug) with their stored figures, those whose slug, name
    or a host name contains ``search`` (without case). Three small queries on the registry;
    no organisation's database is opened."""
    query = select(Organisation)
    if words := search.strip().lower():
        pattern = "%" + words.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
        hosts = select(OrganisationHost.org_id).where(
            OrganisationHost.host.like(pattern, escape="\\")
        )
        query = query.where(
            or_(
                func.lower(Organisation.slug).like(pattern, escape="\\"),
                func.lower(Organisation.name).like(pattern, escape="\\"),
                Organisation.id.in_(hosts),
            )
        )
    with unit_of_work(sessionmaker(registry.engine)) as db:
        total = int(db.scalar(select(func.count()).select_from(query.subquery())) or 0)
        pages = max(1, -(-total // PER_PAGE))
        number = min(max(1, number), pages)
        rows = list(
            db.execute(
                query.add_columns(OrganisationUsage)
                .outerjoin(OrganisationUsage, OrganisationUsage.org_id == Organisation.id)
                .order_by(Organisation.slug)
                .limit(PER_PAGE)
                .offset((number - 1) * PER_PAGE)
            ).all()
        )
        claimed: dict[str, dict[str, list[str]]] = {
            org.id: {SOURCE: [], STAFF: []} for org, _ in rows
        }
        for host in db.scalars(
            select(OrganisationHost)
            .where(OrganisationHost.org_id.in_(claimed))
            .order_by(OrganisationHost.position, OrganisationHost.host)
        ):
            claimed[host.org_id][host.kind].append(host.host)
        entries = [
            Entry(OrgRecord.of(org, claimed[org.id]), _figures(figures)) for org, figures in rows
        ]
    return Page(entries, total, number, pages)
