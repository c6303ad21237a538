"""Imports every model so that ``Base.metadata`` is complete (Alembic, tests).

On SQLite, every table whose primary key is not an integer is ``WITHOUT ROWID`` (migration
0008): a hidden rowid would count up with each insert and keep the order in which sources,
cases, items and sessions were written. Such tables keep their rows in the order of their
random ids instead. The integer-keyed tables (``instance``, ``audit_head``, and
``audit_events``, whose sequence is its order by design) use the integer as their rowid.
"""

from sqlalchemy import Integer

from mailslot.audit.models import AuditEvent, AuditHead
from mailslot.cases.models import (
    Case,
    CaseAccess,
    CaseAssignee,
    CaseKeyWrap,
    CaseLabel,
    CasePastKeyWrap,
    CaseRead,
    Counter,
    CustomStatus,
    Item,
    ItemKeyWrap,
    Label,
)
from mailslot.channels.models import AutoReply, Channel, ChannelMember
from mailslot.db.base import Base
from mailslot.dropkeys.models import DropKey, DropKeyWrap, KeyManifest, SigningKeyRow
from mailslot.identity.models import Identity, IdentityKeyWrap, IdentityRequest
from mailslot.instance.models import Instance, LocalizedText
from mailslot.limits.models import LoginThrottle, RateBucket
from mailslot.notifications.models import PendingNotice
from mailslot.questionnaires.models import (
    AnswerCount,
    QuestionnaireDraft,
    QuestionnaireDraftFile,
    QuestionnaireVersion,
)
from mailslot.recipients.models import Enrollment, User, WebauthnCredential
from mailslot.sessions.models import Session
from mailslot.sources.models import Source

__all__ = [
    "AnswerCount",
    "AuditEvent",
    "AuditHead",
    "AutoReply",
    "Base",
    "Case",
    "CaseAccess",
    "CaseAssignee",
    "CaseKeyWrap",
    "CaseLabel",
    "CasePastKeyWrap",
    "CaseRead",
    "Channel",
    "ChannelMember",
    "Counter",
    "CustomStatus",
    "DropKey",
    "DropKeyWrap",
    "Enrollment",
    "Identity",
    "IdentityKeyWrap",
    "IdentityRequest",
    "Instance",
    "Item",
    "ItemKeyWrap",
    "KeyManifest",
    "Label",
    "LocalizedText",
    "LoginThrottle",
    "PendingNotice",
    "QuestionnaireDraft",
    "QuestionnaireDraftFile",
    "QuestionnaireVersion",
    "RateBucket",
    "Session",
    "SigningKeyRow",
    "Source",
    "User",
    "WebauthnCredential",
    "has_integer_key",
]


def has_integer_key(table_name: str) -> bool:
    columns = list(Base.metadata.tables[table_name].primary_key.columns)
    return len(columns) == 1 and isinstance(columns[0].type, Integer)


for _table in Base.metadata.tables.values():
    if not has_integer_key(_table.name):
        _table.dialect_kwargs["sqlite_with_rowid"] = False
