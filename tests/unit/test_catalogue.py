"""Packed catalogues (``mailslot.catalogue``) answer every message of every language exactly
as ``gettext.GNUTranslations`` reading the same ``.mo`` does: plurals in every form,
contexts, the plural form for one standing in for a singular, and messages without a
translation given back unchanged."""

from __future__ import annotations

import gettext
import io

import pytest

from mailslot import i18n
from mailslot.catalogue import PackedTranslations

NUMBERS = (0, 1, 2, 3, 4, 5, 10, 11, 12, 21, 22, 25, 100, 101, 102, 111, 1000, 1001)


def _compiled(locale: str) -> bytes:
    """The catalogue as a process loads it (the .mo, or the .po compiled in memory)."""
    folder = i18n._catalog_dir(locale)
    if i18n.compiled_is_current(locale):
        return (folder / "messages.mo").read_bytes()
    return i18n.compile_catalog((folder / "messages.po").read_bytes())


@pytest.mark.parametrize("locale", list(i18n.catalog_locales()))
def test_every_message_reads_as_gnu_gettext_reads_it(locale: str) -> None:
    mo = _compiled(locale)
    expected = gettext.GNUTranslations(io.BytesIO(mo))
    packed = PackedTranslations(mo)
    catalog = expected._catalog  # type: ignore[attr-defined]
    checked = 0
    for key in catalog:
        if key == "":
            continue
        message = key[0] if isinstance(key, tuple) else key
        context, separator, text = message.partition("\x04")
        if not separator:
            text = message
        if isinstance(key, tuple):
            for n in NUMBERS:
                if separator:
                    got = packed.npgettext(context, text, "others zq", n)
                    assert got == expected.npgettext(context, text, "others zq", n), (key, n)
                else:
                    got = packed.ngettext(text, "others zq", n)
                    assert got == expected.ngettext(text, "others zq", n), (key, n)
        if separator:
            assert packed.pgettext(context, text) == expected.pgettext(context, text), key
        else:
            assert packed.gettext(text) == expected.gettext(text), key
        checked += 1
    assert checked > 1000, "the catalogue has its messages"
    assert dict(packed._catalog) == {k: v for k, v in catalog.items() if k != ""}
    # Positive control: a translated message is not given back in English.
    assert packed.gettext("Inbox") != "Inbox"


def test_a_message_without_a_translation_is_given_back() -> None:
    packed = i18n.translations("ko")
    assert isinstance(packed, PackedTranslations)
    assert packed.gettext("No such message zq") == "No such message zq"
    assert packed.pgettext("nowhere zq", "No such message zq") == "No such message zq"
    assert packed.ngettext("%(num)s thing zq", "%(num)s things zq", 1) == "%(num)s thing zq"
    assert packed.ngettext("%(num)s thing zq", "%(num)s things zq", 2) == "%(num)s things zq"
    assert packed.npgettext("x zq", "one zq", "many zq", 5) == "many zq"
    assert "No such message zq" not in packed._catalog


def test_a_file_that_is_not_a_catalogue_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\.mo"):
        PackedTranslations(b"\x00" * 28)
