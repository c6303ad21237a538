from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, time_column


class PendingNotice(Base):
    """One recipient has news waiting: at most one row per recipient, however much arrived.

    ``due_at`` is the end of the batching window in which the news came, so the mail's time
    says only "something arrived in that window". Times are coarse (window boundaries).
    """

    __tablename__ = "pending_notices"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    due_at: Mapped[int] = time_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set while one process delivers it, so that no two processes send the same notice.
    claimed_until: Mapped[int] = time_column(default=0)
    # The type of the last delivery error (e.g. "SMTPAuthenticationError"), never its text.
    last_error: Mapped[str | None] = mapped_column(String(64), default=None)
