"""Texts that admins write, in every language: the organisation's name and guidance, channel
names and descriptions, the names of a channel's own statuses (the automatic
acknowledgements have their own table, one row per language, in ``channels``).

The text in the organisation's default language is required and stays in its owner's own
column (``Instance.name``, ``Channel.description`` …), so that an install from before
languages keeps its texts as the default language's, and everything that names a channel
(the CLI's ``--channel NAME``, the audit trail) keeps using that text. The other languages
are rows of ``localized_texts``; a reader sees the text in their language when there is
one, the default language's otherwise. Data functions: they never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailslot.errors import InvalidInput
from mailslot.i18n import DEFAULT_LOCALE, SUPPORTED_LOCALES
from mailslot.instance.models import Instance, LocalizedText

INSTANCE: str = "instance"  # the owner of the organisation's own texts


@dataclass(frozen=True, slots=True)
class Localized:
    """One text in the default language and in the others an admin wrote it in."""

    default: str
    others: Mapping[str, str] = field(default_factory=dict)

    def text(self, locale: str | None) -> str:
        """As a reader of ``locale`` sees it (None: the default language's)."""
        return (self.others.get(locale) if locale else None) or self.default

    def by_locale(self, default_locale: str) -> dict[str, str]:
        """Every language's text (the default language's too), for a form or the API."""
        return {**self.others, default_locale: self.default}


def default_locale(db: Session) -> str:
    """The organisation's default language (one settings row per database)."""
    locale = db.scalar(select(Instance.default_locale).order_by(Instance.id).limit(1))
    return locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE


def check_locale(locale: str) -> str:
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInput("Unknown language: %(name)s", name=locale)
    return locale


def load(db: Session, owners: Collection[str]) -> dict[tuple[str, str], dict[str, str]]:
    """The other languages' texts of ``owners``, by (owner, field)."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    if not owners:
        return found
    rows = db.execute(
        select(LocalizedText.owner, LocalizedText.field, LocalizedText.locale, LocalizedText.text)
        .where(LocalizedText.owner.in_(list(owners)))
        .order_by(LocalizedText.owner, LocalizedText.field, LocalizedText.locale)
    )
    for owner, name, locale, text in rows:
        found.setdefault((owner, name), {})[locale] = text
    return found


def in_locale(
    db: Session, defaults: Mapping[str, str], name: str, locale: str | None
) -> dict[str, str]:
    """The text of field ``name`` of each owner in ``defaults`` (owner: its text in the
    default language) as a reader of ``locale`` sees it: that language's where there is
    one, the default language's otherwise (and for a ``locale`` of None)."""
    found = dict(defaults)
    if locale is None or not found:
        return found
    rows = db.execute(
        select(LocalizedText.owner, LocalizedText.text).where(
            LocalizedText.owner.in_(list(found)),
            LocalizedText.field == name,
            LocalizedText.locale == locale,
        )
    )
    found.update((owner, text) for owner, text in rows if text)
    return found


def forget(db: Session, owners: Collection[str]) -> None:
    """Remove every language's texts of ``owners`` (an owner that goes)."""
    if owners:
        db.execute(delete(LocalizedText).where(LocalizedText.owner.in_(list(owners))))


def localized(
    loaded: Mapping[tuple[str, str], Mapping[str, str]], owner: str, name: str, default: str
) -> Localized:
    return Localized(default, dict(loaded.get((owner, name), {})))


def split(
    texts: Mapping[str, str] | str,
    default_locale: str,
    clean: Callable[[str], str],
) -> tuple[str, dict[str, str]]:
    """A form's or a command's texts, one per language (a plain string: the default
    language's only), cleaned by ``clean`` each: the default language's, and the others
    (empty ones included, so that storing them removes them)."""
    if isinstance(texts, str):
        return clean(texts), {}
    for locale in texts:
        check_locale(locale)
    others = {
        locale: clean(text) if text.strip() else ""
        for locale, text in texts.items()
        if locale != default_locale
    }
    return clean(texts.get(default_locale, "")), others


def store(
    db: Session, owner: str, name: str, others: Mapping[str, str], default_locale: str
) -> list[str]:
    """Set the other languages' texts of one field (an empty text removes that language's).
    A row left in the default language (which just became the default) goes: that text is
    in the owner's column now. Returns the languages whose text changed."""
    current = load(db, [owner]).get((owner, name), {})
    changed = []
    wanted = {**others, default_locale: ""} if default_locale in current else dict(others)
    for locale, text in sorted(wanted.items()):
        if text == current.get(locale, ""):
            continue
        changed.append(locale)
        row = db.get(LocalizedText, (owner, name, locale))
        if not text:
            if row is not None:
                db.delete(row)
        elif row is None:
            db.add(LocalizedText(owner=owner, field=name, locale=locale, text=text))
        else:
            row.text = text
    db.flush()
    return changed
