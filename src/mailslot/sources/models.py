from __future__ import annotations

from sqlalchemy import LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, id_column, time_column


class Source(Base):
    """What the server keeps about a source: a lookup tag and a public key, both derived
    from the codename with Argon2id. Neither allows a guess cheaper than that work."""

    __tablename__ = "sources"

    id: Mapped[str] = id_column()
    lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = time_column()
