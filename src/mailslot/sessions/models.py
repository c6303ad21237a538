from __future__ import annotations

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, time_column


class Session(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    created_at: Mapped[int] = time_column()
    last_seen_at: Mapped[int] = time_column()
    expires_at: Mapped[int] = time_column(index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
