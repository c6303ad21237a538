from __future__ import annotations

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, time_column


class Instance(Base):
    """The one row of instance-wide settings."""

    __tablename__ = "instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    guidance: Mapped[str] = mapped_column(Text, default="")
    # SecureDrop's rule by default: a returning source cannot read back what they sent.
    show_source_submissions: Mapped[bool] = mapped_column(Boolean, default=False)
    codename_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    source_kdf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = time_column()
