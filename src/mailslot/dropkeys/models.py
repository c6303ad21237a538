"""The tables of sealed drops (migration 0009; docs/spec/sealed-drops.md)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, id_column, time_column


class DropKey(Base):
    """One drop key of a channel: its public age recipient (published on ``/keys``). The
    newest key of a channel without ``retired_at`` is the one sources seal to; retired keys
    stay, so that drops sealed to them still open for those who held them."""

    __tablename__ = "drop_keys"

    id: Mapped[str] = id_column()
    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(Text)  # age1pq1…
    created_at: Mapped[int] = time_column()  # to the hour
    retired_at: Mapped[int | None] = time_column(default=None)  # to the hour


class DropKeyWrap(Base):
    """A drop key's 32-byte identity, HPKE-wrapped to one recipient (like a case key)."""

    __tablename__ = "drop_key_wraps"

    drop_key_id: Mapped[str] = mapped_column(
        ForeignKey("drop_keys.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class SigningKeyRow(Base):
    """The organisation's signing key (one row). Its seed is held by the server, so that a
    new manifest can be signed whenever a key changes, whoever changes it (see
    docs/threat-model.md, "Sealed drops", for what this costs)."""

    __tablename__ = "signing_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = time_column()  # to the hour


class KeyManifest(Base):
    """One version of the published key manifest, as signed; append-only."""

    __tablename__ = "key_manifests"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    previous: Mapped[str | None] = mapped_column(String(64), default=None)
    body: Mapped[str] = mapped_column(Text)  # the signed manifest's JSON
    created_at: Mapped[int] = time_column()  # to the day
