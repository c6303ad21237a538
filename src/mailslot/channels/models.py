from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, id_column, time_column


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = time_column()
    # Deadlines for new cases (EU Directive 2019/1937 art. 9: 7 days, then 3 months).
    acknowledge_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    feedback_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    # Retention: purge a case this many days after its last activity, or after closing.
    retention_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    closed_retention_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # Sources choose which of its recipients (by display name) receive their case.
    sources_choose: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AutoReply(Base):
    """The automatic acknowledgement a channel sends a new source, one text per language."""

    __tablename__ = "auto_replies"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class ChannelMember(Base):
    __tablename__ = "channel_members"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
