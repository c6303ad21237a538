"""The source's side of a conversation: reading it (replies opened with the codename key),
and deleting a reply. Blocking functions; sources are never in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailslot.cases import source_items
from mailslot.cases.models import Case
from mailslot.context import OrgContext
from mailslot.errors import AuthenticationFailed, NotFound
from mailslot.sources.access import SESSION_ENDED, source_key
from mailslot.sources.models import Source


@dataclass(frozen=True, slots=True)
class Conversation:
    """What a returning source sees: the case (None before anything was sent) and its items,
    replies opened (see :func:`mailslot.cases.source_items.source_view`)."""

    case: Case | None
    items: list[source_items.SourceItemView] = field(default_factory=list)


def read(ctx: OrgContext, source_id: str, seed: bytes | None) -> Conversation:
    """Open the source's conversation with the key from ``seed`` (as the session holds it);
    the replies shown are marked as seen by the source. A session whose source is gone (its
    last case deleted or purged, or the conversation forgotten) has ended: raises
    :class:`AuthenticationFailed`, as a session that timed out does."""
    key_pair = source_key(seed)
    with ctx.db() as db:
        if db.get(Source, source_id) is None:
            raise AuthenticationFailed(SESSION_ENDED)
        case = source_items.source_case(db, source_id)
        if case is None:
            return Conversation(case=None)
        return Conversation(
            case=case, items=source_items.source_view(db, ctx.blobs, key_pair, case, mark_seen=True)
        )


def delete_reply(ctx: OrgContext, source_id: str | None, item_id: str) -> None:
    """The source deletes a reply: the codename no longer opens it (staff still can)."""
    with ctx.db() as db:
        case = source_items.source_case(db, source_id) if source_id else None
        if case is None:
            raise NotFound("This item does not exist.")
        source_items.forget_reply(db, case, item_id)
