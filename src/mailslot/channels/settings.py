"""A channel's case settings: deadlines, retention, custom statuses and the automatic
acknowledgement sent to new sources.

Only administrators change these, and none of them needs case content. Deadlines and
retention apply to cases from the moment they are computed: a new case takes the channel's
deadlines when it opens and keeps them; retention is computed from the current settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mailslot.cases.models import Case, CaseStatus, CustomStatus
from mailslot.channels.models import AutoReply, Channel
from mailslot.db.base import new_id
from mailslot.errors import Conflict, InvalidInput, NotFound
from mailslot.i18n import N_, SUPPORTED_LOCALES, N_plural
from mailslot.instance import texts as localized
from mailslot.text import plain_text


@dataclass(frozen=True, slots=True)
class DayRange:
    field: str
    low: int
    high: int
    message: str


# The bounds of each day setting, with the message shown when a value falls outside them.
DAY_RANGES: Final = (
    DayRange(
        "acknowledge_days",
        1,
        365,
        N_("Days to acknowledge receipt must be a whole number from %(low)s to %(high)s."),
    ),
    DayRange(
        "feedback_days",
        1,
        730,
        N_("Days to give feedback must be a whole number from %(low)s to %(high)s."),
    ),
    DayRange(
        "retention_days",
        1,
        3650,
        N_(
            "Days to keep a case after its last activity must be a whole number "
            "from %(low)s to %(high)s."
        ),
    ),
    DayRange(
        "closed_retention_days",
        0,
        3650,
        N_("Days to keep a case after closing must be a whole number from %(low)s to %(high)s."),
    ),
)
DAY_FIELDS: Final = tuple(r.field for r in DAY_RANGES)
MAX_AUTO_REPLY = 5000
MAX_STATUS_NAME = 64
# Phases a channel may name its own steps in ("new" is where every case starts: triage).
STATUS_PHASES: Final = tuple(s.value for s in CaseStatus)


def parse_days(values: Mapping[str, str | int | None]) -> dict[str, int]:
    """Check the day settings present in ``values`` (form fields or CLI options)."""
    days: dict[str, int] = {}
    for rule in DAY_RANGES:
        raw = values.get(rule.field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise InvalidInput(rule.message, low=rule.low, high=rule.high) from None
        if not rule.low <= number <= rule.high:
            raise InvalidInput(rule.message, low=rule.low, high=rule.high)
        days[rule.field] = number
    return days


def set_days(channel: Channel, days: Mapping[str, int]) -> dict[str, int]:
    """Apply checked day settings; returns those that changed (field: new value). Existing
    cases keep the deadlines they were given when they opened."""
    changed = {}
    for name, value in days.items():
        if name not in DAY_FIELDS:
            raise InvalidInput("Unknown setting: %(name)s", name=name)
        if getattr(channel, name) != value:
            setattr(channel, name, value)
            changed[name] = value
    return changed


# Automatic acknowledgement.


def auto_replies(db: Session, channel_id: str) -> dict[str, str]:
    rows = db.execute(
        select(AutoReply.locale, AutoReply.text).where(AutoReply.channel_id == channel_id)
    )
    return dict(rows.all())


def set_auto_replies(db: Session, channel: Channel, texts: Mapping[str, str]) -> list[str]:
    """Replace the automatic acknowledgement for each locale given (empty: none). Returns the
    locales whose text changed."""
    current = auto_replies(db, channel.id)
    changed = []
    for locale, raw in texts.items():
        if locale not in SUPPORTED_LOCALES:
            raise InvalidInput("Unknown language: %(name)s", name=locale)
        text = plain_text(raw, multiline=True).strip()
        if len(text) > MAX_AUTO_REPLY:
            raise InvalidInput(
                N_plural(
                    "The automatic acknowledgement is too long (at most %(num)s character).",
                    "The automatic acknowledgement is too long (at most %(num)s characters).",
                ),
                num=MAX_AUTO_REPLY,
            )
        if text == current.get(locale, ""):
            continue
        changed.append(locale)
        if not text:
            db.execute(
                delete(AutoReply).where(
                    AutoReply.channel_id == channel.id, AutoReply.locale == locale
                )
            )
        elif locale in current:
            db.execute(
                update(AutoReply)
                .where(AutoReply.channel_id == channel.id, AutoReply.locale == locale)
                .values(text=text)
            )
        else:
            db.add(AutoReply(channel_id=channel.id, locale=locale, text=text))
    db.flush()
    return changed


def auto_reply_for(db: Session, channel_id: str, locale: str) -> str | None:
    """The text to send a new source writing in ``locale``: that language's, else the
    organisation's default language's, else none."""
    texts = auto_replies(db, channel_id)
    return texts.get(locale) or texts.get(localized.default_locale(db)) or None


# Custom statuses: a channel's own names for steps within a phase.


def statuses(db: Session, channel_id: str) -> list[CustomStatus]:
    """In display order: by phase (new → closed), then position."""
    rows = db.scalars(select(CustomStatus).where(CustomStatus.channel_id == channel_id))
    return sorted(rows, key=lambda s: (STATUS_PHASES.index(s.phase), s.position, s.name))


# A status's name: one text per language, or a plain string for the organisation's default
# language only (the others are kept). The default language's is ``CustomStatus.name`` (the
# audit trail names a status by it); the others are rows of ``localized_texts`` owned by the
# status's id. Staff pages and the API show the reader's language's (``names_in``).
StatusName = Mapping[str, str] | str
STATUS_NAME: Final = "name"


def status_names(db: Session, found: Sequence[CustomStatus]) -> dict[str, localized.Localized]:
    """Each status's name in every language, by id (for the admins' form)."""
    loaded = localized.load(db, [status.id for status in found])
    return {s.id: localized.localized(loaded, s.id, STATUS_NAME, s.name) for s in found}


def names_in(db: Session, defaults: Mapping[str, str], locale: str | None) -> dict[str, str]:
    """Statuses' names (``defaults``: id to the default language's name) as a reader of
    ``locale`` sees them; ``locale`` None: the default language's (the audit)."""
    return localized.in_locale(db, defaults, STATUS_NAME, locale)


