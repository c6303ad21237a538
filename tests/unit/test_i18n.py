"""Languages: the supported locales agree with CLDR, Accept-Language and ?lang= choose one,
catalogues compile and load, and every catalogue is complete and well formed."""

from __future__ import annotations

import gettext
import io
import re
from importlib import resources
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from mailslot import errors, i18n

pytestmark = pytest.mark.no_database

LOCALE_DIR = resources.files("mailslot") / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# Every locale with a catalogue: all but English, the source text.
CATALOGUE_LOCALES = tuple(code for code in i18n.SUPPORTED_LOCALES if code != "en")


def catalog(path: str, locale: str | None = None) -> Catalog:
    with (LOCALE_DIR / path).open("rb") as handle:
        return read_po(handle, locale=locale)


def template_ids() -> list[str]:
    return [m.id if isinstance(m.id, str) else m.id[0] for m in catalog("messages.pot") if m.id]


def test_the_thirteen_languages() -> None:
    assert (
        *("en", "ko", "zh_Hans", "zh_Hant", "ja", "ru", "uk"),
        *("ar", "fa", "es", "fr", "de", "tr"),
    ) == i18n.SUPPORTED_LOCALES


@pytest.mark.parametrize("locale", i18n.SUPPORTED_LOCALES)
def test_locale_facts_agree_with_cldr(locale: str) -> None:
    # The names, tags and directions are constants (to keep Babel's locale data out of
    # memory); a locale added without its facts, or with wrong ones, fails here.
    cldr = Locale.parse(locale)
    assert i18n.display_name(locale) == cldr.display_name
    expected = "rtl" if cldr.character_order == "right-to-left" else "ltr"
    assert i18n.text_direction(locale) == expected
    assert i18n.language(locale).tag == str(cldr).replace("_", "-")
    assert i18n.supported(i18n.language(locale).tag) == locale


def test_arabic_and_persian_are_right_to_left() -> None:
    assert [c for c in i18n.SUPPORTED_LOCALES if i18n.text_direction(c) == "rtl"] == ["ar", "fa"]
    assert i18n.text_direction("he") == "rtl"  # a locale not listed: CLDR says


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("ko", "ko"),
        ("ko-KR", "ko"),
        ("KO_kr", "ko"),
        ("zh-Hant", "zh_Hant"),
        ("zh-Hant-CN", "zh_Hant"),  # the script wins over the territory
        ("zh-TW", "zh_Hant"),
        ("zh-HK", "zh_Hant"),
        ("zh-MO", "zh_Hant"),
        ("zh_Hant", "zh_Hant"),
        ("zh-hant", "zh_Hant"),
        ("zh", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh-Hans-HK", "zh_Hans"),
        ("fa-IR", "fa"),
        ("ar-EG", "ar"),
        ("de-CH-1996", "de"),
        ("pt-BR", None),
        ("pt", None),
        ("*", None),
        ("", None),
        (None, None),
        ("../../etc", None),
        ("en-US-x-private", None),
        ("a" * 65, None),
    ],
)
def test_supported(tag: str | None, expected: str | None) -> None:
    assert i18n.supported(tag) == expected


@pytest.mark.parametrize(
    ("requested", "accept_language", "chosen", "expected"),
    [
        ("ko", "en-US,en;q=0.9", None, "ko"),
        ("en", "ko-KR,ko;q=0.9", None, "en"),
        (None, "ko-KR,ko;q=0.9,en;q=0.8", None, "ko"),
        (None, "pt-BR, de;q=0.8, KO;q=0.5", None, "de"),  # no Portuguese: the next one
        (None, "pt-BR, pt;q=0.9", None, "en"),  # nothing we have: English
        (None, "en;q=0.5, ja", None, "ja"),  # by q-value, not by order
        (None, "ru;q=0.8, uk;q=0.8", None, "ru"),  # equal q-values: in order
        (None, "fa;q=0, ar", None, "ar"),  # q=0: not acceptable
        (None, "fa;q=abc, tr", None, "tr"),  # a malformed q-value counts as 0
        (None, "fa;q=2, tr", None, "tr"),  # so does one out of range
        (None, "*, fr;q=0.1", None, "fr"),
        (None, "zh-TW,zh;q=0.9", None, "zh_Hant"),
        (None, "zh-CN,zh;q=0.9", None, "zh_Hans"),
        (None, "ko_KR", None, "ko"),
        (None, None, None, "en"),
        (None, "", None, "en"),
        ("xx", "ko", None, "ko"),
        ("../../etc", None, None, "en"),
        (None, "ko", "ar", "ar"),  # the kept choice beats the browser's preference
        ("fr", "ko", "ar", "fr"),  # and ?lang= beats the kept choice
        (None, "ko", "evil", "ko"),  # a cookie that names no language is ignored
    ],
)
def test_negotiate(
    requested: str | None, accept_language: str | None, chosen: str | None, expected: str
) -> None:
    assert i18n.negotiate(requested, accept_language, chosen) == expected


