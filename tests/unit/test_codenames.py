"""Codenames and pseudonyms: the word lists and their checksums, the entropy we promise per
language, and reading a codename back however it was typed."""

from __future__ import annotations

import hashlib  # noqa: TID251 - a checksum of a data file, compared with sha256sum's output
import re
import unicodedata
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailslot import crypto, i18n
from mailslot.errors import AuthenticationFailed
from mailslot.sources.codenames import (
    BIP39_LISTS,
    CODENAME_WORDS,
    WORD_NOT_IN_LIST,
    _fold,
    all_wordlists,
    canonical_codename,
    codename_bits,
    generate_codename,
    generate_pseudonym,
    locale_of,
    wordlist,
    wordlist_for,
)

pytestmark = pytest.mark.no_database


WORDLISTS = resources.files("mailslot.sources") / "wordlists"
# A codename made before there were other lists (7 EFF words, four of them with hyphens),
# typed carelessly, and the lookup tag its source row holds: computed before this module
# existed, with the KDF parameters of crypto.TEST_KDF and this salt. Reading codenames back
# must never change the key of an English codename.
STORED_SALT = bytes(range(16))
STORED_TYPED = "  Abacus  ZOOM\tdrop-down t-shirt yo-yo felt-tip\u3000Zebra "
STORED_LOOKUP = "358e7eb26361eca2d98d243dade59cd90f8eb30128ef0fb9f17649690cddd14c"
# Every kind of space a source might type between words.
SPACES = [" ", "  ", "\t", "\n", "\u3000", "\u00a0", "\u2002", "\u2009", "\u202f", "\u205f"]


def test_wordlist_has_7776_unique_words() -> None:
    words = wordlist()
    assert len(words) == 7776
    assert len(set(words)) == 7776
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)?", w) for w in words), "words only, no dice numbers"
    assert words[0] == "abacus"
    assert words[-1] == "zoom"


def test_wordlist_checksums_match_the_readme() -> None:
    readme = (WORDLISTS / "README.md").read_text()
    match = re.search(r"SHA-256:\s*([0-9a-f]{64})", readme)
    assert match, "the README records the list's SHA-256"
    actual = hashlib.sha256((WORDLISTS / "eff_large.txt").read_bytes()).hexdigest()
    assert actual == match[1]
    bip39 = dict(re.findall(r"\| (\w+\.txt) \| ([0-9a-f]{64}) \|", readme))
    assert set(bip39) == {f"{name}.txt" for name in BIP39_LISTS.values()}
    for name, expected in bip39.items():
        shipped = resources.files("mnemonic").joinpath(f"wordlist/{name}").read_bytes()
        assert hashlib.sha256(shipped).hexdigest() == expected, name


def test_codename_is_seven_words_from_the_eff_list() -> None:
    assert CODENAME_WORDS == 7
    words = set(wordlist())
    for _ in range(20):
        codename = generate_codename()
        parts = codename.split(" ")
        assert len(parts) == 7
        assert all(part in words for part in parts)
    assert len(generate_codename(3).split(" ")) == 3
    assert len({generate_codename() for _ in range(200)}) == 200  # no repeats


@pytest.mark.parametrize("locale", i18n.SUPPORTED_LOCALES)
def test_every_language_gets_at_least_88_bits(locale: str) -> None:
    chosen = wordlist_for(locale)
    assert chosen.bits >= 88
    assert codename_bits(locale=locale) == chosen.bits
    # One word fewer would not do.
    assert (chosen.codename_words - 1) * chosen.bits / chosen.codename_words < 88
    listed = set(chosen.words)
    codenames = {generate_codename(locale=locale) for _ in range(50)}
    assert len(codenames) == 50
    for codename in codenames:
        words = codename.split(chosen.separator)
        assert len(words) == chosen.codename_words
        assert all(word in listed for word in words)


def test_the_lists_by_language() -> None:
    expected = {
        "ko": 2048,
        "zh_Hans": 2048,
        "zh_Hant": 2048,
        "ja": 2048,
        "ru": 2048,
        "es": 2048,
        "fr": 2048,
        "tr": 2048,
    }
    for locale in i18n.SUPPORTED_LOCALES:
        chosen = wordlist_for(locale)
        assert len(chosen.words) == expected.get(locale, 7776), locale
        assert len(set(chosen.words)) == len(chosen.words)
        assert chosen.codename_words == (8 if locale in expected else 7)
        # Every word is stored in the form the keys are derived from.
        assert all(crypto.normalize_codename(w) == w and " " not in w for w in chosen.words)
    assert round(codename_bits(), 1) == 90.5
    assert wordlist_for("ja").separator == "\u3000"  # as BIP-39 writes Japanese
    assert re.fullmatch(r"[가-힣]+", wordlist_for("ko").words[0])  # composed, not jamo


def test_no_two_words_of_a_list_fold_alike() -> None:
    for chosen in all_wordlists():
        folded = [_fold(word) for word in chosen.words]
        assert len(set(folded)) == len(folded), chosen.name


def test_codenames_have_at_least_88_bits() -> None:
    assert codename_bits() >= 90
    assert codename_bits(6) < 88  # seven EFF words are needed, not six


