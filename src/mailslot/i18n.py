"""Translations: gettext catalogs compiled from the ``.po`` files in memory at start-up.

No compiled ``.mo`` file is committed or needed: Babel reads the ``.po`` and writes the binary
catalog into memory, so a checkout and an installed package behave the same.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from importlib import resources
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DEFAULT_LOCALE: Final = "en"
# Each supported locale's name in itself and its text direction, as CLDR gives them
# (tests/unit/test_i18n.py checks they agree with Babel). Constants, because Babel's locale
# data would take some 5 MiB of every serving process's memory for these two facts.
_LOCALE_FACTS: Final = {"en": ("English", "ltr"), "ko": ("한국어", "ltr")}
SUPPORTED_LOCALES: Final = tuple(_LOCALE_FACTS)


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where the locale is known."""
    return message


@cache
def translations(locale: str) -> gettext.NullTranslations:
    if locale == DEFAULT_LOCALE or locale not in SUPPORTED_LOCALES:
        return gettext.NullTranslations()
    po_file = resources.files("mailslot") / "locale" / locale / "LC_MESSAGES" / "messages.po"
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def _facts(locale: str) -> tuple[str, str]:
    """A locale's name in itself and its text direction ("ltr" or "rtl")."""
    if locale in _LOCALE_FACTS:
        return _LOCALE_FACTS[locale]
    from babel import Locale  # noqa: PLC0415 - only for a locale without its facts above

    cldr = Locale.parse(locale)
    return str(cldr.display_name or locale), (
        "rtl" if cldr.character_order == "right-to-left" else "ltr"
    )


def display_name(locale: str) -> str:
    return _facts(locale)[0]


def text_direction(locale: str) -> str:
    return _facts(locale)[1]


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """An explicit choice wins; then the browser's preference; then English."""
    if requested in SUPPORTED_LOCALES:
        return requested
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower().replace("_", "-")
        base = tag.split("-")[0]
        if base in SUPPORTED_LOCALES:
            return base
    return DEFAULT_LOCALE


def translate(locale: str, message: str, params: dict[str, object] | None = None) -> str:
    text = translations(locale).gettext(message)
    return text % params if params else text
