from __future__ import annotations

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailslot.db.base import Base, time_column


class Instance(Base):
    """The one row of instance-wide settings."""

    __tablename__ = "instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The texts below, and every channel's, in the organisation's default language; their
    # other languages are in ``localized_texts``.
    default_locale: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    name: Mapped[str] = mapped_column(String(200))
    guidance: Mapped[str] = mapped_column(Text, default="")
    # SecureDrop's rule by default: a returning source cannot read back what they sent.
    show_source_submissions: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where the quick exit leads (``{lang}``: the source's language); empty: the install's
    # choice (``MAILSLOT_QUICK_EXIT_URL``), else a random Wikipedia article in that language.
    quick_exit_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    codename_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    source_kdf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = time_column()


class LocalizedText(Base):
    """A text an admin wrote, in a language other than the organisation's default (whose
    text stays in its owner's own column): the organisation's name and guidance, a channel's
    name and description. ``owner`` is ``"instance"`` or the channel's id (channels are
    never deleted; a future owner that is deletes its rows with it)."""

    __tablename__ = "localized_texts"

    owner: Mapped[str] = mapped_column(String(32), primary_key=True)
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