def _set_status_name(db: Session, status: CustomStatus, name: StatusName) -> list[str]:
    """Name the status (its id is set); returns the other languages whose name changed."""
    locale = localized.default_locale(db)
    default, others = localized.split(name, locale, _clean_status_name_or_empty)
    if not default:
        raise InvalidInput("A status needs a name.")
    _check_unique(db, status.channel_id, default, except_id=status.id)
    status.name = default
    db.flush()
    return localized.store(db, status.id, STATUS_NAME, others, locale)


def _clean_status_name(name: str) -> str:
    name = " ".join(plain_text(name).split())
    if not name:
        raise InvalidInput("A status needs a name.")
    if len(name) > MAX_STATUS_NAME:
        raise InvalidInput(
            N_plural(
                "The status name is too long (at most %(num)s character).",
                "The status name is too long (at most %(num)s characters).",
            ),
            num=MAX_STATUS_NAME,
        )
    return name


def _clean_status_name_or_empty(name: str) -> str:
    """An empty default is told as "needs a name" once the default language is known."""
    return _clean_status_name(name) if name.strip() else ""


def _check_unique(db: Session, channel_id: str, name: str, except_id: str | None = None) -> None:
    query = select(CustomStatus.id).where(
        CustomStatus.channel_id == channel_id, CustomStatus.name == name
    )
    if except_id is not None:
        query = query.where(CustomStatus.id != except_id)
    if db.scalar(query) is not None:
        raise Conflict("This channel already has a status with this name.")


def add_status(db: Session, channel: Channel, *, phase: str, name: StatusName) -> CustomStatus:
    if phase not in STATUS_PHASES:
        raise InvalidInput("Choose a phase for the status.")
    last = db.scalar(
        select(func.max(CustomStatus.position)).where(
            CustomStatus.channel_id == channel.id, CustomStatus.phase == phase
        )
    )
    status = CustomStatus(id=new_id(), channel_id=channel.id, phase=phase, position=(last or 0) + 1)
    _set_status_name(db, status, name)
    db.add(status)
    db.flush()
    return status


def get_status(db: Session, channel: Channel, status_id: str) -> CustomStatus:
    status = db.get(CustomStatus, status_id) if len(status_id) == 32 else None
    if status is None or status.channel_id != channel.id:
        raise NotFound("No such status.")
    return status


def rename_status(db: Session, status: CustomStatus, name: StatusName) -> str:
    """Returns the old name (in the default language)."""
    return name_status(db, status, name)[0]


def name_status(db: Session, status: CustomStatus, name: StatusName) -> tuple[str, list[str]]:
    """Rename in one language or several: the old name (in the default language) and the
    other languages whose name changed."""
    old = status.name
    return old, _set_status_name(db, status, name)


def move_status(db: Session, status: CustomStatus, step: int) -> bool:
    """Swap with the neighbour before (``step`` -1) or after (+1) within its phase. False if
    it is already first or last."""
    siblings = [s for s in statuses(db, status.channel_id) if s.phase == status.phase]
    index = next(i for i, s in enumerate(siblings) if s.id == status.id)
    other = index + step
    if step not in (-1, 1) or not 0 <= other < len(siblings):
        return False
    siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, sibling in enumerate(siblings, start=1):
        sibling.position = position
    db.flush()
    return True


def remove_status(db: Session, status: CustomStatus) -> int:
    """Remove a status; cases that had it keep their phase. Returns how many cases had it."""
    count = db.scalar(
        select(func.count()).select_from(Case).where(Case.custom_status_id == status.id)
    )
    db.execute(update(Case).where(Case.custom_status_id == status.id).values(custom_status_id=None))
    localized.forget(db, [status.id])
    db.delete(status)
    db.flush()
    return int(count or 0)
