"""Imports every model so that ``Base.metadata`` is complete (Alembic, tests)."""

from mailslot.audit.models import AuditEvent, AuditHead
from mailslot.cases.models import (
    Case,
    CaseAccess,
    CaseAssignee,
    CaseKeyWrap,
    CaseLabel,
    CaseRead,
    Counter,
    CustomStatus,
    Item,
    ItemKeyWrap,
    Label,
)
from mailslot.channels.models import AutoReply, Channel, ChannelMember
from mailslot.db.base import Base
from mailslot.instance.models import Instance
from mailslot.limits.models import LoginThrottle, RateBucket
from mailslot.notifications.models import PendingNotice
from mailslot.recipients.models import Enrollment, User, WebauthnCredential
from mailslot.sessions.models import Session
from mailslot.sources.models import Source

__all__ = [
    "AuditEvent",
    "AuditHead",
    "AutoReply",
    "Base",
    "Case",
    "CaseAccess",
    "CaseAssignee",
    "CaseKeyWrap",
    "CaseLabel",
    "CaseRead",
    "Channel",
    "ChannelMember",
    "Counter",
    "CustomStatus",
    "Enrollment",
    "Instance",
    "Item",
    "ItemKeyWrap",
    "Label",
    "LoginThrottle",
    "PendingNotice",
    "RateBucket",
    "Session",
    "Source",
    "User",
    "WebauthnCredential",
]
