"""Identity on request, as use cases: a recipient asks to see a source's identity with a
reason, a custodian approves or denies, an allowed recipient opens it. Each is one unit of
work with its audit event (``identity.request``, ``identity.approve``, ``identity.deny``,
``identity.read``, and ``identity.share`` when a custodian's decision wraps the identities
they hold to colleagues who lack them, see ``custodians.py``); the events name ids and the
decision, never the reason. Listing the pending requests only reads.

Custodians see pending requests (who asked, the case's pseudonym, when, the reason) but
never the case's content: they hold no case key. A request's reason is sealed under a fresh
key wrapped to the identity's public key, so only those who hold the identity key (the
custodians, and recipients already allowed) can read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.audit.services import record
from mailslot.cases import services as cases
from mailslot.cases.models import Case, CaseKeyWrap
from mailslot.context import OrgContext
from mailslot.db.base import coarse, new_id
from mailslot.errors import Conflict, Forbidden, InvalidInput, NotFound
from mailslot.i18n import N_, N_plural
from mailslot.identity import custodians, services
from mailslot.identity.models import Identity, IdentityKeyWrap, IdentityRequest, RequestStatus
from mailslot.recipients.models import Role, User
from mailslot.text import plain_text

MAX_REASON_CHARS: Final = 2000
NO_REQUEST: Final = N_("This request does not exist or was already decided.")


@dataclass(frozen=True, slots=True)
class IdentityPanel:
    """What a case's reader sees of its identity: that it exists, and where they stand."""

    allowed: bool  # the reader holds the identity key
    pending: bool  # the reader's request waits for a custodian
    denied: bool  # the reader's last request was denied


def panel(db: Session, case: Case, reader: User) -> IdentityPanel | None:
    """None when the source gave no identity."""
    identity = services.of_case(db, case.id)
    if identity is None:
        return None
    last = db.scalar(
        select(IdentityRequest.status)
        .where(
            IdentityRequest.identity_id == identity.id, IdentityRequest.requester_id == reader.id
        )
        .order_by(IdentityRequest.created_at.desc(), IdentityRequest.status.desc())
        .limit(1)
    )
    return IdentityPanel(
        allowed=services.holds(db, identity, reader),
        pending=last == RequestStatus.PENDING.value,
        denied=last == RequestStatus.DENIED.value,
    )


def check_reason(reason: str) -> str:
    reason = plain_text(reason, multiline=True).strip()
    if not reason:
        raise InvalidInput("Give a reason for seeing the source's identity.")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(
            N_plural(
                "The reason is too long (at most %(num)s character).",
                "The reason is too long (at most %(num)s characters).",
            ),
            num=MAX_REASON_CHARS,
        )
    return reason


def _audit(db: Session, action: str, actor: User, case_id: str, now: int, **detail: object) -> None:
    record(db, action, now=now, actor_id=actor.id, actor=actor.username, case_id=case_id, **detail)


def _case_identity(db: Session, user: User, case_id: str) -> tuple[Case, CaseKeyWrap, Identity]:
    case, wrap = cases.case_for_user(db, user, case_id)
    identity = services.of_case(db, case.id)
    if identity is None:
        raise NotFound("The source of this case gave no identity.")
    return case, wrap, identity


