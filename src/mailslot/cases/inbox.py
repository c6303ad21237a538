"""The inbox: a recipient's cases, filtered, sorted and paginated, with the dashboard counts.

Only the cases the user holds a key for (a ``CaseKeyWrap``) are ever visible. Contents are
sealed, so search covers what is in clear: the pseudonym and the case id.

One page costs a fixed number of statements whatever its size: the ids of the cases the
user holds (up to :data:`SMALL_INBOX` + 1), the rows (with channel, custom status and
unread mark joined), a total capped at :data:`COUNT_CAP` (an exact count of 100,000 joined
rows is the slow part of a page), the dashboard counts, then labels and assignees for the
page's case ids at once.

Plans that need no statistics. PostgreSQL without ``ANALYZE`` (autovacuum off, a bulk load)
guesses how many cases a user holds, and guessed badly both ways: it walked every case in
order for a recipient who held none, and read all of a recipient's key wraps to sort them
for a filtered page. So the first statement reads the user's own key wraps, and that
decides the shape of the rest. A user holding none gets an empty page at once. A user
holding few is served from their case ids, given as values (the sort keys are written
``+ 0`` so that no index order tempts the planner into walking every case). A user holding
many is served by walking the sort's index and checking each case's key; on PostgreSQL the
check is kept a per-row subplan (``OFFSET 0``), so that it is never turned into a join that
reads all of the user's key wraps first. ``docs/performance.md`` has the measurements.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Select, and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from mailslot.cases.deadlines import DAY, overdue
from mailslot.cases.models import (
    Case,
    CaseAssignee,
    CaseKeyWrap,
    CaseLabel,
    CaseRead,
    CaseStatus,
    CustomStatus,
    Label,
)
from mailslot.channels import services as channel_services
from mailslot.channels import settings as channel_settings
from mailslot.channels.models import Channel, ChannelMember
from mailslot.errors import InvalidInput
from mailslot.i18n import N_plural
from mailslot.recipients.models import Role, User

# Totals above this are reported as "more than": counting is what grows with the inbox.
COUNT_CAP: Final = 1_000
# A user holding at most this many cases is served from their own key wraps (see above).
SMALL_INBOX: Final = 500
# A page counts matching cases up to this many pages past it ("page 1 of 10 or more").
COUNT_PAGES: Final = 10
WIDE_RANGE: Final = 30 * 86400
DUE_SOON_DAYS: Final = 3
MAX_LIMIT: Final = 200
MAX_OFFSET: Final = 10_000_000
MAX_SEARCH_CHARS: Final = 100
ME: Final = "me"
UNASSIGNED: Final = "none"
_ID_RE: Final = re.compile(r"[0-9a-f]{32}")


class Sort(enum.StrEnum):
    ACTIVITY = "activity"  # latest activity first
    CREATED = "created"  # newest first (``ascending``: oldest first)
    DEADLINE = "deadline"  # the next deadline first; cases without one last


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """What the inbox shows. ``None`` means "any". Date bounds are coarse timestamps:
    ``*_from`` inclusive, ``*_to`` exclusive."""

    status: CaseStatus | None = None
    custom_status_id: str | None = None
    label_id: str | None = None
    assignee: str | None = None  # a user id, or UNASSIGNED ("me" is resolved by the caller)
    channel_id: str | None = None
    overdue: bool = False
    due_soon: bool = False  # the next deadline is within DUE_SOON_DAYS (and not past)
    important: bool = False
    unread: bool = False
    created_from: int | None = None
    created_to: int | None = None
    activity_from: int | None = None
    activity_to: int | None = None
    q: str = ""
    sort: Sort = Sort.ACTIVITY
    ascending: bool = False
    limit: int = 25
    offset: int = 0

    def __post_init__(self) -> None:
        for name in ("custom_status_id", "label_id", "channel_id"):
            value = getattr(self, name)
            if value is not None and not _ID_RE.fullmatch(value):
                raise InvalidInput("That filter is not valid: %(name)s.", name=name)
        if self.assignee not in (None, UNASSIGNED) and not _ID_RE.fullmatch(self.assignee):
            raise InvalidInput("That filter is not valid: %(name)s.", name="assignee")
        if not 1 <= self.limit <= MAX_LIMIT or not 0 <= self.offset <= MAX_OFFSET:
            raise InvalidInput("That page does not exist.")
        if len(self.q) > MAX_SEARCH_CHARS:
            raise InvalidInput(
                N_plural(
                    "The search is too long (at most %(num)s character).",
                    "The search is too long (at most %(num)s characters).",
                ),
                num=MAX_SEARCH_CHARS,
            )


@dataclass(frozen=True, slots=True)
class InboxRow:
    case: Case
    channel_name: str
    unread: bool
    overdue: bool
    custom_status: str | None
    labels: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    assignees: list[tuple[str, str]] = field(default_factory=list)  # (id, username)


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: list[InboxRow]
    total: int
    # True when there are more than ``total`` matching cases: a page counts up to
    # COUNT_PAGES pages past itself, and never past COUNT_CAP.
    total_capped: bool
    # The dashboard's counts, each at most COUNT_CAP + 1 (above COUNT_CAP: "more than").
    overdue_count: int
    due_soon_count: int
    limit: int
    offset: int


# Reading filters from strings (query parameters of the staff page and the API).


def parse_flag(value: str | None, name: str) -> bool:
    if value in (None, "", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise InvalidInput("That filter is not valid: %(name)s.", name=name)


def parse_date(value: str | None, name: str, *, end: bool = False) -> int | None:
    """A ``YYYY-MM-DD`` day (UTC) as a timestamp: its start, or with ``end`` the next day's
    start (an exclusive bound that includes the whole day)."""
    if not value:
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            "That date is not valid: %(name)s (use YYYY-MM-DD).", name=name
        ) from None
    start = int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp())
    return start + DAY if end else start


def parse_int(value: str | None, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidInput("That filter is not valid: %(name)s.", name=name) from None


def parse_query(params: Mapping[str, str], *, me: str, limit: int, offset: int) -> InboxQuery:
    """An :class:`InboxQuery` from query parameters; ``InvalidInput`` names a bad one.
    ``me`` is the caller's user id (for ``assignee=me``)."""

    def text(name: str) -> str | None:
        value = params.get(name, "").strip()
        return value or None

    status: CaseStatus | None = None
    custom_status_id: str | None = None
    raw_status = text("status")
    if raw_status is not None:
        # The staff page offers phases and custom statuses in one list ("custom:<id>").
        if raw_status.startswith("custom:"):
            custom_status_id = raw_status.removeprefix("custom:")
        else:
            try:
                status = CaseStatus(raw_status)
            except ValueError:
                raise InvalidInput("That filter is not valid: %(name)s.", name="status") from None
    custom_status_id = text("custom_status") or custom_status_id
    assignee = text("assignee")
    if assignee == ME:
        assignee = me
    elif assignee == "any":
        assignee = None
    raw_sort = text("sort") or Sort.ACTIVITY.value
    try:
        sort = Sort(raw_sort)
    except ValueError:
        raise InvalidInput("That filter is not valid: %(name)s.", name="sort") from None
    order = text("order")
    if order not in (None, "asc", "desc"):
        raise InvalidInput("That filter is not valid: %(name)s.", name="order")
    return InboxQuery(
        status=status,
        custom_status_id=custom_status_id,
        label_id=text("label"),
        assignee=assignee,
        channel_id=text("channel"),
        overdue=parse_flag(text("overdue"), "overdue"),
        due_soon=parse_flag(text("due_soon"), "due_soon"),
        important=parse_flag(text("important"), "important"),
        unread=parse_flag(text("unread"), "unread"),
        created_from=parse_date(text("created_from"), "created_from"),
        created_to=parse_date(text("created_to"), "created_to", end=True),
        activity_from=parse_date(text("activity_from"), "activity_from"),
        activity_to=parse_date(text("activity_to"), "activity_to", end=True),
        q=(params.get("q") or "").strip(),
        sort=sort,
        ascending=order == "asc",
        limit=limit,
        offset=offset,
    )