def test_only_the_first_32_preferences_count() -> None:
    header = ",".join(["pt"] * 32 + ["ko"])
    assert i18n.negotiate(None, header) == "en"
    assert i18n.negotiate(None, ",".join(["pt"] * 31 + ["ko"])) == "ko"


@given(st.text(max_size=300))
def test_negotiate_never_fails(header: str) -> None:
    assert i18n.negotiate(header, header, header) in i18n.SUPPORTED_LOCALES


def test_translate_with_params() -> None:
    msgid = "No such user: %(name)s"
    assert i18n.translate("en", msgid, {"name": "ana"}) == "No such user: ana"
    korean = i18n.translate("ko", msgid, {"name": "ana"})
    assert "ana" in korean
    assert "%(name)s" not in korean
    assert korean != "No such user: ana"


@pytest.mark.parametrize(
    ("num", "expected"),
    [(1, "Wait 1 minute."), (2, "Wait 2 minutes."), (0, "Wait 0 minutes.")],
)
def test_a_service_error_that_counts_takes_the_form_its_number_needs(
    num: int, expected: str
) -> None:
    error = errors.TooManyRequests(
        i18n.N_plural("Wait %(num)s minute.", "Wait %(num)s minutes."), retry_after=60, num=num
    )
    assert (error.message, error.plural) == ("Wait %(num)s minute.", "Wait %(num)s minutes.")
    assert i18n.translate_message("en", error.message, error.plural, error.params) == expected
    assert i18n.english_message(error.message, error.plural, error.params) == expected
    # A message without a plural is translated as it always was.
    plain = errors.NotFound("No such user: %(name)s", name="ana")
    assert plain.plural is None
    assert i18n.english_message(plain.message, plain.plural, plain.params) == "No such user: ana"


def test_every_message_that_counts_has_a_plural() -> None:
    """A service error or a template whose message counts (``%(num)s`` things, ``%(n)s``
    characters …) goes through ngettext: found in the code, not by reading the catalogue."""
    counted = re.compile(
        r"%\((?:n|num|minutes|days|count)\)[sd] "
        r"(?:characters?|days?|minutes?|months?|files?|cases?|entries|options)\b"
    )
    root = Path(i18n.__file__).parent
    found = []
    for path in [*root.rglob("*.py"), *(root / "web" / "templates").rglob("*.html")]:
        text = path.read_text(encoding="utf-8")
        for match in counted.finditer(text):
            line = text[: match.start()].count("\n") + 1
            # The call whose message this is: the last one opened with a string before it.
            calls = re.findall(
                r"(\w+)\(\s*[\"']", text[max(0, match.start() - 2000) : match.start()]
            )
            if not calls or calls[-1] not in ("N_plural", "ngettext") or "%(num)" not in match[0]:
                found.append(f"{path.relative_to(root)}:{line}: {match[0]}")
    assert found == [], "\n".join(found)


def test_translate_falls_back_to_english_for_a_msgid_not_in_a_catalogue() -> None:
    assert i18n.translate("ko", "A sentence nobody has translated.") == (
        "A sentence nobody has translated."
    )
    assert i18n.translate("xx", "The message is too long.") == "The message is too long."
    assert i18n.translate("en", "100%% sure", None) == "100%% sure"  # no params: no formatting


