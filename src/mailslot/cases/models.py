from __future__ import annotations

import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, id_column, time_column


class ItemKind(enum.StrEnum):
    MESSAGE = "message"  # text from the source
    FILE = "file"  # a document from the source
    REPLY = "reply"  # text from a recipient to the source
    NOTE = "note"  # an internal note among staff: wrapped to the case key only, never the source


class CaseStatus(enum.StrEnum):
    """The phase of a case. Channels may name finer statuses within a phase (``CustomStatus``)."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class KeyHolder(enum.StrEnum):
    CASE = "case"
    SOURCE = "source"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_channel_activity", "channel_id", "activity_seq"),
        # The inbox (cases.inbox): each sort is an ordered index scan and each filter has an
        # index; they end in ``id`` so that checking the reader's key wrap (by case id) and
        # counting need not read the wide case rows (a public key each); the date indexes
        # also carry activity_seq, to sort a date range by activity from the index alone, and
        # the activity index the dates, to check a wide range along it.
        Index("ix_cases_status_activity", "status", "activity_seq", "id", "due_at"),
        Index("ix_cases_activity_seq", "activity_seq", "id", "created_at", "last_activity_at"),
        Index("ix_cases_due_at", "due_at", "id", "activity_seq"),
        Index("ix_cases_created_at", "created_at", "id", "activity_seq"),
        Index("ix_cases_last_activity_at", "last_activity_at", "id", "activity_seq"),
        Index("ix_cases_custom_status", "custom_status_id", "activity_seq", "id"),
        Index("ix_cases_important", "important", "activity_seq", "id"),
        # Statistics (stats.services): every aggregate is one scan of this index, not of
        # the table, whose rows carry a public key each.
        Index(
            "ix_cases_stats",
            "created_at",
            "channel_id",
            "status",
            "acknowledge_by",
            "acknowledged_at",
            "feedback_by",
            "feedback_at",
            "closed_at",
            "due_at",
        ),
    )

    id: Mapped[str] = id_column()
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="RESTRICT"))
    source_id: Mapped[str | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    pseudonym: Mapped[str] = mapped_column(String(100), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = time_column()
    last_activity_at: Mapped[int] = time_column()
    # Orders the inbox without exact times: bumped from a counter on every new item.
    activity_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    # Case work (issue 6). The status and flags are in clear so the inbox can filter on them;
    # reasons and notes are sealed items. All times are coarse (to the hour).
    status: Mapped[str] = mapped_column(
        String(16), default=CaseStatus.NEW.value, server_default="new"
    )
    custom_status_id: Mapped[str | None] = mapped_column(
        ForeignKey("custom_statuses.id", ondelete="SET NULL"), default=None
    )
    important: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Deadlines (EU Directive 2019/1937 art. 9): acknowledge receipt, then give feedback.
    acknowledge_by: Mapped[int | None] = time_column(default=None)
    acknowledged_at: Mapped[int | None] = time_column(default=None)
    feedback_by: Mapped[int | None] = time_column(default=None)
    feedback_at: Mapped[int | None] = time_column(default=None)
    closed_at: Mapped[int | None] = time_column(default=None)
    # The next deadline still open (acknowledge_by, then feedback_by; NULL once both are met
    # or the case is closed): what "overdue" and "sort by deadline" use.
    due_at: Mapped[int | None] = time_column(default=None)
    # The due_at a reminder was last queued for (so each deadline is reminded once).
    reminded_for: Mapped[int | None] = time_column(default=None)
    # Retention: a recipient may keep the case past its channel's rule, with a reason.
    keep_until: Mapped[int | None] = time_column(default=None)
    # The version of ``public_key``: each revocation of someone's access rotates the case key
    # (``cases.access.revoke``); earlier versions' seeds are in ``case_past_key_wraps``.
    key_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The source chose its recipients: only they (the holders from the start) may grant access.
    recipients_chosen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CustomStatus(Base):
    """A channel's own name for a step within a phase (e.g. "in progress: legal review")."""

    __tablename__ = "custom_statuses"
    __table_args__ = (UniqueConstraint("channel_id", "name"),)

    id: Mapped[str] = id_column()
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    phase: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Label(Base):
    """A label recipients put on cases (instance-wide, in clear: keep names generic)."""

    __tablename__ = "labels"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = time_column()


class CaseLabel(Base):
    __tablename__ = "case_labels"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    label_id: Mapped[str] = mapped_column(
        ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CaseAssignee(Base):
    __tablename__ = "case_assignees"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CaseAccess(Base):
    """Who held a key to the case, from when to when, and who granted or revoked it."""

    __tablename__ = "case_access"

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    granted_at: Mapped[int] = time_column()
    revoked_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[int | None] = time_column(default=None)


class CaseKeyWrap(Base):
    """The case's private key seed, wrapped to one recipient's public key."""

    __tablename__ = "case_key_wraps"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class CasePastKeyWrap(Base):
    """The seed of an earlier version of the case key, wrapped to one current holder: items
    sealed before a rotation stay readable by those who still hold the case."""

    __tablename__ = "case_past_key_wraps"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("case_id", "position"),)

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    blob_id: Mapped[str] = mapped_column(String(64), unique=True)
    stored_size: Mapped[int] = mapped_column(BigInteger)
    sealed_meta: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = time_column()
    # Set when the source has opened a reply (shown to recipients as "read").
    seen_by_source: Mapped[bool] = mapped_column(default=False)
    # The case key version the item's data key is wrapped to (``Case.key_version`` then).
    key_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ItemKeyWrap(Base):
    """An item's data key wrapped to the case key or to the source's key."""

    __tablename__ = "item_key_wraps"

    item_id: Mapped[str] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(String(16), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class CaseRead(Base):
    """How far each recipient has read a case (for the unread mark)."""

    __tablename__ = "case_reads"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    activity_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class Counter(Base):
    """Named monotonic counters (the inbox's activity order)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
