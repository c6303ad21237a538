"""Languages: the supported locales, choosing one for a request, and the message catalogues.

Catalogues are compiled ahead of time: ``./scripts/i18n`` (and every install by
``./scripts/run`` or ``./scripts/test``) runs ``python -m mailslot.i18n``, which writes each
``messages.po`` as ``messages.mo`` beside it and the little of CLDR that formatting needs as
``locale/formats.pickle`` (:mod:`mailslot.formats`). A process then loads each ``.mo``
packed (:mod:`mailslot.catalogue`), and never imports Babel's catalogue code. A ``.mo`` that is
missing, or older than its ``.po`` (each ``.mo`` records a fingerprint of the ``.po`` it came
from), is compiled in memory instead, so a checkout that was never compiled still serves
every language correctly, with a little more memory (see ``docs/performance.md``).
"""

from __future__ import annotations

import gettext
import io
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

from babel.core import parse_locale

from mailslot.catalogue import PackedTranslations

DEFAULT_LOCALE: Final = "en"


@dataclass(frozen=True, slots=True)
class Language:
    """What a page needs to know about a locale (constants: tests/unit/test_i18n.py checks
    each against CLDR, whose data would take megabytes of every process's memory)."""

    tag: str  # BCP 47, for lang="" and hreflang=""
    name: str  # the language's name in itself
    direction: str  # "ltr" or "rtl"


LANGUAGES: Final[Mapping[str, Language]] = {
    "en": Language("en", "English", "ltr"),
    "ko": Language("ko", "한국어", "ltr"),
    "zh_Hans": Language("zh-Hans", "中文 (简体)", "ltr"),
    "zh_Hant": Language("zh-Hant", "中文 (繁體)", "ltr"),
    "ja": Language("ja", "日本語", "ltr"),
    "ru": Language("ru", "русский", "ltr"),
    "uk": Language("uk", "українська", "ltr"),
    "ar": Language("ar", "العربية", "rtl"),
    "fa": Language("fa", "فارسی", "rtl"),
    "es": Language("es", "español", "ltr"),
    "fr": Language("fr", "français", "ltr"),
    "de": Language("de", "Deutsch", "ltr"),
    "tr": Language("tr", "Türkçe", "ltr"),
}
SUPPORTED_LOCALES: Final = tuple(LANGUAGES)
# Chinese written in these territories, without a script subtag, is Traditional.
_TRADITIONAL_TERRITORIES: Final = frozenset({"TW", "HK", "MO"})
# At most this many languages of an Accept-Language header are considered.
_MAX_PREFERENCES: Final = 32
_BUILD_CONTEXT: Final = "mailslot-build"  # msgctxt of the .po fingerprint in a compiled .mo
_FINGERPRINT: Final = "po-fingerprint"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where the locale is known."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """Mark a message that counts (``%(num)s``) for extraction with its plural; a service
    error takes the pair (``errors.ServiceError``), ``ngettext`` chooses the form later."""
    return singular, plural


def language(locale: str) -> Language:
    return LANGUAGES.get(locale, LANGUAGES[DEFAULT_LOCALE])


def display_name(locale: str) -> str:
    return language(locale).name


def text_direction(locale: str) -> str:
    """ "ltr" or "rtl"; for a locale not supported here, CLDR says."""
    if locale in LANGUAGES:
        return LANGUAGES[locale].direction
    from babel import Locale  # noqa: PLC0415 - CLDR's data only for a locale not listed above

    return "rtl" if Locale.parse(locale).character_order == "right-to-left" else "ltr"


# Choosing the language.


def supported(tag: str | None) -> str | None:
    """The supported locale for a language tag (``ko-KR``, ``zh-TW``, ``zh_Hans``, ``FR``),
    or None. Chinese goes by script, else by territory (TW, HK, MO: Traditional); any other
    language by its primary subtag alone, so ``pt-BR`` is None and the caller moves on."""
    if not tag or len(tag) > 64:
        return None
    try:
        parts = parse_locale(tag.strip().replace("_", "-"), sep="-")
    except ValueError:
        return None
    lang, territory, script = parts[0], parts[1], parts[2]
    if lang == "zh":
        if script == "Hant" or (script is None and territory in _TRADITIONAL_TERRITORIES):
            return "zh_Hant"
        return "zh_Hans"
    return lang if lang in LANGUAGES else None


def preferences(accept_language: str | None) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first (by q-value, then
    by order); tags with q=0, malformed q-values and ``*`` are left out."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:_MAX_PREFERENCES]):
        tag, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and 0 < quality <= 1:
            ranked.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(requested: str | None, accept_language: str | None, chosen: str | None = None) -> str:
    """An explicit choice (``?lang=``) wins; then the choice the browser kept (the language
    cookie); then the browser's preferences in order; then English."""
    for tag in (requested, chosen):
        if (locale := supported(tag)) is not None:
            return locale
    return accepted(accept_language) or DEFAULT_LOCALE


def accepted(accept_language: str | None) -> str | None:
    """The first supported language of an Accept-Language header, or None when it names
    none (the API then answers in the organisation's default language, not in English)."""
    for tag in preferences(accept_language):
        if (locale := supported(tag)) is not None:
            return locale
    return None


# Catalogues.


def _catalog_dir(locale: str) -> Traversable:
    return resources.files("mailslot") / "locale" / locale / "LC_MESSAGES"