def test_a_compiled_catalogue_matches_its_po_and_records_where_it_came_from() -> None:
    po = (LOCALE_DIR / "ko" / "LC_MESSAGES" / "messages.po").read_bytes()
    compiled = gettext.GNUTranslations(io.BytesIO(i18n.compile_catalog(po)))
    assert compiled.pgettext("mailslot-build", "po-fingerprint") == i18n.fingerprint(po)
    korean = catalog("ko/LC_MESSAGES/messages.po", "ko")
    for message in korean:
        if message.id and isinstance(message.id, str) and message.string:
            assert compiled.gettext(message.id) == message.string
    # Plural forms come from the .po's own header: Korean has one form for every number.
    one, five = (compiled.ngettext("%(num)d case", "%(num)d cases", n) for n in (1, 5))
    assert one == five
    assert "case" not in one
    assert i18n.fingerprint(po + b"\n") != i18n.fingerprint(po)


def test_a_stale_or_missing_mo_is_noticed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ko" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = (LOCALE_DIR / "ko" / "LC_MESSAGES" / "messages.po").read_bytes()
    (folder / "messages.po").write_bytes(po)
    monkeypatch.setattr(i18n, "_catalog_dir", lambda locale: tmp_path / locale / "LC_MESSAGES")
    assert not i18n.compiled_is_current("ko")  # missing
    (folder / "messages.mo").write_bytes(i18n.compile_catalog(po))
    assert i18n.compiled_is_current("ko")
    (folder / "messages.po").write_bytes(po.replace("로그아웃".encode(), "나가기".encode()))
    assert not i18n.compiled_is_current("ko")  # the .po changed since


def test_the_build_step_compiled_every_catalogue() -> None:
    # ./scripts/i18n and every install by the scripts run python -m mailslot.i18n.
    for locale in i18n.catalog_locales():
        assert i18n.compiled_is_current(locale), f"run ./scripts/i18n: {locale}'s .mo is stale"


@pytest.mark.parametrize("locale", CATALOGUE_LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    translated = catalog(f"{locale}/LC_MESSAGES/messages.po", locale)
    missing = []
    for msgid in template_ids():
        message = translated.get(msgid)
        strings = message.string if message is not None else ""
        if isinstance(strings, str):
            strings = (strings,)
        if not all(s.strip() for s in strings):
            missing.append(msgid)
    assert not missing, f"{len(missing)} messages have no {locale} translation: {missing[:10]}"


@pytest.mark.parametrize("locale", CATALOGUE_LOCALES)
def test_translations_are_not_fuzzy_and_keep_placeholders(locale: str) -> None:
    translated = catalog(f"{locale}/LC_MESSAGES/messages.po", locale)
    problems = []
    assert not translated.fuzzy, f"the {locale} catalogue's header is fuzzy"
    for message in translated:
        if not message.id or not message.string:
            continue
        ids = (message.id,) if isinstance(message.id, str) else message.id
        strings = (message.string,) if isinstance(message.string, str) else message.string
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]}")
        if len(strings) != translated.num_plurals and not isinstance(message.id, str):
            problems.append(f"plural forms: {ids[0]}")
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            found = set(PLACEHOLDER.findall(string))
            # A plural form may leave out %(num)s ("one file" for 1), nothing else.
            singular = isinstance(message.id, tuple) and found == expected - {"num"}
            if found != expected and not singular:
                problems.append(f"placeholders differ: {ids[0]}")
    assert not problems, problems


@pytest.mark.parametrize("locale", CATALOGUE_LOCALES)
def test_the_plural_rule_is_babels(locale: str) -> None:
    translated = catalog(f"{locale}/LC_MESSAGES/messages.po")  # the header's own rule
    assert translated.plural_forms == get_plural(locale).plural_forms


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "ko_KR.UTF-8"}, "ko"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
        ({"LANG": "de_DE.UTF-8", "LC_MESSAGES": "zh_TW.UTF-8"}, "zh_Hant"),
        ({"LANG": "de_DE.UTF-8", "LC_ALL": "POSIX"}, "de"),
        ({"LANGUAGE": "pt_BR:fa", "LANG": "ru_RU.UTF-8"}, "fa"),
        ({"LANG": "sr_RS@latin"}, "en"),
    ],
)
def test_the_operators_language_comes_from_the_locale_variables(
    environ: dict[str, str], expected: str
) -> None:
    assert i18n.operator_locale(environ) == expected


def test_a_command_reports_a_domain_error_in_the_operators_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mailslot.cli.common import fail

    error = errors.NotFound("No such user: %(name)s", name="ana")
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert fail(error).message == "No such user: ana"
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert fail(error).message == i18n.translate("ko", "No such user: %(name)s", {"name": "ana"})
    assert fail(error).message != "No such user: ana"
