"""The host registry's tables. They live in their own database (SQLite ``host.sqlite3`` in
the data directory) or schema (PostgreSQL ``mailslot_host``), never in an organisation's,
and they hold what the host operator manages: no case, account or content of anyone.

They have their own declarative base, so that no organisation's migrations ever see them;
the registry creates them itself (``mailslot.orgs.registry``) and records the version of
their layout in ``registry_state``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mailslot.db.base import NAMING


class RegistryBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(RegistryBase):
    """One organisation: where its data is follows from its random id (see ``placement``)."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The id of the organisation's instance row, so that opening it needs no query.
    instance_id: Mapped[int] = mapped_column(Integer, default=1)
    storage_quota: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    case_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # To the day: when the host added it, no finer.
    created_at: Mapped[int] = mapped_column(BigInteger)


class OrganisationHost(RegistryBase):
    """A host name an organisation claims for its source or its staff interface. A name
    belongs to at most one organisation."""

    __tablename__ = "organisation_hosts"

    host: Mapped[str] = mapped_column(String(253), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    # The order the operator gave the names in: the first one builds links (layout 2).
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RegistryState(RegistryBase):
    """One row: the layout's version, and a generation that every change increments, so a
    process learns that it must reload the registry from one small read."""

    __tablename__ = "registry_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(BigInteger)
