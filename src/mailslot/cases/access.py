"""Access to a case: who holds its key, granting it, revoking it, and the history.

Granting wraps the case key seed, and the seeds of its earlier versions (opened with the
granter's own key), to another active recipient's public key. Revoking destroys that person's
wraps and rotates the case key: a new version for the remaining holders, under which
everything sealed afterwards is wrapped, so a revoked holder who kept the old key reads
nothing new. ``CaseAccess`` keeps the history. Removing someone from a channel leaves the
wraps of cases they already hold: their access to those cases ends only when it is revoked
here (or the case is deleted); a recipient added to a channel later gets only the channel's
new cases.

Every action appends an audit event in the caller's unit of work (as in
:mod:`mailslot.cases.work`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.cases.errors import CaseNotFound
from mailslot.cases.models import (
    Case,
    CaseAccess,
    CaseAssignee,
    CaseKeyWrap,
    CasePastKeyWrap,
    CaseRead,
)
from mailslot.cases.services import case_keys, past_key_wraps, rotate_case_key
from mailslot.cases.work import audit_case_event
from mailslot.db.base import coarse, shred_on_commit
from mailslot.errors import Conflict, Forbidden, InvalidInput, NotFound
from mailslot.i18n import N_
from mailslot.recipients.models import Role, User


def active_recipients(db: Session) -> list[User]:
    """Everyone who may be given access: recipients whose account is enabled."""
    return list(
        db.scalars(
            select(User)
            .where(User.role == Role.RECIPIENT.value, User.disabled.is_(False))
            .order_by(User.username)
        )
    )


def holders(db: Session, case: Case) -> list[User]:
    """Everyone who holds a key to the case now."""
    return list(
        db.scalars(
            select(User)
            .join(CaseKeyWrap, CaseKeyWrap.user_id == User.id)
            .where(CaseKeyWrap.case_id == case.id)
            .order_by(User.username)
        )
    )


def lock_case(db: Session, case: Case, *loaded: CaseKeyWrap) -> None:
    """Hold the case row until the unit of work ends (PostgreSQL; SQLite writes one at a
    time anyway), so that a grant and a revocation, or a revocation and new items, never
    interleave: each sees the key version the other left. Wraps loaded before the lock are
    read again (a revocation that committed meanwhile has replaced them)."""
    if db.get_bind().dialect.name != "sqlite":
        db.refresh(case, with_for_update=True)
        for wrap in loaded:
            if db.get(CaseKeyWrap, (wrap.case_id, wrap.user_id), populate_existing=True) is None:
                raise CaseNotFound()


CHOSEN_ONLY: Final = N_(
    "The source chose who receives this case: only the people they chose can give others access."
)


def may_grant(db: Session, case: Case, granter: User) -> bool:
    """Whether ``granter`` may give others access: anyone holding the case, except on a case
    whose source chose its recipients, where only those chosen (the holders from the start,
    not given access by anyone) may."""
    if not case.recipients_chosen:
        return True
    chosen = db.scalar(
        select(CaseAccess.id).where(
            CaseAccess.case_id == case.id,
            CaseAccess.user_id == granter.id,
            CaseAccess.granted_by.is_(None),
            CaseAccess.revoked_at.is_(None),
        )
    )
    return chosen is not None


def grant(
    db: Session,
    case: Case,
    wrap: CaseKeyWrap,
    granter: User,
    *,
    granter_seed: bytes | None,
    user_id: str,
    now: int,
) -> User:
    """Wrap the case key, every version of it, to another active recipient. The granter's own
    key opens them, so a granter whose key is offline cannot grant (someone whose key is on
    the server can)."""
    user = db.get(User, user_id) if len(user_id) == 32 else None
    if user is None or user.disabled or user.role != Role.RECIPIENT.value:
        raise InvalidInput("Access can be given only to an active recipient.")
    if db.get(CaseKeyWrap, (case.id, user.id)) is not None:
        raise Conflict("%(name)s already has access to this case.", name=user.username)
    if not may_grant(db, case, granter):
        raise Forbidden(CHOSEN_ONLY)
    if granter_seed is None:
        raise Forbidden(
            "Your key is kept offline, so you cannot give access from here. Ask someone "
            "with access whose key is on the server."
        )
    lock_case(db, case, wrap)
    keys = case_keys(db, case, wrap, granter_seed)
    context = crypto.case_key_context(bytes.fromhex(case.id), keys.version)
    wrapped = crypto.wrap_key(
        user.public_key, keys.current.seed, crypto.WrapPurpose.CASE_KEY, context
    )
    db.add(CaseKeyWrap(case_id=case.id, user_id=user.id, wrapped=wrapped))
    db.add_all(past_key_wraps(case, keys, user))
    db.add(
        CaseAccess(case_id=case.id, user_id=user.id, granted_by=granter.id, granted_at=coarse(now))
    )
    db.flush()
    audit_case_event(
        db, "case.access.grant", case, granter, now, user_id=user.id, username=user.username
    )
    return user


def revoke(db: Session, case: Case, actor: User, user_id: str, *, now: int) -> User | None:
    """Destroy someone's wraps of the case key, every version (and their assignment and read
    mark), then rotate the key for the remaining holders. The last holder cannot be revoked:
    nobody could read the case again."""
    if len(user_id) != 32 or db.get(CaseKeyWrap, (case.id, user_id)) is None:
        raise NotFound("This person has no access to this case.")
    lock_case(db, case)
    user = db.get(User, user_id)
    remaining = db.scalar(
        select(func.count()).select_from(CaseKeyWrap).where(CaseKeyWrap.case_id == case.id)
    )
    if (remaining or 0) <= 1:
        raise Conflict(
            "This is the last person with access: revoking it would leave nobody able to "
            "read the case. Give someone else access first, or delete the case."
        )
    shred_on_commit(db)
    db.execute(
        delete(CaseKeyWrap).where(CaseKeyWrap.case_id == case.id, CaseKeyWrap.user_id == user_id)
    )
    db.execute(
        delete(CasePastKeyWrap).where(
            CasePastKeyWrap.case_id == case.id, CasePastKeyWrap.user_id == user_id
        )
    )
    db.expire_all()  # the wraps just deleted must not come back from the identity map
    rotate_case_key(db, case)
    db.execute(
        delete(CaseAssignee).where(CaseAssignee.case_id == case.id, CaseAssignee.user_id == user_id)
    )
    db.execute(delete(CaseRead).where(CaseRead.case_id == case.id, CaseRead.user_id == user_id))
    db.execute(
        update(CaseAccess)
        .where(
            CaseAccess.case_id == case.id,
            CaseAccess.user_id == user_id,
            CaseAccess.revoked_at.is_(None),
        )
        .values(revoked_by=actor.id, revoked_at=coarse(now))
    )
    db.flush()
    audit_case_event(
        db,
        "case.access.revoke",
        case,
        actor,
        now,
        user_id=user_id,
        username=user.username if user else "",
    )
    return user


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One span of someone's access. ``granted_by`` is None for the channel's recipients,
    who held the key from the case's start."""

    user_id: str | None
    username: str | None
    granted_by: str | None
    granted_at: int
    revoked_by: str | None
    revoked_at: int | None

    @property
    def via_grant(self) -> bool:
        return self.granted_by is not None


def access_history(db: Session, case: Case) -> list[AccessEntry]:
    names = dict(db.execute(select(User.id, User.username)).all())
    rows = db.scalars(
        select(CaseAccess)
        .where(CaseAccess.case_id == case.id)
        .order_by(CaseAccess.granted_at, CaseAccess.id)
    )
    return [
        AccessEntry(
            user_id=row.user_id,
            username=names.get(row.user_id) if row.user_id else None,
            granted_by=names.get(row.granted_by) if row.granted_by else None,
            granted_at=row.granted_at,
            revoked_by=names.get(row.revoked_by) if row.revoked_by else None,
            revoked_at=row.revoked_at,
        )
        for row in rows
    ]
