"""Imports every model so that ``Base.metadata`` is complete (Alembic, tests)."""

from mailslot.cases.models import Case, CaseKeyWrap, CaseRead, Counter, Item, ItemKeyWrap
from mailslot.channels.models import Channel, ChannelMember
from mailslot.db.base import Base
from mailslot.instance.models import Instance
from mailslot.limits.models import LoginThrottle, RateBucket
from mailslot.notifications.models import PendingNotice
from mailslot.recipients.models import Enrollment, User, WebauthnCredential
from mailslot.sessions.models import Session
from mailslot.sources.models import Source

__all__ = [
    "Base",
    "Case",
    "CaseKeyWrap",
    "CaseRead",
    "Channel",
    "ChannelMember",
    "Counter",
    "Enrollment",
    "Instance",
    "Item",
    "ItemKeyWrap",
    "LoginThrottle",
    "PendingNotice",
    "RateBucket",
    "Session",
    "Source",
    "User",
    "WebauthnCredential",
]