# The query.


@dataclass(frozen=True, slots=True)
class _Holder:
    """Whose inbox, and how it is read: from the ids of the cases the user holds (``few``,
    at most SMALL_INBOX of them), or along the sort's index, checking each case's key
    (``pin``: as a per-row subplan)."""

    user_id: str
    few: tuple[str, ...] | None
    pin: bool


def _holder(db: Session, user_id: str) -> _Holder:
    """How the user's pages are read: the first statement of every page."""
    held = tuple(
        db.scalars(
            select(CaseKeyWrap.case_id).where(CaseKeyWrap.user_id == user_id).limit(SMALL_INBOX + 1)
        )
    )
    pin = db.get_bind().dialect.name == "postgresql"
    return _Holder(user_id, few=held if len(held) <= SMALL_INBOX else None, pin=pin)


def _visible(holder: _Holder) -> ColumnElement[bool]:
    """The user holds a key to the case."""
    if holder.few is not None:
        # The ids themselves, not a subquery: the planner then knows how few they are.
        return Case.id.in_(holder.few)
    probe = select(literal(1)).where(
        CaseKeyWrap.case_id == Case.id, CaseKeyWrap.user_id == holder.user_id
    )
    # PostgreSQL turns a plain EXISTS into a join it may start from either side; with OFFSET
    # it stays a check of each case the index walk passes (one primary-key lookup).
    return exists(probe.offset(0) if holder.pin else probe)


