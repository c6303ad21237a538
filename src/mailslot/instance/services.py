"""Instance settings and first-run initialisation."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailslot.channels.models import Channel
from mailslot.config import QUICK_EXIT_PATTERN
from mailslot.crypto import KdfParams, new_salt
from mailslot.errors import InvalidInput
from mailslot.instance import texts
from mailslot.instance.models import Instance
from mailslot.text import plain_text

DEFAULT_NAME = "Mailslot"
DEFAULT_CHANNEL = "default"
MAX_NAME = 200
MAX_GUIDANCE = 10_000
MAX_QUICK_EXIT = 500


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


def _clean_name(name: str) -> str:
    name = " ".join(plain_text(name).split())
    if len(name) > MAX_NAME:
        raise InvalidInput("The instance name is too long.")
    return name


def _clean_guidance(guidance: str) -> str:
    guidance = plain_text(guidance, multiline=True)
    if len(guidance) > MAX_GUIDANCE:
        raise InvalidInput("The guidance text is too long.")
    return guidance.strip()


def update_settings(
    db: Session,
    instance_id: int,
    *,
    name: Mapping[str, str] | str,
    guidance: Mapping[str, str] | str,
    show_source_submissions: bool,
    default_locale: str | None = None,
    quick_exit_url: str | None = None,
) -> Instance:
    """The organisation's name and guidance, each one text per language (a plain string:
    the default language's only, the others kept), its default language and where its quick
    exit leads (None: kept)."""
    instance = get_instance(db, instance_id)
    locale = texts.check_locale(default_locale or instance.default_locale)
    default_name, other_names = texts.split(name, locale, _clean_name)
    default_guidance, other_guidance = texts.split(guidance, locale, _clean_guidance)
    if not default_name:
        raise InvalidInput("The instance name cannot be empty.")
    instance.default_locale = locale
    instance.name = default_name
    instance.guidance = default_guidance
    instance.show_source_submissions = show_source_submissions
    if quick_exit_url is not None:
        instance.quick_exit_url = check_quick_exit(quick_exit_url)
    texts.store(db, texts.INSTANCE, "name", other_names, locale)
    texts.store(db, texts.INSTANCE, "guidance", other_guidance, locale)
    return instance


def check_quick_exit(url: str) -> str:
    """Empty (the install's choice), or an http(s) address where ``{lang}`` becomes the
    source's language tag."""
    url = url.strip()
    if url and (len(url) > MAX_QUICK_EXIT or not QUICK_EXIT_PATTERN.fullmatch(url)):
        raise InvalidInput(
            "The quick exit needs an address starting with https:// or http://, without "
            "spaces or quotes; {lang} in it becomes the source's language."
        )
    return url


def display_name(db: Session, instance_id: int, locale: str) -> str:
    """The organisation's name in ``locale``, or in its default language."""
    found = texts.load(db, [texts.INSTANCE]).get((texts.INSTANCE, "name"), {})
    return found.get(locale) or get_instance(db, instance_id).name


def localized_texts(db: Session, instance: Instance) -> tuple[texts.Localized, texts.Localized]:
    """The organisation's name and guidance in every language."""
    loaded = texts.load(db, [texts.INSTANCE])
    return (
        texts.localized(loaded, texts.INSTANCE, "name", instance.name),
        texts.localized(loaded, texts.INSTANCE, "guidance", instance.guidance),
    )


def has_channels(db: Session) -> bool:
    return db.scalar(select(Channel.id).limit(1)) is not None
