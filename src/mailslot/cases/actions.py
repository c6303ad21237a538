"""Case work as use cases, shared by the staff pages and the JSON API: status, the important
mark, labels, assignees, internal notes and who has access.

Each function takes the organisation's context and the acting recipient, opens one unit of
work, finds the case among those the recipient holds a key to (admins and analysts never
act on cases), does the work with :mod:`mailslot.cases.work` (which records the audit
event in the same unit of work), and returns what the caller shows. A note's blob (a
closing reason is one) is written before its rows; if the unit of work fails, the blob is
deleted so that none is left orphaned.

Each function is blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from mailslot.cases import access as case_access
from mailslot.cases import services as cases
from mailslot.cases import work
from mailslot.cases.models import Case, CaseKeyWrap, CustomStatus, Label
from mailslot.context import OrgContext
from mailslot.errors import Forbidden
from mailslot.orgs import quotas
from mailslot.recipients.models import Role, User

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WorkState:
    """A case's work state after an action (all of it stored in clear)."""

    case: Case
    custom_status: str | None
    labels: list[Label]
    assignees: list[User]


@dataclass(frozen=True, slots=True)
class Access:
    """Who holds the case's key now, and every grant and revocation."""

    holders: list[User]
    history: list[case_access.AccessEntry]


def require_recipient(user: User) -> None:
    if user.role != Role.RECIPIENT.value:
        raise Forbidden("Only recipients work on cases.")


def on_case(
    ctx: OrgContext,
    user: User,
    case_id: str,
    action: Callable[[Session, Case, CaseKeyWrap, list[str]], T],
) -> T:
    """Run ``action`` on a case ``user`` holds a key to, in one unit of work. The blobs it
    lists in its last argument are deleted if the unit of work fails."""
    require_recipient(user)
    written: list[str] = []
    try:
        with ctx.db() as db:
            case, wrap = cases.case_for_user(db, user, case_id)
            return action(db, case, wrap, written)
    except BaseException:
        cases.delete_blobs(ctx.blobs, written)
        raise


def work_state(db: Session, case: Case) -> WorkState:
    current = db.get(CustomStatus, case.custom_status_id) if case.custom_status_id else None
    return WorkState(
        case=case,
        custom_status=current.name if current else None,
        labels=work.case_labels(db, case),
        assignees=work.assignees(db, case),
    )


def access(db: Session, case: Case) -> Access:
    return Access(
        holders=case_access.holders(db, case), history=case_access.access_history(db, case)
    )


# Status and the important mark.


def set_status(
    ctx: OrgContext,
    user: User,
    case_id: str,
    *,
    status: str | None,
    custom_status_id: str | None = None,
    reason: str = "",
) -> WorkState:
    """Move the case to a phase or one of its channel's statuses; closing seals the reason
    as an internal note."""
    now = ctx.now()

    def act(db: Session, case: Case, wrap: CaseKeyWrap, written: list[str]) -> WorkState:
        work.set_status(
            db,
            ctx.blobs,
            case,
            user,
            status=status,
            custom_status_id=custom_status_id,
            reason=reason,
            now=now,
            written=written,
        )
        return work_state(db, case)

    return on_case(ctx, user, case_id, act)


def set_important(ctx: OrgContext, user: User, case_id: str, important: bool) -> WorkState:
    now = ctx.now()

    def act(db: Session, case: Case, wrap: CaseKeyWrap, written: list[str]) -> WorkState:
        work.set_important(db, case, user, important, now=now)
        return work_state(db, case)

    return on_case(ctx, user, case_id, act)


# Labels and assignees.


def add_label(ctx: OrgContext, user: User, case_id: str, name: str) -> WorkState:
    now = ctx.now()

    def act(db: Session, case: Case, wrap: CaseKeyWrap, written: list[str]) -> WorkState:
        work.add_label(db, case, user, name, now=now)
        return work_state(db, case)

    return on_case(ctx, user, case_id, act)


def remove_label(ctx: OrgContext, user: User, case_id: str, label_id: str) -> None:
    now = ctx.now()
    on_case(
        ctx,
        user,
        case_id,
        lambda db, case, _, __: work.remove_label(db, case, user, label_id, now=now),
    )


def assign(ctx: OrgContext, user: User, case_id: str, user_id: str) -> WorkState:
    now = ctx.now()

    def act(db: Session, case: Case, wrap: CaseKeyWrap, written: list[str]) -> WorkState:
        work.assign(db, case, user, user_id, now=now)
        return work_state(db, case)

    return on_case(ctx, user, case_id, act)


def unassign(ctx: OrgContext, user: User, case_id: str, user_id: str) -> None:
    now = ctx.now()
    on_case(
        ctx, user, case_id, lambda db, case, _, __: work.unassign(db, case, user, user_id, now=now)
    )


# Notes.


def write_note(ctx: OrgContext, user: User, case_id: str, text: str) -> str:
    """A sealed internal note; returns its item id. Refused past the storage quota
    (``quotas.StorageFull``): the note is sealed and recorded in one step, so the quota's
    lock is taken before it and the check made again after it, counting the note."""
    now = ctx.now()

    def act(db: Session, case: Case, wrap: CaseKeyWrap, written: list[str]) -> str:
        quotas.check_staff(db, ctx.quotas, adding=0)
        item_id = work.write_note(db, ctx.blobs, case, user, text, now=now, written=written)
        quotas.check_staff(db, ctx.quotas, adding=0)
        return item_id

    return on_case(ctx, user, case_id, act)


# Access.


def get_access(ctx: OrgContext, user: User, case_id: str) -> Access:
    return on_case(ctx, user, case_id, lambda db, case, _, __: access(db, case))


def grant_access(
    ctx: OrgContext, user: User, seed: bytes | None, case_id: str, user_id: str
) -> Access:
    """Wrap the case key to another active recipient; ``seed`` is the granter's private key
    seed (None when it is kept offline: then granting is refused)."""
    now = ctx.now()

    def act(db: Session, case: Case, wrap: CaseKeyWrap, written: list[str]) -> Access:
        case_access.grant(db, case, wrap, user, granter_seed=seed, user_id=user_id, now=now)
        return access(db, case)

    return on_case(ctx, user, case_id, act)


def revoke_access(ctx: OrgContext, user: User, case_id: str, user_id: str) -> None:
    now = ctx.now()
    on_case(
        ctx,
        user,
        case_id,
        lambda db, case, _, __: case_access.revoke(db, case, user, user_id, now=now),
    )


# What a recipient may choose from.


def all_labels(ctx: OrgContext, user: User) -> list[Label]:
    """The labels on the cases ``user`` holds a key to (``work.labels_in_reach``)."""
    require_recipient(user)
    with ctx.db() as db:
        return work.labels_in_reach(db, user)


def active_recipients(ctx: OrgContext, user: User) -> list[User]:
    """Recipients who may be assigned or given access (their usernames, nothing else)."""
    require_recipient(user)
    with ctx.db() as db:
        return case_access.active_recipients(db)
