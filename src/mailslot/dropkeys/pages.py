"""What the source interface publishes about keys (``/keys``, ``/keys.json``), as use cases.

Publishing first brings drop keys and the manifest up to date (``services.sync``), so a
change made from the command line is published at the next visit. Two visits that both
append the same version race on its primary key: the loser reads what the winner wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mailslot import drops
from mailslot.context import OrgContext
from mailslot.dropkeys import services
from mailslot.instance.services import get_instance
from mailslot.recipients.models import User


@dataclass(frozen=True, slots=True)
class PublishedKeys:
    organisation: str
    version: int
    fingerprint: str  # the signing key's, as people compare it
    channels: tuple[drops.ChannelEntry, ...]


def _synced(ctx: OrgContext) -> None:
    try:
        with ctx.db() as db:
            name = get_instance(db, ctx.instance_id).name
            services.sync(db, organisation=name, now=ctx.now())
    except IntegrityError:
        pass  # another process appended the same version first: it is published


def published(ctx: OrgContext) -> PublishedKeys | None:
    """The latest manifest as the ``/keys`` page shows it; None while no channel has a
    recipient."""
    _synced(ctx)
    with ctx.db() as db:
        manifest = services.latest(db)
    if manifest is None:
        return None
    return PublishedKeys(
        manifest.organisation, manifest.version, manifest.fingerprint, manifest.channels
    )


def chain_file(ctx: OrgContext) -> bytes | None:
    """``/keys.json``: every manifest version, oldest first (``drops.chain_json``)."""
    _synced(ctx)
    with ctx.db() as db:
        versions = services.chain(db)
    return drops.chain_json(versions) if versions else None


@dataclass(frozen=True, slots=True)
class StaffKey:
    username: str
    role: str
    fingerprint: str
    is_me: bool


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
            StaffKey(u.username, u.role, drops.recipient_fingerprint(u.public_key), u.id == user.id)
            for u in users
        ]
        manifest = services.latest(db)
    return StaffKeys(
        accounts,
        manifest.fingerprint if manifest else None,
        manifest.version if manifest else None,
    )
