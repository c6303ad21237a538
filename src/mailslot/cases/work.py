"""Case work: what a case handler does with one case. Deadlines are in
:mod:`mailslot.cases.deadlines`.

- **Status.** A case is in one of four phases (``CaseStatus``: new, acknowledged,
  in_progress, closed); a channel may name finer steps within a phase (``CustomStatus``), and
  choosing one sets its phase. Moving past "new" acknowledges receipt (the feedback clock
  starts). Closing needs a reason, kept as a sealed internal note ("Closed: …"), and counts
  as feedback to the source: the Directive asks for feedback on the outcome, and a closed
  case has no deadline left. Reopening clears ``closed_at``; the deadlines not yet met
  apply again.
- **Labels** are stored once per name and in clear (so the inbox can filter on them): their
  names must stay generic. A recipient is offered only the labels on cases they hold a key
  to, never a name a colleague put on a case they cannot open. **Assignees** and the
  **important** flag are in clear too.
- **Notes** are sealed items wrapped to the case key only: the source never reads them.
- **Access.** Granting wraps the case key seed, and the seeds of its earlier versions
  (opened with the granter's own key), to another active recipient's public key. Revoking
  destroys that person's wraps and rotates the case key: a new version for the remaining
  holders, under which everything sealed afterwards is wrapped, so a revoked holder who kept
  the old key reads nothing new. ``CaseAccess`` keeps the history. Removing someone from a
  channel leaves the wraps of cases they already hold: their access to those cases ends
  only when it is revoked here (or the case is deleted); a recipient added to a channel
  later gets only the channel's new cases.

Every action appends an audit event in the caller's unit of work, with ids, names and
statuses only: never a note's text or a close reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.audit.services import record
from mailslot.cases import deadlines
from mailslot.cases.errors import CaseNotFound
from mailslot.cases.models import (
    Case,
    CaseAccess,
    CaseAssignee,
    CaseKeyWrap,
    CaseLabel,
    CasePastKeyWrap,
    CaseRead,
    CaseStatus,
    CustomStatus,
    ItemKind,
    Label,
)
from mailslot.cases.services import (
    SealedItem,
    case_keys,
    past_key_wraps,
    record_items,
    rotate_case_key,
    seal_text,
)
from mailslot.channels import settings as channel_settings
from mailslot.channels.models import Channel
from mailslot.db.base import coarse, shred_on_commit
from mailslot.errors import Conflict, Forbidden, InvalidInput, NotFound
from mailslot.i18n import N_, N_plural
from mailslot.identity.requests import IdentityPanel
from mailslot.identity.requests import panel as identity_panel
from mailslot.recipients.models import Role, User
from mailslot.storage import BlobStore
from mailslot.text import plain_text

MAX_NOTE_CHARS: Final = 20_000
MAX_REASON_CHARS: Final = 2_000
MAX_LABEL_CHARS: Final = 64
PHASES: Final = tuple(CaseStatus)


def check_note(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("Write a note before saving.")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput(
            N_plural(
                "The note is too long (at most %(num)s character).",
                "The note is too long (at most %(num)s characters).",
            ),
            num=MAX_NOTE_CHARS,
        )
    return text


def add_note(
    db: Session,
    blobs: BlobStore,
    case: Case,
    text: str,
    *,
    author_id: str | None,
    now: int,
    written: list[str] | None = None,
) -> str:
    """An internal note: sealed under a fresh data key wrapped to the case key only, so staff
    with access can read it and the source's codename never opens it. Returns the item id.

    The blob is written before the rows; if the unit of work fails, the caller's rollback
    leaves an orphan blob that nothing references, so delete it on failure (its id is
    appended to ``written`` for that).
    """
    upload = seal_text(blobs, check_note(text))
    if written is not None:
        written.append(upload.blob_id)
    try:
        rows = record_items(
            db,
            case,
            [SealedItem(upload=upload, kind=ItemKind.NOTE, meta={})],
            now=now,
            author_id=author_id,
            source_public_key=None,
        )
    except BaseException:
        blobs.delete(upload.blob_id)
        raise
    return rows[0].id


def _audit(db: Session, action: str, case: Case, actor: User, now: int, **detail: object) -> None:
    record(db, action, now=now, actor_id=actor.id, actor=actor.username, case_id=case.id, **detail)


# Notes.


def write_note(
    db: Session,
    blobs: BlobStore,
    case: Case,
    actor: User,
    text: str,
    *,
    now: int,
    written: list[str] | None = None,
) -> str:
    """A note from a form or the API: sealed, and audited (the event names the item only)."""
    item_id = add_note(db, blobs, case, text, author_id=actor.id, now=now, written=written)
    _audit(db, "case.note", case, actor, now, item_id=item_id)
    return item_id


# Status.


def custom_statuses(db: Session, channel_id: str) -> list[CustomStatus]:
    """A channel's own statuses, in phase order, then by position and name."""
    rows = db.scalars(select(CustomStatus).where(CustomStatus.channel_id == channel_id))
    order = {phase.value: number for number, phase in enumerate(PHASES)}
    return sorted(rows, key=lambda s: (order.get(s.phase, len(order)), s.position, s.name))


