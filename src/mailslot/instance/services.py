"""Instance settings and first-run initialisation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailslot.channels.models import Channel
from mailslot.crypto import KdfParams, new_salt
from mailslot.errors import InvalidInput
from mailslot.instance.models import Instance
from mailslot.text import plain_text

DEFAULT_NAME = "Mailslot"
DEFAULT_CHANNEL = "default"
MAX_NAME = 200
MAX_GUIDANCE = 10_000


def ensure_instance(db: Session, kdf: KdfParams, now: int) -> Instance:
    """The organisation's settings row: its database holds one; on a fresh database, create
    it and the ``default`` channel."""
    instance = db.scalar(select(Instance).order_by(Instance.id).limit(1))
    if instance is None:
        instance = Instance(
            id=1,
            name=DEFAULT_NAME,
            guidance="",
            show_source_submissions=False,
            codename_salt=new_salt(),
            source_kdf=kdf.encode(),
            created_at=now,
        )
        db.add(instance)
        db.add(Channel(name=DEFAULT_CHANNEL, description="", created_at=now))
        db.flush()
    return instance


def get_instance(db: Session, instance_id: int) -> Instance:
    """The organisation's settings row (``OrgContext.instance_id``)."""
    instance = db.get(Instance, instance_id)
    if instance is None:
        raise RuntimeError("the instance is not initialised")
    return instance


def update_settings(
    db: Session,
    instance_id: int,
    *,
    name: str,
    guidance: str,
    show_source_submissions: bool,
) -> Instance:
    name = " ".join(plain_text(name).split())
    guidance = plain_text(guidance, multiline=True)
    if not name:
        raise InvalidInput("The instance name cannot be empty.")
    if len(name) > MAX_NAME:
        raise InvalidInput("The instance name is too long.")
    if len(guidance) > MAX_GUIDANCE:
        raise InvalidInput("The guidance text is too long.")
    instance = get_instance(db, instance_id)
    instance.name = name
    instance.guidance = guidance.strip()
    instance.show_source_submissions = show_source_submissions
    return instance


def has_channels(db: Session) -> bool:
    return db.scalar(select(Channel.id).limit(1)) is not None
