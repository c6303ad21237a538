"""What the source interface publishes about keys (``/keys``, ``/keys.json``), as use cases.

Publishing only reads: drop keys and the manifest are brought up to date where they change,
by the use cases that change a channel's members, an account or the organisation's name
(``services.resync`` in their unit of work), and once when an organisation's database is
opened for serving or migrated (:func:`catch_up`), for installs that predate that and for
changes made straight in the database. A public GET never writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from mailslot import drops
from mailslot.context import OrgContext
from mailslot.db.base import unit_of_work
from mailslot.dropkeys import services
from mailslot.recipients.models import Role, User


def catch_up(engine: Engine, instance_id: int, now: int) -> None:
    """``services.resync`` in its own unit of work on the organisation's database. Two
    processes starting together may append the same version: the loser's transaction is
    refused on its primary key, and what the winner wrote is published."""
    try:
        with unit_of_work(sessionmaker(engine, expire_on_commit=False)) as db:
            if services.anything_to_publish(db):
                services.resync(db, instance_id, now)
    except IntegrityError:
        pass


@dataclass(frozen=True, slots=True)
class PublishedKeys:
    organisation: str
    version: int
    fingerprint: str  # the signing key's, as people compare it
    channels: tuple[drops.ChannelEntry, ...]


def published(ctx: OrgContext) -> PublishedKeys | None:
    """The latest manifest as the ``/keys`` page shows it; None while no channel has a
    recipient."""
    with ctx.db() as db:
        manifest = services.latest(db)
    if manifest is None:
        return None
    return PublishedKeys(
        manifest.organisation, manifest.version, manifest.fingerprint, manifest.channels
    )


def chain_file(ctx: OrgContext) -> bytes | None:
    """``/keys.json``: every manifest version, oldest first (``drops.chain_json``)."""
    with ctx.db() as db:
        versions = services.chain(db)
    return drops.chain_json(versions) if versions else None


@dataclass(frozen=True, slots=True)
class StaffKey:
    username: str
    role: str
    fingerprint: str
    is_me: bool
    published_as: str | None  # how /keys.json names a recipient, None for other roles


@dataclass(frozen=True, slots=True)
class StaffKeys:
    """Every staff member's public-key fingerprint, and the signing key's, for the staff
    page that lets colleagues compare them (a swapped key in the database shows)."""

    accounts: list[StaffKey]
    signing_fingerprint: str | None
    version: int | None


def staff_keys(ctx: OrgContext, user: User) -> StaffKeys:
    """What the staff keys page shows to any signed-in staff member."""
    with ctx.db() as db:
        users = db.scalars(select(User).where(User.disabled.is_(False)).order_by(User.username))
        accounts = [
            StaffKey(
                u.username,
                u.role,
                drops.recipient_fingerprint(u.public_key),
                u.id == user.id,
                services.published_id(u) if u.role == Role.RECIPIENT.value else None,
            )
            for u in users
        ]
        manifest = services.latest(db)
    return StaffKeys(
        accounts,
        manifest.fingerprint if manifest else None,
        manifest.version if manifest else None,
    )