@dataclass(frozen=True, slots=True)
class StatusChoice:
    """A channel's own status as a reader sees it: named in the reader's language."""

    id: str
    phase: str
    name: str


def status_choices(db: Session, channel_id: str, locale: str | None) -> list[StatusChoice]:
    """:func:`custom_statuses`, each named in ``locale`` (None: the default language)."""
    found = custom_statuses(db, channel_id)
    names = channel_settings.names_in(db, {s.id: s.name for s in found}, locale)
    return [StatusChoice(s.id, s.phase, names[s.id]) for s in found]


REASON_TOO_LONG: Final = N_plural(
    "The reason is too long (at most %(num)s character).",
    "The reason is too long (at most %(num)s characters).",
)


def check_reason(reason: str) -> str:
    reason = plain_text(reason, multiline=True).strip()
    if not reason:
        raise InvalidInput("Give a reason for closing the case.")
    if len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(REASON_TOO_LONG, num=MAX_REASON_CHARS)
    return reason


def set_status(
    db: Session,
    blobs: BlobStore,
    case: Case,
    actor: User,
    *,
    status: str | None,
    custom_status_id: str | None = None,
    reason: str = "",
    now: int,
    written: list[str] | None = None,
) -> bool:
    """Move the case to a phase, or to one of its channel's custom statuses (which sets the
    phase). Returns False when nothing changed."""
    custom = None
    if custom_status_id:
        custom = db.get(CustomStatus, custom_status_id) if len(custom_status_id) == 32 else None
        if custom is None or custom.channel_id != case.channel_id:
            raise InvalidInput("Choose one of this channel's statuses.")
        if status and status != custom.phase:
            raise InvalidInput("This status belongs to another phase.")
        status = custom.phase
    try:
        status = CaseStatus(status or "").value
    except ValueError:
        raise InvalidInput("Choose one of this channel's statuses.") from None
    custom_id = custom.id if custom else None
    if status == case.status and custom_id == case.custom_status_id:
        return False
    closing = status == CaseStatus.CLOSED.value and case.status != CaseStatus.CLOSED.value
    if closing:
        # Checked before anything changes: a refused close leaves no trace.
        note = "Closed: " + check_reason(reason)
    channel = db.get(Channel, case.channel_id)
    if channel is None:  # pragma: no cover - the foreign key forbids it
        raise NotFound("This channel does not exist.")
    if status != CaseStatus.NEW.value:
        deadlines.acknowledge(case, channel, now)
    if closing:
        add_note(db, blobs, case, note, author_id=actor.id, now=now, written=written)
        deadlines.give_feedback(case, channel, now)
        case.closed_at = coarse(now)
    elif status != CaseStatus.CLOSED.value:
        case.closed_at = None
    case.status = status
    case.custom_status_id = custom_id
    deadlines.refresh_due(case)
    detail: dict[str, object] = {"status": status}
    if custom is not None:
        detail.update(custom_status_id=custom.id, custom_status=custom.name)
    db.flush()
    _audit(db, "case.status", case, actor, now, **detail)
    return True


# Important.


def set_important(db: Session, case: Case, actor: User, important: bool, *, now: int) -> bool:
    if case.important == important:
        return False
    case.important = important
    db.flush()
    _audit(db, "case.important", case, actor, now, important=important)
    return True


# Labels.


def clean_label(name: str) -> str:
    name = " ".join(plain_text(name).split())
    if not name:
        raise InvalidInput("Write a label name.")
    if len(name) > MAX_LABEL_CHARS:
        raise InvalidInput(
            N_plural(
                "A label name is at most %(num)s character long.",
                "A label name is at most %(num)s characters long.",
            ),
            num=MAX_LABEL_CHARS,
        )
    return name


def labels_in_reach(db: Session, user: User) -> list[Label]:
    """The labels on at least one case ``user`` holds a key to: the names they may be shown
    (as suggestions, filters, in the API). A label on other cases only stays unknown."""
    return list(
        db.scalars(
            select(Label)
            .where(
                exists().where(
                    CaseLabel.label_id == Label.id,
                    CaseKeyWrap.case_id == CaseLabel.case_id,
                    CaseKeyWrap.user_id == user.id,
                )
            )
            .order_by(Label.name)
        )
    )


