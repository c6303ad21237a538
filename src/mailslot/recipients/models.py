from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, id_column, time_column


class Role(enum.StrEnum):
    ADMIN = "admin"
    RECIPIENT = "recipient"
    ANALYST = "analyst"  # sees statistics only: no cases, no content
    CUSTODIAN = "custodian"  # decides who may open a source's identity; no cases


class User(Base):
    """A staff account. The private key exists only wrapped (password, recovery key)."""

    __tablename__ = "users"

    id: Mapped[str] = id_column()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    # The language of the notices sent there; empty: the organisation's default language.
    locale: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # The name sources see when a channel lets them choose its recipients (public).
    display_name: Mapped[str | None] = mapped_column(String(64), default=None)
    password_kdf: Mapped[str] = mapped_column(String(64))
    password_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    password_verifier: Mapped[bytes] = mapped_column(LargeBinary(32))
    totp_secret: Mapped[str] = mapped_column(String(64))
    totp_last_counter: Mapped[int] = mapped_column(Integer, default=0)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_password_wrap: Mapped[bytes | None] = mapped_column(LargeBinary)
    private_key_recovery_wrap: Mapped[bytes | None] = mapped_column(LargeBinary)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The private key lives only in an offline key file: the server holds no usable wrap.
    key_offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[int] = time_column()


class Enrollment(Base):
    """A one-time link to create an account: the first admin's setup link or an invitation."""

    __tablename__ = "enrollments"

    id: Mapped[str] = id_column()
    token_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    username: Mapped[str | None] = mapped_column(String(64), default=None)
    channel_ids: Mapped[str] = mapped_column(Text, default="")
    totp_secret: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    expires_at: Mapped[int] = time_column()
    used_at: Mapped[int | None] = time_column(default=None)


class WebauthnCredential(Base):
    """A security key registered as a second factor (WebAuthn). Only what verification needs:
    no attestation, no authenticator model (AAGUID), no transports."""

    __tablename__ = "webauthn_credentials"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(64))
    # Both dates are coarse (to the hour): when someone logs in is not kept precisely.
    created_at: Mapped[int] = time_column()
    last_used_at: Mapped[int | None] = time_column(default=None)
