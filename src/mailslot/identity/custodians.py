"""Keeping every active custodian able to decide: an identity's key is wrapped to the
custodians active when it arrives, so a custodian appointed (or enabled again) later holds
no wrap to it. Appointing or enabling one makes a sharing due, but the admin who does it
holds no identity key: it happens when a custodian who holds wraps next opens their key,
in a use case that writes anyway (their login, :func:`share_after_login`, or their
decision on a request, ``requests.decide``), never on a page that only reads. Each identity
they hold is then wrapped to every other active custodian who lacks it, with one
``identity.share`` event per identity (its case id and the colleagues' ids). Disabling a
custodian deletes their wraps.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, aliased

from mailslot import crypto
from mailslot.audit.services import record
from mailslot.context import OrgContext
from mailslot.identity import services
from mailslot.identity.models import Identity, IdentityKeyWrap
from mailslot.recipients.models import Role, User

log = logging.getLogger("mailslot.identity")


def share_held(db: Session, custodian: User, seed: bytes | None, *, now: int) -> int:
    """Wrap every identity ``custodian`` holds to the active custodians who lack it (their
    own key opens it, so ``seed`` is needed: nothing happens without it). Returns how many
    identities were shared; each sharing is audited."""
    if seed is None or custodian.role != Role.CUSTODIAN.value or custodian.disabled:
        return 0
    colleagues = {user.id: user for user in services.custodians(db) if user.id != custodian.id}
    if not colleagues:
        return 0
    mine, theirs = aliased(IdentityKeyWrap), aliased(IdentityKeyWrap)
    held_by_colleagues = (
        select(func.count())
        .where(theirs.identity_id == mine.identity_id, theirs.user_id.in_(list(colleagues)))
        .scalar_subquery()
    )
    lacking = db.scalars(
        select(Identity)
        .join(mine, mine.identity_id == Identity.id)
        .where(mine.user_id == custodian.id, held_by_colleagues < len(colleagues))
        .order_by(Identity.id)
    ).all()
    for identity in lacking:
        holders = set(
            db.scalars(
                select(IdentityKeyWrap.user_id).where(
                    IdentityKeyWrap.identity_id == identity.id,
                    IdentityKeyWrap.user_id.in_(list(colleagues)),
                )
            )
        )
        missing = sorted(user_id for user_id in colleagues if user_id not in holders)
        key_pair = services.identity_key(db, identity, custodian, seed)
        for user_id in missing:
            db.add(
                IdentityKeyWrap(
                    identity_id=identity.id,
                    user_id=user_id,
                    wrapped=services.wrap_seed(colleagues[user_id], key_pair, identity),
                )
            )
        db.flush()
        record(
            db,
            "identity.share",
            now=now,
            actor_id=custodian.id,
            actor=custodian.username,
            case_id=identity.case_id,
            user_ids=missing,
        )
    return len(lacking)


def share_after_login(ctx: OrgContext, user: User, seed: bytes | None) -> int:
    """The login use cases' part (``recipients.login``): a custodian's key was just opened,
    so the identities they hold are shared (:func:`share_held`) in a unit of work of its
    own. A wrap that does not open is logged by its type and does not refuse the login: the
    custodian meets it again when deciding on that identity."""
    if seed is None or user.role != Role.CUSTODIAN.value:
        return 0  # no query for the logins of everyone else
    try:
        with ctx.db() as db:
            custodian = db.get(User, user.id)
            if custodian is None:  # pragma: no cover - deleted during their own login
                return 0
            return share_held(db, custodian, seed, now=ctx.now())
    except crypto.DecryptionError as exc:
        log.error("sharing identities at login failed: %s", type(exc).__name__)
        return 0


def drop_wraps(db: Session, user: User) -> int:
    """Delete a custodian's wraps (they are being disabled); returns how many went. A
    recipient's wraps stay: a custodian allowed them, and their case access decides."""
    if user.role != Role.CUSTODIAN.value:
        return 0
    gone = db.execute(delete(IdentityKeyWrap).where(IdentityKeyWrap.user_id == user.id))
    return int(getattr(gone, "rowcount", 0) or 0)