def case_labels(db: Session, case: Case) -> list[Label]:
    return list(
        db.scalars(
            select(Label)
            .join(CaseLabel, CaseLabel.label_id == Label.id)
            .where(CaseLabel.case_id == case.id)
            .order_by(Label.name)
        )
    )


def add_label(db: Session, case: Case, actor: User, name: str, *, now: int) -> Label:
    """Put a label on the case, creating it on first use (names are instance-wide)."""
    name = clean_label(name)
    label = db.scalar(select(Label).where(Label.name == name))
    if label is None:
        label = Label(name=name, created_at=coarse(now))
        db.add(label)
        db.flush()
    elif db.get(CaseLabel, (case.id, label.id)) is not None:
        return label
    db.add(CaseLabel(case_id=case.id, label_id=label.id))
    db.flush()
    _audit(db, "case.label.add", case, actor, now, label_id=label.id, label=label.name)
    return label


def remove_label(db: Session, case: Case, actor: User, label_id: str, *, now: int) -> None:
    link = db.get(CaseLabel, (case.id, label_id)) if len(label_id) == 32 else None
    if link is None:
        raise NotFound("This label is not on the case.")
    label = db.get(Label, label_id)
    db.delete(link)
    db.flush()
    _audit(
        db,
        "case.label.remove",
        case,
        actor,
        now,
        label_id=label_id,
        label=label.name if label else "",
    )


# People: who holds the key, who is assigned, who may be given access.


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


def assignees(db: Session, case: Case) -> list[User]:
    return list(
        db.scalars(
            select(User)
            .join(CaseAssignee, CaseAssignee.user_id == User.id)
            .where(CaseAssignee.case_id == case.id)
            .order_by(User.username)
        )
    )


def _holder(db: Session, case: Case, user_id: str) -> User | None:
    if len(user_id) != 32 or db.get(CaseKeyWrap, (case.id, user_id)) is None:
        return None
    return db.get(User, user_id)


def assign(db: Session, case: Case, actor: User, user_id: str, *, now: int) -> User:
    user = _holder(db, case, user_id)
    if user is None or user.disabled or user.role != Role.RECIPIENT.value:
        raise InvalidInput("Only someone with access to this case can be assigned to it.")
    if db.get(CaseAssignee, (case.id, user.id)) is None:
        db.add(CaseAssignee(case_id=case.id, user_id=user.id))
        db.flush()
        _audit(db, "case.assign", case, actor, now, user_id=user.id, username=user.username)
    return user


def unassign(db: Session, case: Case, actor: User, user_id: str, *, now: int) -> None:
    link = db.get(CaseAssignee, (case.id, user_id)) if len(user_id) == 32 else None
    if link is None:
        raise NotFound("This person is not assigned to the case.")
    user = db.get(User, user_id)
    db.delete(link)
    db.flush()
    _audit(
        db,
        "case.unassign",
        case,
        actor,
        now,
        user_id=user_id,
        username=user.username if user else "",
    )


# Access.


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
    _audit(db, "case.access.grant", case, granter, now, user_id=user.id, username=user.username)
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
    _audit(
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


# What the case page shows.


@dataclass
class CasePanel:
    """Everything the case page's work panel shows (all of it in clear in the database)."""

    phases: tuple[CaseStatus, ...]
    custom_statuses: list[StatusChoice]  # named in the reader's language
    current_custom: StatusChoice | None
    labels: list[Label]
    all_labels: list[Label]  # the labels the reader may choose from (``labels_in_reach``)
    assignees: list[User]
    holders: list[User]
    history: list[AccessEntry]
    grantable: list[User]
    identity: IdentityPanel | None = None  # None: the source gave no identity


def case_panel(db: Session, case: Case, reader: User, locale: str | None = None) -> CasePanel:
    """The work panel as ``reader`` sees it, custom statuses named in ``locale``."""
    statuses = status_choices(db, case.channel_id, locale)
    holding = holders(db, case)
    held = {user.id for user in holding}
    return CasePanel(
        phases=PHASES,
        custom_statuses=statuses,
        current_custom=next((s for s in statuses if s.id == case.custom_status_id), None),
        labels=case_labels(db, case),
        all_labels=labels_in_reach(db, reader),
        assignees=assignees(db, case),
        holders=holding,
        history=access_history(db, case),
        grantable=[user for user in active_recipients(db) if user.id not in held]
        if may_grant(db, case, reader)
        else [],
        identity=identity_panel(db, case, reader),
    )
