"""Keeping every active custodian able to decide: an identity's key is wrapped to the
custodians active when it arrives, so a custodian appointed (or enabled again) later holds
no wrap to it. When a custodian who holds wraps works with their key in their session (the
custodian's page, the API's list of requests), each identity they hold is wrapped to every
other active custodian who lacks it, with one ``identity.share`` event per identity (its
case id and the colleagues' ids). Disabling a custodian deletes their wraps.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, aliased

from mailslot.audit.services import record
from mailslot.identity import services
from mailslot.identity.models import Identity, IdentityKeyWrap
from mailslot.recipients.models import Role, User


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


def drop_wraps(db: Session, user: User) -> int:
    """Delete a custodian's wraps (they are being disabled); returns how many went. A
    recipient's wraps stay: a custodian allowed them, and their case access decides."""
    if user.role != Role.CUSTODIAN.value:
        return 0
    gone = db.execute(delete(IdentityKeyWrap).where(IdentityKeyWrap.user_id == user.id))
    return int(getattr(gone, "rowcount", 0) or 0)
