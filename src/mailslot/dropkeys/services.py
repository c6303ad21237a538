"""Drop keys and key manifests: keeping each channel's drop key in step with its members,
and appending a signed manifest version whenever what is published changes.

:func:`sync` is idempotent and needs public keys only (plus the server-held signing key):
for each channel whose active recipients differ from those its current drop key is wrapped
to, a new drop key is made and wrapped to them, and the old one is retired (its wraps stay,
so the drops sealed to it still open for those who held it). A channel with no active
recipient has no current key. If the channels' recipients, names or the recipients'
fingerprints then differ from the latest manifest, a new version is signed and appended.
It runs in the unit of work of every use case that changes a channel's members, an account
or the organisation's name (``resync``), from the command line too, and when a database is
opened to serve or migrate (``pages.catch_up``); never on a public GET.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from mailslot import crypto, drops
from mailslot.channels.models import Channel, ChannelMember
from mailslot.crypto.signing import SigningKey
from mailslot.db.base import coarse, new_id
from mailslot.dropkeys.models import DropKey, DropKeyWrap, KeyManifest, SigningKeyRow
from mailslot.drops.manifest import canonical
from mailslot.instance.services import get_instance
from mailslot.recipients.models import Role, User

DAY: Final = 86400
_SIGNING_ROW: Final = 1


def drop_key_context(drop_key_id: str) -> bytes:
    """The context id of a drop key's wraps: its id, so no wrap can pass for another key's."""
    return bytes.fromhex(drop_key_id)


def _members(db: Session) -> dict[str, list[User]]:
    """Each channel's active recipients, by channel id."""
    rows = db.execute(
        select(ChannelMember.channel_id, User)
        .join(User, User.id == ChannelMember.user_id)
        .where(User.disabled.is_(False), User.role == Role.RECIPIENT.value)
        .order_by(User.username)
    )
    found: dict[str, list[User]] = {}
    for channel_id, user in rows:
        found.setdefault(channel_id, []).append(user)
    return found


def current_keys(db: Session) -> dict[str, DropKey]:
    """Each channel's current (unretired) drop key, by channel id."""
    keys = db.scalars(select(DropKey).where(DropKey.retired_at.is_(None)))
    return {key.channel_id: key for key in keys}


def _holders(db: Session, key: DropKey) -> set[str]:
    return set(db.scalars(select(DropKeyWrap.user_id).where(DropKeyWrap.drop_key_id == key.id)))


def new_drop_key(db: Session, channel: Channel, members: Sequence[User], now: int) -> DropKey:
    """A fresh drop key for ``channel``, its identity wrapped to each of ``members``."""
    pair = drops.DropKeyPair.generate()
    key = DropKey(
        id=new_id(), channel_id=channel.id, recipient=str(pair.recipient), created_at=coarse(now)
    )
    db.add(key)
    context = drop_key_context(key.id)
    for user in members:
        wrapped = crypto.wrap_key(user.public_key, pair.seed, crypto.WrapPurpose.DROP_KEY, context)
        db.add(DropKeyWrap(drop_key_id=key.id, user_id=user.id, wrapped=wrapped))
    db.flush()
    return key


def _sync_keys(db: Session, now: int) -> bool:
    members = _members(db)
    current = current_keys(db)
    changed = False
    for channel in db.scalars(select(Channel).order_by(Channel.name)):
        users = members.get(channel.id, [])
        key = current.get(channel.id)
        if key is not None and _holders(db, key) == {u.id for u in users}:
            continue
        if key is not None:
            key.retired_at = coarse(now)
        if users:
            new_drop_key(db, channel, users, now)
        changed = changed or key is not None or bool(users)
    db.flush()
    return changed


def signing_key(db: Session, now: int) -> SigningKey:
    """The organisation's signing key, made the first time it is needed."""
    row = db.get(SigningKeyRow, _SIGNING_ROW)
    if row is None:
        key = SigningKey.generate()
        db.add(SigningKeyRow(id=_SIGNING_ROW, seed=key.seed, created_at=coarse(now)))
        db.flush()
        return key
    return SigningKey(row.seed)


