"""Opening a case's content, as use cases shared by the staff pages and the API. Every
opening, sealed or not, is access to the content and is recorded in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from mailslot.audit import services as audit
from mailslot.cases import panel, retention
from mailslot.cases import services as cases
from mailslot.cases.models import Case
from mailslot.channels.models import Channel
from mailslot.context import OrgContext
from mailslot.recipients.models import User


@dataclass(frozen=True, slots=True)
class CaseContent:
    """A case as its reader sees it: decrypted items, or sealed ones for a reader whose key
    is offline (``seed`` None), with its channel, case work panel and expiry."""

    case: Case
    items: list[cases.ItemView]
    channel: Channel | None
    panel: panel.CasePanel
    expiry: retention.Expiry | None

    @property
    def can_reply(self) -> bool:
        return self.case.source_id is not None


def read_case(
    ctx: OrgContext,
    user: User,
    seed: bytes | None,
    case_id: str,
    *,
    via: str | None = None,
    locale: str | None = None,
) -> CaseContent:
    """Open a case for ``user``: its items (decrypted with ``seed``, or sealed without one),
    marked read, and recorded as ``case.view`` (with ``via``, e.g. "api", if given); the work
    panel's custom statuses named in ``locale``."""
    with ctx.db() as db:
        case, wrap = cases.case_for_user(db, user, case_id)
        if seed is None:
            items = cases.sealed_items(db, case)
        else:
            items = cases.case_items(db, ctx.blobs, case, cases.case_keys(db, case, wrap, seed))
        cases.mark_read(db, case, user)
        channel = db.get(Channel, case.channel_id)
        extra = {"via": via} if via else {}
        audit.record(
            db,
            "case.view",
            now=ctx.now(),
            actor_id=user.id,
            actor=user.username,
            case_id=case.id,
            **extra,
        )
        return CaseContent(
            case=case,
            items=items,
            channel=channel,
            panel=panel.case_panel(db, case, user, locale),
            expiry=retention.expiry(case, channel) if channel else None,
        )


def open_item(
    ctx: OrgContext, user: User, seed: bytes | None, case_id: str, item_id: str
) -> cases.ItemView:
    """One item ready to stream decrypted (``cases.stream_item``), recorded as
    ``case.download``."""
    with ctx.db() as db:
        case, wrap = cases.case_for_user(db, user, case_id)
        key = cases.case_keys(db, case, wrap, seed)
        view = cases.item_for_download(db, case, key, item_id)
        audit.record(
            db,
            "case.download",
            now=ctx.now(),
            actor_id=user.id,
            actor=user.username,
            case_id=case.id,
            item_id=view.item.id,
        )
        return view


def open_all(
    ctx: OrgContext, user: User, seed: bytes | None, case_id: str
) -> tuple[str, list[cases.ItemView]]:
    """Every item of a case ready to stream (for the zip), with the case's pseudonym;
    recorded as ``case.download_all``."""
    with ctx.db() as db:
        case, wrap = cases.case_for_user(db, user, case_id)
        key = cases.case_keys(db, case, wrap, seed)
        views = cases.case_items(db, ctx.blobs, case, key, texts=False)
        audit.record(
            db,
            "case.download_all",
            now=ctx.now(),
            actor_id=user.id,
            actor=user.username,
            case_id=case.id,
            items=len(views),
        )
        return case.pseudonym, views
