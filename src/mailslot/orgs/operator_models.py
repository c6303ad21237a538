"""The host operator's own tables, in the host registry beside the organisations (never in an
organisation's database): operator accounts, their sessions, login throttles, the log of
what operators did, and each organisation's last measured usage.

Rows keyed by random values are ``WITHOUT ROWID`` on SQLite, like an organisation's tables
(``db/models.py``), so that no hidden counter keeps the order they were written in. The log
is the exception: its order is its point.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.orgs.models import RegistryBase

_NO_ROWID: Final[dict[str, Any]] = {"sqlite_with_rowid": False}


class Operator(RegistryBase):
    """A host operator's account: password (Argon2id, as staff passwords) and TOTP."""

    __tablename__ = "operators"
    __table_args__ = _NO_ROWID

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_kdf: Mapped[str] = mapped_column(String(64))
    password_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    password_verifier: Mapped[bytes] = mapped_column(LargeBinary(32))
    totp_secret: Mapped[str] = mapped_column(String(64))
    # The time step of the last code accepted: a code is good once.
    totp_last_counter: Mapped[int] = mapped_column(BigInteger, default=0)
    # To the day.
    created_at: Mapped[int] = mapped_column(BigInteger)


class OperatorSession(RegistryBase):
    """A logged-in operator's browser session: the id is derived from the cookie's token and
    the data sealed under another key derived from it (``sessions.services`` does the same
    for staff), so a copy of the registry opens no session."""

    __tablename__ = "operator_sessions"
    __table_args__ = _NO_ROWID

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[str] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class OperatorThrottle(RegistryBase):
    """Failed operator logins per username (known or not), keyed by a digest of it."""

    __tablename__ = "operator_login_throttles"
    __table_args__ = _NO_ROWID

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[int] = mapped_column(BigInteger)
    locked_until: Mapped[int] = mapped_column(BigInteger, default=0)


class OperatorEvent(RegistryBase):
    """One thing an operator did (logged in, added or changed an organisation): who, what,
    which organisation's slug, to the minute. No address, no browser, nothing of a case."""

    __tablename__ = "operator_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger)
    operator: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    org: Mapped[str] = mapped_column(String(63), default="")


class OrganisationUsage(RegistryBase):
    """What an organisation held when it was last measured (counts and bytes, as ``mailslot
    orgs list`` shows them), kept here so that the operator's list of a thousand
    organisations reads the registry alone and opens none of their databases. The
    background round measures each organisation every few minutes (``orgs/usage.py``);
    ``measured_at`` is to the minute, and the pages say "as of" it."""

    __tablename__ = "organisation_usage"
    __table_args__ = _NO_ROWID

    org_id: Mapped[str] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    cases: Mapped[int] = mapped_column(BigInteger)
    items: Mapped[int] = mapped_column(BigInteger)
    stored_bytes: Mapped[int] = mapped_column(BigInteger)
    staff: Mapped[int] = mapped_column(Integer)
    measured_at: Mapped[int] = mapped_column(BigInteger)
