"""A channel's questionnaire, stored: the admins' use cases and the reads the source's flow
and the staff's pages need.

Every change is a new version (``models.QuestionnaireVersion``); the one marked current is
what new sources answer. A definition is checked in full (``parse.parse_definition``)
before anything is stored, so a stored definition always makes a working form. Setting the
same definition again (the same hash) stores nothing. Removing leaves no version current:
the channel's free-text form is back, and older answers still name their version.

``admin`` is None when the operator runs the command line (``mailslot questionnaires``),
like ``mailslot channels``; the audit event then says ``via: cli``. Each function is
blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailslot.audit import services as audit
from mailslot.channels import services as channels
from mailslot.context import OrgContext
from mailslot.errors import InvalidInput, NotFound
from mailslot.questionnaires.canonical import definition_hash, definition_json, to_data
from mailslot.questionnaires.model import Definition
from mailslot.questionnaires.models import QuestionnaireVersion
from mailslot.questionnaires.parse import load_definition, parse_definition
from mailslot.questionnaires.sealed import QuestionnaireRef
from mailslot.questionnaires.templates import load_template, template_names
from mailslot.recipients.models import User
from mailslot.recipients.services import require_admin

DAY: Final = 86400
# The largest definition file accepted (the definition's own limits are far smaller).
MAX_FILE_BYTES: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored version, parsed."""

    channel_id: str
    ref: QuestionnaireRef
    definition: Definition
    current: bool
    created_at: int


def _stored(row: QuestionnaireVersion) -> Stored:
    return Stored(
        channel_id=row.channel_id,
        ref=QuestionnaireRef(id=row.id, version=row.version, hash=row.content_hash),
        definition=parse_definition(json.loads(row.definition)),
        current=row.current,
        created_at=row.created_at,
    )


# Reads, inside the caller's unit of work.


def current(db: Session, channel_id: str) -> Stored | None:
    """The channel's current questionnaire, or None (the free-text form)."""
    row = db.scalar(
        select(QuestionnaireVersion).where(
            QuestionnaireVersion.channel_id == channel_id, QuestionnaireVersion.current
        )
    )
    return None if row is None else _stored(row)


def channels_with_one(db: Session) -> set[str]:
    """The ids of the channels that have a current questionnaire."""
    query = select(QuestionnaireVersion.channel_id).where(QuestionnaireVersion.current)
    return set(db.scalars(query))


def version(db: Session, questionnaire_id: str) -> Stored | None:
    """A version by its id (answers name it), current or not; None if it is gone."""
    row = db.get(QuestionnaireVersion, questionnaire_id)
    return None if row is None else _stored(row)


# Use cases.


def channel_id_named(ctx: OrgContext, name: str) -> str:
    with ctx.db() as db:
        return channels.get_channel_by_name(db, name).id


def parse_file(data: bytes) -> Definition:
    """A definition file (UTF-8 JSON) checked in full, or one clear error."""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput("The questionnaire file is too large.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The questionnaire file is not UTF-8 text.") from None
    return load_definition(text)


def set_definition(
    ctx: OrgContext, admin: User | None, channel_id: str, definition: Definition
) -> Stored:
    """Make ``definition`` the channel's current questionnaire: a new version, unless it is
    the current one already."""
    if admin is not None:
        require_admin(admin)
    digest = definition_hash(definition)
    now = ctx.now()
    with ctx.db() as db:
        channel = channels.get_channel(db, channel_id)
        existing = current(db, channel.id)
        if existing is not None and existing.ref.hash == digest:
            return existing
        number = (
            db.scalar(
                select(func.max(QuestionnaireVersion.version)).where(
                    QuestionnaireVersion.channel_id == channel.id
                )
            )
            or 0
        ) + 1
        db.execute(
            update(QuestionnaireVersion)
            .where(QuestionnaireVersion.channel_id == channel.id)
            .values(current=False)
        )
        row = QuestionnaireVersion(
            channel_id=channel.id,
            version=number,
            content_hash=digest,
            definition=definition_json(definition).decode(),
            current=True,
            created_at=now - now % DAY,
        )
        db.add(row)
        db.flush()
        _audit(db, admin, "channel.questionnaire.set", now, channel.id, version=number, hash=digest)
        return _stored(row)


def import_file(ctx: OrgContext, admin: User | None, channel_id: str, data: bytes) -> Stored:
    """Who may, and which channel, are settled before the file is read: a channel that is not
    there is not found, whatever the file holds."""
    if admin is not None:
        require_admin(admin)
    with ctx.db() as db:
        channels.get_channel(db, channel_id)
    return set_definition(ctx, admin, channel_id, parse_file(data))


def use_template(ctx: OrgContext, admin: User | None, channel_id: str, name: str) -> Stored:
    if name not in template_names():
        raise NotFound("No such questionnaire template: %(name)s", name=name)
    return set_definition(ctx, admin, channel_id, load_template(name))


def current_for(ctx: OrgContext, admin: User | None, channel_id: str) -> Stored:
    """The channel's current questionnaire, for an admin."""
    if admin is not None:
        require_admin(admin)
    with ctx.db() as db:
        stored = current(db, channels.get_channel(db, channel_id).id)
    if stored is None:
        raise NotFound("This channel has no questionnaire.")
    return stored


def definition_text(stored: Stored) -> str:
    """A stored definition as indented JSON, ready to edit and import again."""
    return json.dumps(to_data(stored.definition), ensure_ascii=False, indent=2) + "\n"


def export(ctx: OrgContext, admin: User | None, channel_id: str) -> bytes:
    """The channel's current definition as indented JSON."""
    return definition_text(current_for(ctx, admin, channel_id)).encode()


def versions(ctx: OrgContext, admin: User | None, channel_id: str) -> list[Stored]:
    """Every version of the channel's questionnaire, newest first."""
    if admin is not None:
        require_admin(admin)
    with ctx.db() as db:
        channel = channels.get_channel(db, channel_id)
        rows = db.scalars(
            select(QuestionnaireVersion)
            .where(QuestionnaireVersion.channel_id == channel.id)
            .order_by(QuestionnaireVersion.version.desc())
        )
        return [_stored(row) for row in rows]


def remove(ctx: OrgContext, admin: User | None, channel_id: str) -> bool:
    """The channel goes back to its free-text form; False if it had no questionnaire. Older
    versions stay, for the answers given against them."""
    if admin is not None:
        require_admin(admin)
    now = ctx.now()
    with ctx.db() as db:
        channel = channels.get_channel(db, channel_id)
        existing = current(db, channel.id)
        if existing is None:
            return False
        db.execute(
            update(QuestionnaireVersion)
            .where(QuestionnaireVersion.channel_id == channel.id)
            .values(current=False)
        )
        _audit(
            db, admin, "channel.questionnaire.remove", now, channel.id, version=existing.ref.version
        )
        return True


def _audit(
    db: Session, admin: User | None, action: str, now: int, channel_id: str, **detail: Any
) -> None:
    if admin is None:
        audit.record(db, action, now=now, channel_id=channel_id, via="cli", **detail)
    else:
        audit.record(
            db,
            action,
            now=now,
            actor_id=admin.id,
            actor=admin.username,
            channel_id=channel_id,
            **detail,
        )
