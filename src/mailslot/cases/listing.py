"""The lists of cases staff see, as queries taking the organisation's context: the staff inbox
page and the API's case list, and one case as a list shows it.

Listing a case is not opening it: only what is stored in clear is read (the pseudonym, the
case work, the deadlines), and nothing is recorded in the audit trail. Opening one is
``cases.reading``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from mailslot.cases import inbox, retention
from mailslot.cases import services as cases
from mailslot.cases.models import Case
from mailslot.channels import settings as channel_settings
from mailslot.channels.models import Channel
from mailslot.context import OrgContext
from mailslot.recipients.models import User


@dataclass(frozen=True, slots=True)
class InboxPage:
    """What the staff inbox page shows: the filter form's choices and one page of cases."""

    choices: inbox.InboxChoices
    result: inbox.InboxPage


@dataclass(frozen=True, slots=True)
class Listed:
    """One case as a list shows it, with when retention deletes it."""

    row: inbox.InboxRow
    expires_at: int


@dataclass(frozen=True, slots=True)
class CaseList:
    """One page of cases with their expiry, for the API."""

    cases: list[Listed]
    total: int
    total_capped: bool


def inbox_choices(ctx: OrgContext, user: User, locale: str | None = None) -> inbox.InboxChoices:
    """The choices the inbox's filter form offers ``user`` (statuses named in ``locale``)."""
    with ctx.db() as db:
        return inbox.inbox_choices(db, user, locale)


def inbox_page(
    ctx: OrgContext, user: User, query: inbox.InboxQuery, locale: str | None = None
) -> InboxPage:
    """The filter choices and the page of cases ``query`` asks for, in one unit of work,
    custom statuses named in ``locale``."""
    with ctx.db() as db:
        return InboxPage(
            inbox.inbox_choices(db, user, locale),
            inbox.inbox(db, user, query, ctx.now(), locale),
        )


def list_cases(
    ctx: OrgContext, user: User, query: inbox.InboxQuery, locale: str | None = None
) -> CaseList:
    """The page of cases ``query`` asks for, each with its expiry, channels and custom
    statuses named in ``locale`` (None: the organisation's default language)."""
    with ctx.db() as db:
        page = inbox.inbox(db, user, query, ctx.now(), locale)
        rules = {channel.id: channel for channel in db.scalars(select(Channel))}
        listed = [
            Listed(row, retention.expires_at(row.case, rules[row.case.channel_id]))
            for row in page.rows
        ]
        return CaseList(listed, page.total, page.total_capped)


def list_entry(ctx: OrgContext, user: User, case_id: str, locale: str | None = None) -> Listed:
    """One case ``user`` holds a key to, as a list shows it (``CaseNotFound`` otherwise),
    its channel and custom status named in ``locale``."""
    with ctx.db() as db:
        case, _ = cases.case_for_user(db, user, case_id)
        channel = db.get(Channel, case.channel_id)
        assert channel is not None  # noqa: S101 - a case's channel is never deleted
        return Listed(
            inbox.case_row(db, user, case, ctx.now(), locale), retention.expires_at(case, channel)
        )


def status_name(ctx: OrgContext, status_id: str, default: str, locale: str | None) -> str:
    """A custom status's name (``default``: the default language's) as a reader of
    ``locale`` sees it, for an answer that names it after a case-work action."""
    with ctx.db() as db:
        return channel_settings.names_in(db, {status_id: default}, locale)[status_id]


def find_case(ctx: OrgContext, user: User, case_id: str) -> Case:
    """A case ``user`` holds a key to, unopened (``CaseNotFound`` otherwise)."""
    with ctx.db() as db:
        case, _ = cases.case_for_user(db, user, case_id)
        return case
