from __future__ import annotations

from sqlalchemy import Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, time_column


class RateBucket(Base):
    """A token bucket for an instance-wide rate (new sources, submissions)."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class LoginThrottle(Base):
    """Failed staff logins per username (known or not, so that it reveals nothing).

    Keyed by a digest of the lower-cased username; nothing about the client is kept.
    """

    __tablename__ = "login_throttles"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[int] = time_column()
    locked_until: Mapped[int] = time_column(default=0)
    # Failures the account holder has not yet been told about (shown at the next login).
    unreported: Mapped[int] = mapped_column(Integer, default=0)