def _key(column: Any, holder: _Holder) -> Any:
    """A sort key: the column, or for a user holding few cases ``column + 0`` (no index
    gives that order, so the planner reads the user's cases and sorts them)."""
    return column + 0 if holder.few is not None else column


def _unread_condition(user_id: str) -> ColumnElement[bool]:
    seen = (
        select(CaseRead.activity_seq)
        .where(CaseRead.case_id == Case.id, CaseRead.user_id == user_id)
        .scalar_subquery()
    )
    return func.coalesce(seen, -1) < Case.activity_seq


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(holder: _Holder, query: InboxQuery, now: int) -> list[ColumnElement[bool]]:
    user_id = holder.user_id
    conditions: list[ColumnElement[bool]] = [_visible(holder)]
    if query.status is not None:
        conditions.append(Case.status == query.status.value)
    if query.custom_status_id is not None:
        conditions.append(Case.custom_status_id == query.custom_status_id)
    if query.channel_id is not None:
        conditions.append(Case.channel_id == query.channel_id)
    # EXISTS, one primary-key lookup per case on the way down the sort's index: with IN, the
    # planner starts from every case with the label and sorts them all.
    if query.label_id is not None:
        conditions.append(
            exists().where(CaseLabel.case_id == Case.id, CaseLabel.label_id == query.label_id)
        )
    if query.assignee == UNASSIGNED:
        conditions.append(~exists().where(CaseAssignee.case_id == Case.id))
    elif query.assignee is not None:
        conditions.append(
            exists().where(CaseAssignee.case_id == Case.id, CaseAssignee.user_id == query.assignee)
        )
    if query.overdue:
        conditions.append(Case.due_at < now)
    if query.due_soon:
        conditions.append(and_(Case.due_at >= now, Case.due_at < now + DUE_SOON_DAYS * DAY))
    if query.important:
        conditions.append(Case.important.is_(True))
    if query.unread:
        conditions.append(_unread_condition(user_id))
    conditions += _date_range(
        Case.created_at, query.created_from, query.created_to, by_index=query.sort is Sort.CREATED
    )
    conditions += _date_range(Case.last_activity_at, query.activity_from, query.activity_to)
    if query.q:
        pattern = _escape_like(query.q.lower())
        search: ColumnElement[bool] = func.lower(Case.pseudonym).like(f"%{pattern}%", escape="\\")
        if re.fullmatch(r"[0-9a-fA-F]{4,32}", query.q):
            search = or_(search, Case.id.like(f"{query.q.lower()}%"))
        conditions.append(search)
    return conditions


def _date_range(
    column: Any, start: int | None, end: int | None, *, by_index: bool = False
) -> list[ColumnElement[bool]]:
    """``start <= column < end``. A range wider than WIDE_RANGE is checked along the sort's
    index instead of read from its own (``+ 0`` keeps the planner off it): reading, then
    sorting, months of cases costs more than passing a few rows outside them."""
    if start is None and end is None:
        return []
    wide = start is None or end is None or end - start > WIDE_RANGE
    value = column + 0 if wide and not by_index else column
    bounds = []
    if start is not None:
        bounds.append(value >= start)
    if end is not None:
        bounds.append(value < end)
    return bounds


def _order(query: InboxQuery, holder: _Holder) -> list[Any]:
    if query.sort is Sort.CREATED:
        created = _key(Case.created_at, holder)
        if query.ascending:
            return [created.asc(), Case.id.asc()]
        return [created.desc(), Case.id.desc()]
    if query.sort is Sort.DEADLINE:
        return [_key(Case.due_at, holder).asc(), Case.id.asc()]
    activity = _key(Case.activity_seq, holder)
    if query.ascending:
        return [activity.asc()]
    # activity_seq comes from one counter: every case has its own, so it orders them fully.
    return [activity.desc()]