def test_pseudonym_is_two_words_from_the_list() -> None:
    words = set(wordlist())
    pseudonyms = {generate_pseudonym() for _ in range(50)}
    assert len(pseudonyms) > 45
    for pseudonym in pseudonyms:
        first, second = pseudonym.split(" ")
        assert first in words
        assert second in words


def test_a_codename_typed_carelessly_opens_the_same_source() -> None:
    codename = generate_codename()
    salt = bytes(16)
    exact = crypto.derive_source_keys(codename, salt, crypto.TEST_KDF)
    sloppy = crypto.derive_source_keys(
        canonical_codename("  " + codename.upper().replace(" ", "  \t") + "\n"),
        salt,
        crypto.TEST_KDF,
    )
    assert sloppy.lookup == exact.lookup
    assert sloppy.key_pair.public_key == exact.key_pair.public_key
    other = crypto.derive_source_keys(generate_codename(), salt, crypto.TEST_KDF)
    assert other.lookup != exact.lookup


def test_an_english_codename_keeps_the_key_it_always_had() -> None:
    canonical = canonical_codename(STORED_TYPED)
    assert canonical == "abacus zoom drop-down t-shirt yo-yo felt-tip zebra"
    assert canonical == crypto.normalize_codename(STORED_TYPED)
    keys = crypto.derive_source_keys(canonical, STORED_SALT, crypto.TEST_KDF)
    assert keys.lookup.hex() == STORED_LOOKUP


def _full_width(text: str) -> str:
    """ASCII letters and digits as their full-width forms (what an East Asian keyboard's
    full-width mode types)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize("locale", [*BIP39_LISTS, "en"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_way_of_typing_a_codename_reads_back_the_same(
    locale: str, data: st.DataObject
) -> None:
    codename = generate_codename(locale=locale)
    expected = crypto.normalize_codename(codename)
    words = codename.split(wordlist_for(locale).separator)
    spaces = data.draw(st.lists(st.sampled_from(SPACES), min_size=len(words), max_size=len(words)))
    typed = "".join(space + word for space, word in zip(spaces, words, strict=True))
    typed += data.draw(st.sampled_from(["", *SPACES]))
    form = data.draw(st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"]))
    typed = unicodedata.normalize(form, typed)
    if data.draw(st.booleans()):
        typed = typed.upper()
    if data.draw(st.booleans()):
        typed = _full_width(typed)
    assert canonical_codename(typed) == expected
    # Reading back is idempotent, and the codename's keys are the ones it was made with.
    assert canonical_codename(expected) == expected
    assert locale_of(codename) == ("zh_Hans" if locale.startswith("zh") else locale) or (
        locale == "zh_Hant" and locale_of(codename) == "zh_Hant"
    )


def test_accents_katakana_and_missing_spaces_are_forgiven() -> None:
    spanish = "árbol " + " ".join(wordlist_for("es").words[1000:1007])
    assert canonical_codename(spanish.replace("á", "a")) == spanish
    french = "élève " + " ".join(wordlist_for("fr").words[100:107])
    assert canonical_codename(french.replace("é", "e").replace("è", "e")) == french
    turkish = " ".join(wordlist_for("tr").words[7:15])
    assert "açıkgöz" in turkish
    assert canonical_codename(turkish.upper()) == turkish  # AÇIKGÖZ lower-cases to "açikgöz"
    japanese = wordlist_for("ja").words[:8]
    katakana = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in japanese[0])
    assert canonical_codename("\u3000".join([katakana, *japanese[1:]])) == " ".join(japanese)
    chinese = wordlist_for("zh_Hans").words[100:108]
    assert canonical_codename("".join(chinese)) == " ".join(chinese)
    assert canonical_codename("".join(chinese[:4]) + " " + "".join(chinese[4:])) == " ".join(
        chinese
    )


def test_a_word_without_accents_that_another_list_has_is_read_in_the_codenames_list() -> None:
    # "album" is an English word, and "álbum" a Spanish one: in a Spanish codename typed
    # without accents, it is the Spanish word.
    rest = wordlist_for("es").words[1500:1507]
    assert "album" in wordlist()
    assert "álbum" in wordlist_for("es").words
    typed = "album " + " ".join(w.replace("ó", "o") for w in rest)
    assert canonical_codename(typed) == "álbum " + " ".join(rest)
    # A codename whose words are all exact in one list is read in that list.
    english = "album " + " ".join(wordlist()[:6])
    assert canonical_codename(english) == english


@pytest.mark.parametrize(
    ("typed", "position"),
    [
        ("abacus zoom blorf abacus", 3),
        ("blorf", 1),
        ("abacus zoom abacus zoom abacus zoom abacus qqq", 8),
        ("가격 가끔 xyz", 3),
        ("árbol ébano zzz", 3),
    ],
)
def test_a_word_in_no_list_is_named_by_its_position(typed: str, position: int) -> None:
    with pytest.raises(AuthenticationFailed) as raised:
        canonical_codename(typed)
    assert raised.value.message == WORD_NOT_IN_LIST
    assert raised.value.params == {"n": position}
    assert typed.split(" ")[position - 1] not in str(raised.value.params)


def test_locale_of() -> None:
    assert locale_of(generate_codename()) == "en"
    assert locale_of(generate_codename(locale="ko")) == "ko"
    assert locale_of(generate_codename(locale="ja")) == "ja"
    assert locale_of("blorf") == "en"
