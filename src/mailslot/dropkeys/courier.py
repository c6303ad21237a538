"""A courier's upload (``/drop``): sealed files from someone who has no codename and will
get no reply. Each upload opens a new case holding just the drops, with no source; like
every source use case, nothing here is in the audit trail. Blocking, like the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailslot.cases import sealing
from mailslot.cases import services as cases
from mailslot.context import OrgContext
from mailslot.errors import InvalidInput
from mailslot.i18n import N_
from mailslot.limits import services as limits
from mailslot.notifications import services as notices
from mailslot.orgs import quotas
from mailslot.sources.submissions import ReceivedFile, choose_channel

NOT_SEALED = N_(
    "“%(name)s” is not a sealed file. This page takes only files sealed with the keys on "
    "the keys page; nothing was sent."
)
NOTHING = N_("Choose the sealed file to send.")


def deliver(ctx: OrgContext, channel_id: str | None, files: Sequence[ReceivedFile]) -> str:
    """Store ``files`` (each must be a sealed drop) in a new case; its id. Every blob is
    deleted if anything is refused or fails."""
    uploads = [f.upload for f in files]
    try:
        if not files:
            raise InvalidInput(NOTHING)
        for received in files:
            if not received.upload.sealed_drop:
                raise InvalidInput(NOT_SEALED, name=received.filename)
        items = [sealing.file_item(f.upload, f.filename, f.content_type) for f in files]
        now = ctx.now()
        with ctx.db() as db:
            if ctx.config.submission_rate > 0:
                limits.take(
                    db, limits.SUBMISSIONS, per_minute=ctx.config.submission_rate, now=ctx.clock()
                )
            quotas.check(db, ctx.quotas, new_case=True, adding=sum(u.stored_size for u in uploads))
            case = sealing.open_case(db, choose_channel(db, channel_id), None, now)
            sealing.record_items(db, case, items, now=now)
            if ctx.config.smtp_url:
                notices.queue_for_case(db, case.id, now=now, interval=ctx.config.notify_interval)
            return case.id
    except BaseException:
        cases.delete_blobs(ctx.blobs, [u.blob_id for u in uploads])
        raise