def fingerprint(po: bytes) -> str:
    """Which ``.po`` a ``.mo`` was compiled from (to notice a stale one; not a security
    check)."""
    return f"{len(po)}-{zlib.crc32(po):08x}"


def compile_catalog(po: bytes) -> bytes:
    """A ``.po`` as a ``.mo``, with the ``.po``'s fingerprint inside (Babel does the work)."""
    from babel.messages.mofile import write_mo  # noqa: PLC0415 - only when compiling
    from babel.messages.pofile import read_po  # noqa: PLC0415

    # No locale given: the plural rule comes from the .po's own header, and Babel loads no
    # CLDR data for it.
    catalog = read_po(io.BytesIO(po))
    catalog.add(_FINGERPRINT, fingerprint(po), context=_BUILD_CONTEXT)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def catalog_locales() -> Iterator[str]:
    """Every supported locale whose catalogue is there (every one but English, the source
    text; tests/unit/test_i18n.py checks that none is missing)."""
    for locale in SUPPORTED_LOCALES:
        if locale != DEFAULT_LOCALE and (_catalog_dir(locale) / "messages.po").is_file():
            yield locale


def compiled_is_current(locale: str) -> bool:
    folder = _catalog_dir(locale)
    mo = folder / "messages.mo"
    if not mo.is_file():
        return False
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    found = compiled.pgettext(_BUILD_CONTEXT, _FINGERPRINT)
    return found == fingerprint((folder / "messages.po").read_bytes())


@cache
def translations(locale: str) -> gettext.NullTranslations:
    if locale not in set(catalog_locales()):
        return gettext.NullTranslations()
    folder = _catalog_dir(locale)
    if compiled_is_current(locale):
        return PackedTranslations((folder / "messages.mo").read_bytes())
    return PackedTranslations(compile_catalog((folder / "messages.po").read_bytes()))


def translate(locale: str, message: str, params: Mapping[str, object] | None = None) -> str:
    text = translations(locale).gettext(message)
    return text % params if params else text


def translate_plural(
    locale: str, singular: str, plural: str, n: int, params: Mapping[str, object] | None = None
) -> str:
    text = translations(locale).ngettext(singular, plural, n)
    return text % {"num": n, **(params or {})}


def translate_message(
    locale: str, message: str, plural: str | None, params: Mapping[str, object]
) -> str:
    """A service error's message (``errors.ServiceError``): its plural forms chosen by the
    ``num`` parameter when it has them."""
    num = params.get("num")
    if plural is not None and isinstance(num, int):
        return translate_plural(locale, message, plural, num, params)
    return translate(locale, message, params or None)


def operator_locale(environ: Mapping[str, str]) -> str:
    """The language of whoever runs a command, from the POSIX locale variables as gettext
    reads them (``LANGUAGE``'s list first, then ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), the
    first supported one: ``ko_KR.UTF-8`` is Korean; ``C`` or no supported language, English."""
    chosen = [*environ.get("LANGUAGE", "").split(":")]
    chosen += [environ.get(name, "") for name in ("LC_ALL", "LC_MESSAGES", "LANG")]
    for value in chosen:
        tag = value.split(".", 1)[0].split("@", 1)[0]
        found = supported(tag) if tag not in ("C", "POSIX") else None
        if found is not None:
            return found
    return DEFAULT_LOCALE


def english_message(message: str, plural: str | None, params: Mapping[str, object]) -> str:
    """The same in English, from the msgids alone (the API's ``detail``, logs)."""
    num = params.get("num")
    text = plural if plural is not None and isinstance(num, int) and num != 1 else message
    return text % params if params else text


class LazyText(str):
    """English text that keeps its msgid and parameters, to be shown in another language
    later: ``mailslot check`` builds its findings once, prints them in the operator's language
    and writes ``--json`` in English. Everywhere else it is the plain English string. A
    parameter may itself be a LazyText."""

    message: str
    plural: str | None
    params: Mapping[str, object]

    def __new__(cls, message: str, plural: str | None = None, /, **params: object) -> LazyText:
        text = super().__new__(cls, english_message(message, plural, params))
        text.message, text.plural, text.params = message, plural, params
        return text

    @classmethod
    def joined(cls, separator: str, parts: Sequence[str]) -> LazyText:
        """``parts`` (LazyText or not) with ``separator`` between them, each translated."""
        template = separator.replace("%", "%%").join(f"%(part{i})s" for i in range(len(parts)))
        return cls(template, **{f"part{i}": part for i, part in enumerate(parts)})

    def translated(self, locale: str) -> str:
        params = {
            name: value.translated(locale) if isinstance(value, LazyText) else value
            for name, value in self.params.items()
        }
        return translate_message(locale, self.message, self.plural, params)


def compile_all() -> list[str]:
    """Write every catalogue's ``.mo`` and the formatting data; the files written."""
    from mailslot import formats  # noqa: PLC0415 - formats imports this module

    written = []
    for locale in catalog_locales():
        folder = _catalog_dir(locale)
        target = folder / "messages.mo"
        with resources.as_file(target) as path:
            path.write_bytes(compile_catalog((folder / "messages.po").read_bytes()))
            written.append(str(path))
    written.append(formats.write_data())
    return written


if __name__ == "__main__":  # python -m mailslot.i18n: compile (scripts/i18n, scripts/_common.sh)
    for name in compile_all():
        print(name)
