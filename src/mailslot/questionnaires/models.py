"""The tables of questionnaires (migration 0010; docs/spec/questionnaire.md).

A channel's questionnaire is kept as versions: every change is a new row, the older rows
stay so that answers given against them can still be read (they name their version by its
hash). At most one version of a channel is current; removing a questionnaire leaves none.
Definitions are not secret (every source sees them) and are kept in clear.

A source's answers in progress are a draft, sealed under the source's session key and
deleted with the session, at sending, and when the session expires.

Migration 0013 adds two tables. ``questionnaire_draft_files`` names the blobs of the files a
draft holds (the blob id only: the file's key, name and size are in the sealed draft), so
that a session that ends without sending leaves no blob behind: its rows lose their session
(``ON DELETE SET NULL``) and the background jobs delete those blobs. ``questionnaire_answer_counts``
holds counts per answer of the fields a questionnaire marks ``"statistics": true``, per
channel, questionnaire version, field, option and month, never per case.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, id_column, time_column


class QuestionnaireVersion(Base):
    """One version of a channel's questionnaire: its canonical JSON and that JSON's hash."""

    __tablename__ = "questionnaires"
    __table_args__ = (UniqueConstraint("channel_id", "version"),)

    id: Mapped[str] = id_column()
    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, … per channel
    content_hash: Mapped[str] = mapped_column(String(80))  # sha256:<hex>
    definition: Mapped[str] = mapped_column(Text)  # canonical JSON
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = time_column()  # to the day


class QuestionnaireDraft(Base):
    """A source's answers in progress: sealed under the session's key, padded, and gone
    with the session."""

    __tablename__ = "questionnaire_drafts"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class QuestionnaireDraftFile(Base):
    """The blob of a file kept in a draft, until it is sent or its session ends."""

    __tablename__ = "questionnaire_draft_files"

    blob_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="SET NULL"), index=True, nullable=True
    )


class AnswerCount(Base):
    """How many answer sets sent in a month chose an option of a counted field."""

    __tablename__ = "questionnaire_answer_counts"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    questionnaire_id: Mapped[str] = mapped_column(
        ForeignKey("questionnaires.id", ondelete="CASCADE"), primary_key=True
    )
    field_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    option_id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "" for no answer
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    count: Mapped[int] = mapped_column(Integer, default=0)
