"""Replying to a source, as a use case shared by the staff page and the API."""

from __future__ import annotations

from mailslot import errors
from mailslot.audit import services as audit
from mailslot.cases import deadlines, sealing
from mailslot.cases import services as cases
from mailslot.cases.models import ItemKind
from mailslot.channels.models import Channel
from mailslot.context import OrgContext
from mailslot.orgs import quotas
from mailslot.recipients.models import User
from mailslot.sources.models import Source


def send_reply(ctx: OrgContext, user: User, case_id: str, text: str) -> str:
    """Seal a reply readable by the case key and the source's key; return the item's id.

    Someone without access is refused before any encryption or disk write. The reply is
    sealed into its blob before the transaction that records it (no lock held meanwhile);
    if recording fails, the blob is deleted. Past the organisation's storage quota it is
    refused (``quotas.StorageFull``) before anything is recorded. A reply acknowledges
    receipt if nothing had, and gives the feedback the Directive asks for.
    """
    text = cases.check_reply(text, ctx.config.max_message_chars)
    now = ctx.now()
    with ctx.db() as db:
        cases.case_for_user(db, user, case_id)
    upload = sealing.seal_text(ctx.blobs, text)
    try:
        with ctx.db() as db:
            case, _ = cases.case_for_user(db, user, case_id)
            source = db.get(Source, case.source_id) if case.source_id else None
            if source is None:
                raise errors.Forbidden(
                    "The source has deleted this conversation; replies are no longer possible."
                )
            quotas.check_staff(db, ctx.quotas, adding=upload.stored_size)
            item = sealing.SealedItem(upload=upload, kind=ItemKind.REPLY, meta={})
            rows = sealing.record_items(
                db, case, [item], now=now, author_id=user.id, source_public_key=source.public_key
            )
            cases.mark_read(db, case, user)
            channel = db.get(Channel, case.channel_id)
            if channel is not None:
                deadlines.give_feedback(case, channel, now)
            audit.record(
                db,
                "case.reply",
                now=now,
                actor_id=user.id,
                actor=user.username,
                case_id=case.id,
                item_id=rows[0].id,
            )
            return rows[0].id
    except BaseException:
        ctx.blobs.delete(upload.blob_id)
        raise
