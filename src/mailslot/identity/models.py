"""The tables of identity on request (migration 0011).

A source's identity is sealed like an item (``MSLI``, its metadata ``MSLM``), but apart from
the case: its data key is never wrapped to the case key. It is wrapped only to custodians
and to the recipients a custodian allowed (``IdentityKeyWrap``), and it is also the seed of
the identity's own key pair (every use of it goes through HKDF with its own label: the
item's payload and metadata keys, the key pair's ML-KEM and X25519 seeds), whose public key
lets a recipient seal a request's reason (under a fresh key wrapped to it) for the key's
holders alone. What stays in clear: that a case has an identity, who asked and who
decided, when (to the hour), and the decision.
"""

from __future__ import annotations

import enum

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, id_column, time_column


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class Identity(Base):
    """A source's identity, sealed apart: one per case. ``id`` is the sealed item's id."""

    __tablename__ = "identities"

    id: Mapped[str] = id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    # The public key of the key pair whose seed is the data key (the row stays under a
    # quarter of a page: no overflow page holds part of it).
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    blob_id: Mapped[str] = mapped_column(String(64), unique=True)
    stored_size: Mapped[int] = mapped_column(BigInteger)
    sealed_meta: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = time_column()


class IdentityKeyWrap(Base):
    """The identity's data key (its key pair's seed), wrapped (purpose "identity-key",
    context: the identity's id) to a custodian or to an allowed recipient."""

    __tablename__ = "identity_key_wraps"

    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)


class IdentityRequest(Base):
    """A recipient's request to see a case's identity, and a custodian's decision."""

    __tablename__ = "identity_requests"

    id: Mapped[str] = id_column()
    identity_id: Mapped[str] = mapped_column(
        ForeignKey("identities.id", ondelete="CASCADE"), index=True
    )
    requester_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The reason, sealed (``MSLM``, context: the request id) under a fresh key, and that key
    # wrapped to the identity's public key.
    reason: Mapped[bytes] = mapped_column(LargeBinary)
    reason_key_wrap: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.PENDING.value)
    created_at: Mapped[int] = time_column()
    decided_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    decided_at: Mapped[int | None] = time_column(default=None)
