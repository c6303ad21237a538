"""Locale negotiation, text direction, translation, and the completeness of the Korean catalog."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from mailslot import i18n

pytestmark = pytest.mark.no_database

LOCALE_DIR = resources.files("mailslot") / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def catalog(path: str, locale: str | None = None) -> Catalog:
    with (LOCALE_DIR / path).open("rb") as handle:
        return read_po(handle, locale=locale)


def template_ids() -> list[str]:
    return [m.id if isinstance(m.id, str) else m.id[0] for m in catalog("messages.pot") if m.id]


@pytest.mark.parametrize(
    ("requested", "accept_language", "expected"),
    [
        ("ko", "en-US,en;q=0.9", "ko"),
        ("en", "ko-KR,ko;q=0.9", "en"),
        (None, "ko-KR,ko;q=0.9,en;q=0.8", "ko"),
        (None, "fr-FR, de;q=0.8, KO;q=0.5", "ko"),
        (None, "ko_KR", "ko"),
        (None, "fr, de", "en"),
        (None, None, "en"),
        (None, "", "en"),
        ("xx", "ko", "ko"),
        ("../../etc", None, "en"),
    ],
)
def test_negotiate(requested: str | None, accept_language: str | None, expected: str) -> None:
    assert i18n.negotiate(requested, accept_language) == expected


@pytest.mark.parametrize(
    ("locale", "direction"), [("ar", "rtl"), ("he", "rtl"), ("fa", "rtl"), ("en", "ltr")]
)
def test_text_direction(locale: str, direction: str) -> None:
    assert i18n.text_direction(locale) == direction


def test_supported_locales_are_left_to_right_and_named() -> None:
    assert i18n.text_direction("ko") == "ltr"
    assert i18n.display_name("ko") == "한국어"
    assert i18n.display_name("en") == "English"


@pytest.mark.parametrize("locale", i18n.SUPPORTED_LOCALES)
def test_locale_facts_agree_with_cldr(locale: str) -> None:
    # The names and directions are constants (to keep Babel's locale data out of memory);
    # a locale added without its facts, or with wrong ones, fails here.
    cldr = Locale.parse(locale)
    assert i18n.display_name(locale) == cldr.display_name
    expected = "rtl" if cldr.character_order == "right-to-left" else "ltr"
    assert i18n.text_direction(locale) == expected


def test_translate_with_params() -> None:
    msgid = "You can send at most %(n)s files at once."
    assert i18n.translate("en", msgid, {"n": 7}) == "You can send at most 7 files at once."
    korean = i18n.translate("ko", msgid, {"n": 7})
    assert "7" in korean
    assert "%(n)s" not in korean
    assert korean != "You can send at most 7 files at once."


def test_translate_falls_back_to_english() -> None:
    assert i18n.translate("ko", "A sentence nobody has translated.") == (
        "A sentence nobody has translated."
    )
    assert i18n.translate("fr", "The message is too long.") == "The message is too long."
    assert i18n.translate("en", "100%% sure", None) == "100%% sure"  # no params: no formatting


def test_every_message_has_a_korean_translation() -> None:
    korean = catalog("ko/LC_MESSAGES/messages.po", "ko")
    missing = []
    for msgid in template_ids():
        message = korean.get(msgid)
        strings = message.string if message is not None else ""
        if isinstance(strings, str):
            strings = (strings,)
        if not all(s.strip() for s in strings):
            missing.append(msgid)
    assert not missing, f"{len(missing)} messages have no Korean translation: {missing[:10]}"


def test_korean_translations_are_not_fuzzy_and_keep_placeholders() -> None:
    korean = catalog("ko/LC_MESSAGES/messages.po", "ko")
    problems = []
    for message in korean:
        if not message.id or not message.string:
            continue
        ids = (message.id,) if isinstance(message.id, str) else message.id
        strings = (message.string,) if isinstance(message.string, str) else message.string
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]}")
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != expected:
                problems.append(f"placeholders differ: {ids[0]}")
    assert not problems, problems
