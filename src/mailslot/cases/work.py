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
- **Access** (granting, revoking, rotating the case key) is in :mod:`mailslot.cases.access`;
  what the case page's panel shows, in :mod:`mailslot.cases.panel`.

Every action appends an audit event in the caller's unit of work, with ids, names and
statuses only: never a note's text or a close reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from mailslot.audit.services import record
from mailslot.cases import deadlines
from mailslot.cases.models import (
    Case,
    CaseAssignee,
    CaseKeyWrap,
    CaseLabel,
    CaseStatus,
    CustomStatus,
    ItemKind,
    Label,
)
from mailslot.cases.sealing import SealedItem, record_items, seal_text
from mailslot.channels import settings as channel_settings
from mailslot.channels.models import Channel
from mailslot.db.base import coarse
from mailslot.errors import InvalidInput, NotFound
from mailslot.i18n import N_plural
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


def audit_case_event(
    db: Session, action: str, case: Case, actor: User, now: int, **detail: object
) -> None:
    """The audit event of a step on ``case`` (shared with :mod:`mailslot.cases.access`)."""
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
    audit_case_event(db, "case.note", case, actor, now, item_id=item_id)
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
    audit_case_event(db, "case.status", case, actor, now, **detail)
    return True


# Important.


def set_important(db: Session, case: Case, actor: User, important: bool, *, now: int) -> bool:
    if case.important == important:
        return False
    case.important = important
    db.flush()
    audit_case_event(db, "case.important", case, actor, now, important=important)
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
    audit_case_event(db, "case.label.add", case, actor, now, label_id=label.id, label=label.name)
    return label


def remove_label(db: Session, case: Case, actor: User, label_id: str, *, now: int) -> None:
    link = db.get(CaseLabel, (case.id, label_id)) if len(label_id) == 32 else None
    if link is None:
        raise NotFound("This label is not on the case.")
    label = db.get(Label, label_id)
    db.delete(link)
    db.flush()
    audit_case_event(
        db,
        "case.label.remove",
        case,
        actor,
        now,
        label_id=label_id,
        label=label.name if label else "",
    )


# Assignment.


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
        audit_case_event(
            db, "case.assign", case, actor, now, user_id=user.id, username=user.username
        )
    return user


def unassign(db: Session, case: Case, actor: User, user_id: str, *, now: int) -> None:
    link = db.get(CaseAssignee, (case.id, user_id)) if len(user_id) == 32 else None
    if link is None:
        raise NotFound("This person is not assigned to the case.")
    user = db.get(User, user_id)
    db.delete(link)
    db.flush()
    audit_case_event(
        db,
        "case.unassign",
        case,
        actor,
        now,
        user_id=user_id,
        username=user.username if user else "",
    )
