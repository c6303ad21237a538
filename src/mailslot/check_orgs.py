"""``mailslot check`` for the host registry and each organisation: one finding per organisation.

Each organisation's line says whether its database is reachable and at this version's schema
revision, whether its staff keys are in order, whether its blobs can be read (every item's
blob is there), and how near its quotas it is. Like the rest of ``check`` it changes
nothing: a database, schema or blob directory that is missing is reported, never made.
What it reads of an organisation is what the operator may see (counts, sizes, whether keys
parse), never a case.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from mailslot.cases.models import Item
from mailslot.check import NOT_CREATED as NOT_CREATED_YET
from mailslot.check import (
    POSTGRESQL_STATISTICS,
    STAFF_KEYS,
    _database,
    _keys,
    _planner,
    at_revision,
)
from mailslot.check_findings import Finding
from mailslot.config import Config
from mailslot.db.base import make_engine
from mailslot.db.migrate import HEAD, stored_revision
from mailslot.errors import StorageError
from mailslot.i18n import N_, LazyText, N_plural
from mailslot.identity.models import Identity
from mailslot.orgs import placement
from mailslot.orgs.quotas import Usage, usage
from mailslot.orgs.registry import Directory, OrgRecord, Registry
from mailslot.sizes import human_size
from mailslot.storage import BlobStore, open_blob_store

# A quota this full is reported (a warning: submissions are refused only once it is full).
NEAR_QUOTA: Final = 0.9
REGISTRY: Final = LazyText(N_("host registry"))
NOT_CREATED: Final = Finding(REGISTRY, False, NOT_CREATED_YET, warn=True)


def organisation_findings(config: Config, slug: str | None = None) -> list[Finding]:
    """The registry's finding, then one per organisation (only ``slug``'s, if given)."""
    found, directory = _registry(config)
    findings = [found]
    if directory is None:
        return findings
    records = list(directory.orgs)
    if slug is not None:
        records = [record for record in records if record.slug == slug]
        if not records:
            return [*findings, Finding(_org(slug), False, LazyText(N_("no such organisation")))]
    findings.extend(_organisation(config, record) for record in records)
    return findings


def _registry_exists(config: Config) -> bool:
    if not placement.postgresql(config):
        return (config.data_dir / placement.REGISTRY_FILE).exists()
    engine = make_engine(config.resolved_database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            return placement.REGISTRY_SCHEMA in inspect(connection).get_schema_names()
    except Exception:  # an unreachable database is the "database" finding's to report
        return False
    finally:
        engine.dispose()


def _registry(config: Config) -> tuple[Finding, Directory | None]:
    if not _registry_exists(config):
        return NOT_CREATED, None
    registry = Registry(placement.registry_engine(config))
    try:
        with registry.engine.connect() as connection:
            tables = inspect(connection).get_table_names()
        if not tables:
            return NOT_CREATED, None
        directory = registry.load()
    except Exception as exc:  # whatever stops the reading is reported by its type
        cannot = Finding(
            REGISTRY,
            False,
            LazyText(N_("cannot be read (%(error)s)"), error=type(exc).__name__),
            LazyText(
                N_("check MAILSLOT_DATA_DIR and MAILSLOT_DATABASE_URL; restore it from a backup")
            ),
        )
        return cannot, None
    finally:
        registry.close()
    enabled = sum(record.enabled for record in directory.orgs)
    leftovers = sorted(_leftovers(config, directory))
    detail = LazyText(
        *N_plural(
            "%(num)s organisation(s), %(enabled)s enabled",
            "%(num)s organisation(s), %(enabled)s enabled",
        ),
        num=len(directory.orgs),
        enabled=enabled,
    )
    if leftovers:
        left = LazyText(
            *N_plural(
                "%(num)s directory(ies) of no organisation: %(names)s",
                "%(num)s directory(ies) of no organisation: %(names)s",
            ),
            num=len(leftovers),
            names=", ".join(leftovers),
        )
        detail = LazyText.joined("; ", [detail, left])
    return Finding(
        REGISTRY,
        not leftovers,
        detail,
        LazyText(
            N_(
                "what an interrupted `mailslot orgs remove` left: delete them (rm -r %(path)s/<id>)"
            ),
            path=config.data_dir / placement.ORGS_DIR,
        ),
        warn=bool(leftovers),
    ), directory


def _leftovers(config: Config, directory: Directory) -> Iterator[str]:
    base = config.data_dir / placement.ORGS_DIR
    if base.is_dir():
        for entry in base.iterdir():
            if entry.name not in directory.by_id:
                yield entry.name


@dataclass
class _Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


def _organisation(config: Config, record: OrgRecord) -> Finding:
    report = _Report()
    if record.is_default:
        engine = make_engine(config.resolved_database_url, pool_size=1)
    else:
        engine = placement.engine(config, record.id)
    try:
        _check_database(config, record, engine, report)
    finally:
        engine.dispose()
    if report.problems or report.notes:
        detail = LazyText.joined("; ", [*report.problems, *report.notes])
    else:
        detail = LazyText.joined(", ", report.summary)
    return Finding(
        _org(record.slug),
        not report.problems and not report.notes,
        LazyText(N_("enabled: %(detail)s"), detail=detail)
        if record.enabled
        else LazyText(N_("disabled: %(detail)s"), detail=detail),
        LazyText(
            N_(
                "run `mailslot check --org %(slug)s` and fix what it names; `mailslot migrate` "
                "for a schema revision, `mailslot orgs quota` for a quota"
            ),
            slug=record.slug,
        ),
        warn=not report.problems,
    )


def _org(slug: str) -> LazyText:
    return LazyText(N_("organisation %(slug)s"), slug=slug)


def _check_database(config: Config, record: OrgRecord, engine: Engine, report: _Report) -> None:
    database_file = placement.org_dir(config, record.id) / placement.DATABASE_FILE
    if not record.is_default and not placement.postgresql(config) and not database_file.is_file():
        report.problems.append(LazyText(N_("its database file is missing")))
        return
    reachable = _database(engine)
    if not reachable.ok:
        report.problems.append(LazyText(N_("database %(state)s"), state=reachable.detail))
        return
    revision = stored_revision(engine)
    if revision != HEAD:
        report.problems.append(at_revision(revision))
        return
    for finding in _keys(engine):
        if finding.fails:
            report.problems.append(finding.detail)
        elif not finding.ok:
            report.notes.append(finding.detail)
        elif finding.name == STAFF_KEYS:
            report.summary.append(finding.detail)
    for finding in _planner(engine):
        if finding.name == POSTGRESQL_STATISTICS and not finding.ok:
            report.notes.append(finding.detail)
    with Session(engine) as db:
        used = usage(db)
        named = named_blobs(db)
    _check_blobs(config, record, named, report)
    _check_quotas(record, used, report)


def named_blobs(db: Session) -> set[str]:
    """Every blob the database names: the items', and the identities' (sealed apart)."""
    return set(db.scalars(select(Item.blob_id))) | set(db.scalars(select(Identity.blob_id)))


def _blob_store(config: Config, record: OrgRecord) -> BlobStore | None:
    """The organisation's store, or None where its directory is missing (made by nothing
    here: ``check`` changes nothing)."""
    if config.s3_location is None:
        root = (
            config.blob_dir if record.is_default else placement.org_dir(config, record.id) / "blobs"
        )
        if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
            return None
    if record.is_default:
        return open_blob_store(config)
    return placement.blob_store(config, record.id)


def _check_blobs(config: Config, record: OrgRecord, named: set[str], report: _Report) -> None:
    store = _blob_store(config, record)
    if store is None:
        if named:
            report.problems.append(LazyText(N_("its blob directory is missing or unreadable")))
        return
    listing = getattr(store, "blob_ids", None)
    try:
        stored = set(listing()) if callable(listing) else {b for b in named if store.exists(b)}
    except (StorageError, OSError) as exc:
        report.problems.append(
            LazyText(N_("its blobs cannot be listed (%(error)s)"), error=type(exc).__name__)
        )
        return
    if missing := len(named - stored):
        report.problems.append(
            LazyText(
                *N_plural(
                    "%(num)s item(s) have no stored blob", "%(num)s item(s) have no stored blob"
                ),
                num=missing,
            )
        )


def _check_quotas(record: OrgRecord, used: Usage, report: _Report) -> None:
    report.summary.append(LazyText(*N_plural("%(num)s case(s)", "%(num)s case(s)"), num=used.cases))
    stored = human_size(used.stored_bytes)
    if record.storage_quota is None:
        report.summary.append(LazyText(N_("%(size)s stored"), size=stored))
    else:
        share = used.stored_bytes / record.storage_quota
        text = LazyText(
            N_("%(size)s stored of %(quota)s (%(share)s)"),
            size=stored,
            quota=human_size(record.storage_quota),
            share=f"{share:.0%}",
        )
        if share >= NEAR_QUOTA:
            report.notes.append(LazyText(N_("storage quota nearly full: %(text)s"), text=text))
        else:
            report.summary.append(text)
    if record.case_quota is not None:
        share = used.cases / record.case_quota
        if share >= NEAR_QUOTA:
            text = LazyText(
                *N_plural(
                    "case quota nearly full: %(used)s of %(num)s cases",
                    "case quota nearly full: %(used)s of %(num)s cases",
                ),
                used=used.cases,
                num=record.case_quota,
            )
            report.notes.append(text)
        else:
            text = LazyText(
                *N_plural("quota %(used)s of %(num)s cases", "quota %(used)s of %(num)s cases"),
                used=used.cases,
                num=record.case_quota,
            )
            report.summary.append(text)