def _rows_statement(user_id: str, conditions: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return select(
        Case,
        select(Channel.name).where(Channel.id == Case.channel_id).scalar_subquery(),
        select(CustomStatus.name).where(CustomStatus.id == Case.custom_status_id).scalar_subquery(),
        _unread_condition(user_id),
    ).where(*conditions)


def inbox(
    db: Session, user: User, query: InboxQuery, now: int, locale: str | None = None
) -> InboxPage:
    """One page of the cases ``query`` asks for, channels and custom statuses named in
    ``locale`` (None: the organisation's default language)."""
    holder = _holder(db, user.id)
    if holder.few == ():  # nothing to read, count or sort
        return InboxPage([], 0, False, 0, 0, query.limit, query.offset)
    conditions = _filters(holder, query, now)
    # The page's ids first, from the indexes alone (the wide case rows are read for the
    # page only, not for every case a range or sort passes), then those rows.
    statement = select(Case.id).where(*conditions)
    if query.sort is Sort.DEADLINE:
        ids = _by_deadline(db, statement, query, holder)
    else:
        order = _order(query, holder)
        ids = list(db.scalars(statement.order_by(*order).limit(query.limit).offset(query.offset)))
    by_id = {row[0].id: row for row in db.execute(_rows_statement(user.id, [Case.id.in_(ids)]))}
    # A case purged (retention) or deleted between the two statements is left out.
    found = [by_id[case_id] for case_id in ids if case_id in by_id]
    cap = min(COUNT_CAP, query.offset + COUNT_PAGES * query.limit)
    total = int(db.scalar(select(_capped_count(conditions, cap))) or 0)
    overdue_count, due_soon_count = _dashboard_counts(db, holder, now)
    labels: dict[str, list[tuple[str, str]]] = {case_id: [] for case_id in ids}
    assignees: dict[str, list[tuple[str, str]]] = {case_id: [] for case_id in ids}
    if ids:
        for case_id, label_id, name in db.execute(
            select(CaseLabel.case_id, Label.id, Label.name)
            .join(Label, Label.id == CaseLabel.label_id)
            .where(CaseLabel.case_id.in_(ids))
            .order_by(Label.name)
        ):
            labels[case_id].append((label_id, name))
        for case_id, user_id, username in db.execute(
            select(CaseAssignee.case_id, User.id, User.username)
            .join(User, User.id == CaseAssignee.user_id)
            .where(CaseAssignee.case_id.in_(ids))
            .order_by(User.username)
        ):
            assignees[case_id].append((user_id, username))
    names = channel_settings.names_in(
        db, {row[0].custom_status_id: row[2] for row in found if row[0].custom_status_id}, locale
    )
    channel_names = channel_services.names_in(
        db, {row[0].channel_id: row[1] or "" for row in found}, locale
    )
    rows = [
        InboxRow(
            case=found_case,
            channel_name=channel_names.get(found_case.channel_id, channel_name or ""),
            unread=bool(unread),
            overdue=overdue(found_case, now),
            custom_status=names.get(found_case.custom_status_id or "", custom_status),
            labels=labels[found_case.id],
            assignees=assignees[found_case.id],
        )
        for found_case, channel_name, custom_status, unread in found
    ]
    return InboxPage(
        rows=rows,
        total=min(total, cap),
        total_capped=total > cap,
        overdue_count=overdue_count,
        due_soon_count=due_soon_count,
        limit=query.limit,
        offset=query.offset,
    )


def _by_deadline(
    db: Session, statement: Select[Any], query: InboxQuery, holder: _Holder
) -> list[str]:
    """Cases with a deadline, soonest first, then those without one (newest activity first).

    Two ordered index scans instead of ``ORDER BY due_at NULLS LAST``, which SQLite cannot
    answer from an index (it keeps NULLs first) and would sort every visible case for.
    """
    with_due = statement.where(Case.due_at.is_not(None))
    found: list[str] = list(
        db.scalars(
            with_due.order_by(_key(Case.due_at, holder).asc(), Case.id.asc())
            .limit(query.limit)
            .offset(query.offset)
        )
    )
    if len(found) == query.limit:
        return found
    if found:
        skip = 0
    else:
        # The page starts past the cases with a deadline: how many were there?
        due_total = db.scalar(select(func.count()).select_from(with_due.subquery()))
        skip = query.offset - int(due_total or 0)
    found += db.scalars(
        statement.where(Case.due_at.is_(None))
        .order_by(_key(Case.activity_seq, holder).desc())
        .limit(query.limit - len(found))
        .offset(max(0, skip))
    )
    return found


def _capped_count(conditions: Sequence[ColumnElement[bool]], cap: int = COUNT_CAP) -> Any:
    """COUNT(*) of at most ``cap`` + 1 matching cases, as a scalar subquery."""
    found = select(literal(1)).select_from(Case).where(*conditions).limit(cap + 1)
    return select(func.count()).select_from(found.subquery()).scalar_subquery()


def dashboard_counts(db: Session, user: User, now: int) -> tuple[int, int]:
    """The user's cases past their deadline, and those due within DUE_SOON_DAYS, each
    counted up to COUNT_CAP + 1 (more than COUNT_CAP reads as "more than")."""
    holder = _holder(db, user.id)
    return (0, 0) if holder.few == () else _dashboard_counts(db, holder, now)


def _dashboard_counts(db: Session, holder: _Holder, now: int) -> tuple[int, int]:
    soon = now + DUE_SOON_DAYS * DAY
    visible = _visible(holder)
    row = db.execute(
        select(
            _capped_count([Case.due_at < now, visible]),
            _capped_count([Case.due_at >= now, Case.due_at < soon, visible]),
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


# The choices the staff page's filter form offers.


@dataclass(frozen=True, slots=True)
class InboxChoices:
    channels: list[tuple[str, str]]  # (id, name)
    custom_statuses: list[tuple[str, str, str]]  # (id, phase, name)
    labels: list[tuple[str, str]]  # (id, name)
    recipients: list[tuple[str, str]]  # (id, username)


def inbox_choices(db: Session, user: User, locale: str | None = None) -> InboxChoices:
    """The user's channels and their custom statuses (both named in ``locale``) and
    recipients, and the labels on the cases the user holds a key to (never one seen only on
    others' cases)."""
    channel_ids = select(ChannelMember.channel_id).where(ChannelMember.user_id == user.id)
    found_channels = db.execute(
        select(Channel.id, Channel.name).where(Channel.id.in_(channel_ids)).order_by(Channel.name)
    ).all()
    channel_names = channel_services.names_in(
        db, {row[0]: row[1] for row in found_channels}, locale
    )
    channels = [(row[0], channel_names[row[0]]) for row in found_channels]
    found = db.execute(
        select(CustomStatus.id, CustomStatus.phase, CustomStatus.name)
        .where(CustomStatus.channel_id.in_(channel_ids))
        .order_by(CustomStatus.phase, CustomStatus.position, CustomStatus.name)
    ).all()
    names = channel_settings.names_in(db, {row[0]: row[2] for row in found}, locale)
    statuses = [(row[0], row[1], names[row[0]]) for row in found]
    labels = [
        (row[0], row[1])
        for row in db.execute(
            select(Label.id, Label.name)
            .where(
                exists().where(
                    CaseLabel.label_id == Label.id,
                    CaseKeyWrap.case_id == CaseLabel.case_id,
                    CaseKeyWrap.user_id == user.id,
                )
            )
            .order_by(Label.name)
        )
    ]
    recipients = [
        (row[0], row[1])
        for row in db.execute(
            select(User.id, User.username)
            .where(
                User.role == Role.RECIPIENT.value,
                User.disabled.is_(False),
                exists().where(
                    ChannelMember.user_id == User.id, ChannelMember.channel_id.in_(channel_ids)
                ),
            )
            .order_by(User.username)
        )
    ]
    return InboxChoices(channels, statuses, labels, recipients)


def case_row(db: Session, user: User, case: Case, now: int, locale: str | None = None) -> InboxRow:
    """One case as the inbox shows it (for a case page or ``GET /cases/{id}``): the same
    fields in a fixed number of statements, its channel and custom status named in
    ``locale``."""
    statement = _rows_statement(user.id, [Case.id == case.id])
    _, channel_name, custom_status, unread = db.execute(statement).one()
    labels = [
        (row[0], row[1])
        for row in db.execute(
            select(Label.id, Label.name)
            .join(CaseLabel, CaseLabel.label_id == Label.id)
            .where(CaseLabel.case_id == case.id)
            .order_by(Label.name)
        )
    ]
    assignees = [
        (row[0], row[1])
        for row in db.execute(
            select(User.id, User.username)
            .join(CaseAssignee, CaseAssignee.user_id == User.id)
            .where(CaseAssignee.case_id == case.id)
            .order_by(User.username)
        )
    ]
    return InboxRow(
        case=case,
        channel_name=channel_services.names_in(db, {case.channel_id: channel_name or ""}, locale)[
            case.channel_id
        ],
        unread=bool(unread),
        overdue=case.due_at is not None and case.due_at < now,
        custom_status=(
            channel_settings.names_in(db, {case.custom_status_id: custom_status}, locale)[
                case.custom_status_id
            ]
            if case.custom_status_id and custom_status
            else custom_status
        ),
        labels=labels,
        assignees=assignees,
    )