def request_access(ctx: OrgContext, user: User, case_id: str, reason: str) -> IdentityRequest:
    """A recipient of the case asks a custodian to see the source's identity."""
    reason = check_reason(reason)
    now = ctx.now()
    with ctx.db() as db:
        case, _, identity = _case_identity(db, user, case_id)
        if services.holds(db, identity, user):
            raise Conflict("You can already see the source's identity.")
        waiting = db.scalar(
            select(IdentityRequest.id).where(
                IdentityRequest.identity_id == identity.id,
                IdentityRequest.requester_id == user.id,
                IdentityRequest.status == RequestStatus.PENDING.value,
            )
        )
        if waiting is not None:
            raise Conflict("Your request is already waiting for a custodian.")
        request_id = new_id()
        key = crypto.new_secret()
        context = bytes.fromhex(request_id)
        row = IdentityRequest(
            id=request_id,
            identity_id=identity.id,
            requester_id=user.id,
            reason=crypto.seal_meta(context, key, {"reason": reason}),
            reason_key_wrap=crypto.wrap_key(
                identity.public_key, key, crypto.WrapPurpose.ITEM_KEY, context
            ),
            status=RequestStatus.PENDING.value,
            created_at=coarse(now),
        )
        db.add(row)
        db.flush()
        _audit(db, "identity.request", user, case.id, now, request_id=request_id)
        return row


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A request as a custodian sees it: no case content, only who, which case, the reason."""

    id: str
    case_id: str
    pseudonym: str
    requester: str
    created_at: int
    reason: str | None  # None when the custodian's key is offline or holds no wrap to it
    decidable: bool  # the custodian holds this identity's key


def require_custodian(user: User) -> None:
    if user.role != Role.CUSTODIAN.value:
        raise Forbidden("Only custodians decide who may see a source's identity.")


def pending(ctx: OrgContext, custodian: User, seed: bytes | None) -> list[PendingRequest]:
    """Every request waiting for a decision, oldest first; with the custodian's key in
    their session, the reasons they can open. Reads only: the page and the API's list are
    GETs (sharing identities with colleagues happens at login and at a decision)."""
    require_custodian(custodian)
    with ctx.db() as db:
        rows = db.execute(
            select(IdentityRequest, Identity, Case.pseudonym, User.username)
            .join(Identity, Identity.id == IdentityRequest.identity_id)
            .join(Case, Case.id == Identity.case_id)
            .outerjoin(User, User.id == IdentityRequest.requester_id)
            .where(IdentityRequest.status == RequestStatus.PENDING.value)
            .order_by(IdentityRequest.created_at, IdentityRequest.id)
        ).all()
        found = []
        for request, identity, pseudonym, username in rows:
            decidable = services.holds(db, identity, custodian)
            reason = None
            if decidable and seed is not None:
                key_pair = services.identity_key(db, identity, custodian, seed)
                reason = _reason(request, key_pair)
            found.append(
                PendingRequest(
                    id=request.id,
                    case_id=identity.case_id,
                    pseudonym=pseudonym,
                    requester=username or "",
                    created_at=request.created_at,
                    reason=reason,
                    decidable=decidable,
                )
            )
        return found


def _reason(request: IdentityRequest, key_pair: crypto.KeyPair) -> str:
    context = bytes.fromhex(request.id)
    key = key_pair.unwrap(request.reason_key_wrap, crypto.WrapPurpose.ITEM_KEY, context)
    value = crypto.open_meta(context, key, request.reason).get("reason")
    if not isinstance(value, str):
        raise crypto.DecryptionError()
    return value


def decide(
    ctx: OrgContext, custodian: User, seed: bytes | None, request_id: str, *, approve: bool
) -> IdentityRequest:
    """Approve (wrap the identity key to the requester) or deny a pending request. The
    custodian's own key opens the identity key, so their key must be on the server. With it,
    the identities they hold are also wrapped to the active custodians who lack them
    (``custodians.share_held``, audited), so that any of them can decide."""
    require_custodian(custodian)
    now = ctx.now()
    with ctx.db() as db:
        custodians.share_held(db, custodian, seed, now=now)
        request = db.get(IdentityRequest, request_id) if len(request_id) == 32 else None
        if request is None or request.status != RequestStatus.PENDING.value:
            raise NotFound(NO_REQUEST)
        identity = db.get(Identity, request.identity_id)
        requester = db.get(User, request.requester_id) if request.requester_id else None
        if identity is None:
            raise NotFound(NO_REQUEST)  # pragma: no cover - cascades with its identity
        if approve:
            key_pair = services.identity_key(db, identity, custodian, seed)
            if (
                requester is None
                or requester.disabled
                or requester.role != Role.RECIPIENT.value
                or db.get(CaseKeyWrap, (identity.case_id, requester.id)) is None
            ):
                raise InvalidInput("The recipient who asked no longer has access to the case.")
            if not services.holds(db, identity, requester):
                db.add(
                    IdentityKeyWrap(
                        identity_id=identity.id,
                        user_id=requester.id,
                        wrapped=services.wrap_seed(requester, key_pair, identity),
                    )
                )
        elif not services.holds(db, identity, custodian):
            raise Forbidden("You have not been allowed to see the source's identity.")
        request.status = (RequestStatus.APPROVED if approve else RequestStatus.DENIED).value
        request.decided_by = custodian.id
        request.decided_at = coarse(now)
        db.flush()
        action = "identity.approve" if approve else "identity.deny"
        _audit(
            db,
            action,
            custodian,
            identity.case_id,
            now,
            request_id=request.id,
            user_id=request.requester_id,
        )
        return request


def read(ctx: OrgContext, user: User, seed: bytes | None, case_id: str) -> services.OpenedIdentity:
    """An allowed recipient opens the source's identity; every opening is recorded."""
    now = ctx.now()
    with ctx.db() as db:
        case, _, identity = _case_identity(db, user, case_id)
        key_pair = services.identity_key(db, identity, user, seed)
        opened = services.open_identity(db, ctx.blobs, identity, key_pair)
        _audit(db, "identity.read", user, case.id, now)
        return opened