def chain(db: Session) -> list[drops.Manifest]:
    """Every manifest version, oldest first."""
    bodies = db.scalars(select(KeyManifest.body).order_by(KeyManifest.version))
    return [drops.Manifest.from_json(json.loads(body)) for body in bodies]


def latest(db: Session) -> drops.Manifest | None:
    body = db.scalar(select(KeyManifest.body).order_by(KeyManifest.version.desc()).limit(1))
    return None if body is None else drops.Manifest.from_json(json.loads(body))


def published_id(user: User) -> str:
    """How the manifest names a recipient: ``recipient-`` and their account's random id,
    which stays the same when their key changes (so a swapped key shows as a change of
    fingerprint under the same id) and says nothing that helps to log in."""
    return f"recipient-{user.id}"


def _entries(
    db: Session,
) -> tuple[list[drops.ChannelEntry], list[drops.RecipientEntry]]:
    current = current_keys(db)
    channels = list(
        db.scalars(select(Channel).where(Channel.id.in_(current)).order_by(Channel.name))
    )
    members = _members(db)
    published = {u.id: u for c in channels for u in members.get(c.id, [])}
    # Each recipient by a stable opaque id (their account's random id), never their login
    # name: the manifest is public, and a username is half of a staff login.
    recipients = sorted(
        (
            drops.RecipientEntry(published_id(user), drops.recipient_fingerprint(user.public_key))
            for user in published.values()
        ),
        key=lambda entry: entry.name,
    )
    return [drops.ChannelEntry(c.name, current[c.id].recipient) for c in channels], recipients


def sync(db: Session, *, organisation: str, now: int) -> drops.Manifest | None:
    """Bring drop keys and the manifest up to date (see the module docstring); the latest
    manifest, or None while there is nothing to publish. Never commits."""
    _sync_keys(db, now)
    channels, recipients = _entries(db)
    previous = latest(db)
    if previous is None and not channels:
        return None
    if (
        previous is not None
        and previous.organisation == organisation
        and list(previous.channels) == channels
        and list(previous.recipients) == recipients
    ):
        return previous
    manifest = drops.make_manifest(
        signing_key(db, now),
        previous=previous,
        organisation=organisation,
        channels=channels,
        recipients=recipients,
        now=datetime.fromtimestamp(now, UTC),
    )
    db.add(
        KeyManifest(
            version=manifest.version,
            digest=manifest.digest(),
            previous=manifest.previous,
            body=canonical(manifest.to_json()).decode(),
            created_at=now - now % DAY,
        )
    )
    db.flush()
    return manifest


def resync(db: Session, instance_id: int, now: int) -> None:
    """:func:`sync` in the caller's unit of work, after a change of channels or accounts."""
    sync(db, organisation=get_instance(db, instance_id).name, now=now)


def anything_to_publish(db: Session) -> bool:
    """Whether any channel has a member, or a drop key or manifest exists: when none does,
    :func:`sync` would change nothing (one query, for the many fresh databases)."""
    found = db.execute(
        select(
            exists().where(ChannelMember.channel_id.is_not(None)),
            exists().where(DropKey.id.is_not(None)),
            exists().where(KeyManifest.version.is_not(None)),
        )
    ).one()
    return any(found)


def manifest_count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(KeyManifest)) or 0)


def held_identities(db: Session, user: User, seed: bytes) -> list[drops.PqIdentity]:
    """The identities of every drop key wrapped to ``user``, opened with their seed."""
    own = crypto.KeyPair.from_seed(seed)
    identities = []
    for wrap in db.scalars(select(DropKeyWrap).where(DropKeyWrap.user_id == user.id)):
        secret = own.unwrap(
            wrap.wrapped, crypto.WrapPurpose.DROP_KEY, drop_key_context(wrap.drop_key_id)
        )
        identities.append(drops.DropKeyPair(secret).identity)
    return identities
