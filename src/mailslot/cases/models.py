from __future__ import annotations

import enum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, id_column, time_column


class ItemKind(enum.StrEnum):
    MESSAGE = "message"  # text from the source
    FILE = "file"  # a document from the source
    REPLY = "reply"  # text from a recipient to the source


class KeyHolder(enum.StrEnum):
    CASE = "case"
    SOURCE = "source"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_channel_activity", "channel_id", "activity_seq"),)

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
