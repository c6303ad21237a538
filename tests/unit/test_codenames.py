"""Codenames and pseudonyms: the EFF wordlist, its checksum, and the entropy we promise."""

from __future__ import annotations

import hashlib  # noqa: TID251 - a checksum of a data file, compared with sha256sum's output
import re
from importlib import resources

import pytest

from mailslot import crypto
from mailslot.sources.codenames import (
    CODENAME_WORDS,
    codename_bits,
    generate_codename,
    generate_pseudonym,
    wordlist,
)

pytestmark = pytest.mark.no_database


WORDLISTS = resources.files("mailslot.sources") / "wordlists"


def test_wordlist_has_7776_unique_words() -> None:
    words = wordlist()
    assert len(words) == 7776
    assert len(set(words)) == 7776
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)?", w) for w in words), "words only, no dice numbers"
    assert words[0] == "abacus"
    assert words[-1] == "zoom"


def test_wordlist_checksum_matches_its_readme() -> None:
    readme = (WORDLISTS / "README.md").read_text()
    match = re.search(r"SHA-256:\s*([0-9a-f]{64})", readme)
    assert match, "the README records the list's SHA-256"
    actual = hashlib.sha256((WORDLISTS / "eff_large.txt").read_bytes()).hexdigest()
    assert actual == match[1]


def test_codename_is_seven_words_from_the_list() -> None:
    assert CODENAME_WORDS == 7
    words = set(wordlist())
    for _ in range(20):
        codename = generate_codename()
        parts = codename.split(" ")
        assert len(parts) == 7
        assert all(part in words for part in parts)
    assert len(generate_codename(3).split(" ")) == 3
    assert len({generate_codename() for _ in range(200)}) == 200  # no repeats


def test_codenames_have_at_least_90_bits() -> None:
    assert codename_bits() >= 90
    assert codename_bits(6) < 90  # seven words are needed, not six


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
        "  " + codename.upper().replace(" ", "  \t") + "\n", salt, crypto.TEST_KDF
    )
    assert sloppy.lookup == exact.lookup
    assert sloppy.key_pair.public_key == exact.key_pair.public_key
    other = crypto.derive_source_keys(generate_codename(), salt, crypto.TEST_KDF)
    assert other.lookup != exact.lookup
