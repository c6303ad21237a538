"""Codenames and case pseudonyms: words drawn with :mod:`secrets` from a word list.

A source's codename comes from a list in the source's language where one exists: the BIP-39
lists that the ``mnemonic`` package ships (2,048 words, 11 bits each; eight words give 88
bits). Every other language gets the EFF large list (7,776 words, 12.9 bits each; seven words
give 90.5 bits), which is also the list of every codename made before there were others, and
of case pseudonyms. ``docs/spec/codenames.md`` gives the lists, their checksums and the
entropy of each.

At login, :func:`canonical_codename` turns what was typed into the codename as it was made,
whatever list it came from: Unicode NFKC (full-width letters, every kind of space, the
ideographic space of Japanese codenames), lower case, one ASCII space between words (all
as :func:`mailslot.crypto.normalize_codename`, which derives the keys, does it); a word typed
without its accents (``arbol`` for ``árbol``), a Japanese word in katakana, or Chinese
characters typed without spaces are matched to the list's word when exactly one fits. A
word that is in no list is refused by its position, before any key is derived: the error
names neither the word (it would show part of the codename on the screen) nor whether any
codename exists.
"""

from __future__ import annotations

import importlib.util
import math
import secrets
import unicodedata
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final, overload

from mailslot.crypto import normalize_codename
from mailslot.errors import AuthenticationFailed
from mailslot.i18n import N_

CODENAME_WORDS: Final = 7  # from the EFF list
BIP39_WORDS: Final = 8  # from a 2,048-word list: 88 bits
PSEUDONYM_WORDS: Final = 2
EFF: Final = "eff-large"
# The BIP-39 list for each supported language that has one (in mnemonic's wordlist folder).
BIP39_LISTS: Final[Mapping[str, str]] = {
    "ko": "korean",
    "zh_Hans": "chinese_simplified",
    "zh_Hant": "chinese_traditional",
    "ja": "japanese",
    "ru": "russian",
    "es": "spanish",
    "fr": "french",
    "tr": "turkish",
}
WORD_NOT_IN_LIST: Final = N_(
    "Word %(n)s of the codename is not in the list of codename words. Check it and try again."
)


@dataclass(frozen=True, slots=True)
class WordList:
    """One list of codename words, each word in the form the keys are derived from."""

    name: str
    words: Words = field(repr=False)
    codename_words: int
    # How a codename from this list is shown: BIP-39 writes Japanese with ideographic spaces.
    separator: str = " "

    @property
    def bits(self) -> float:
        """The entropy of a codename from this list, in bits."""
        return self.codename_words * math.log2(len(self.words))


class Words(Sequence[str]):
    """A word list packed into one string, with a line break before and after each word:
    membership is a substring search, and the i-th word is found from an array of offsets.
    Some 30 KB a list, where a tuple of the words and a set to look them up in took some
    400 KB (all nine lists: 0.3 MiB against 3.8; see docs/performance.md)."""

    __slots__ = ("_starts", "_text")

    def __init__(self, words: Iterable[str]) -> None:
        listed = list(words)
        self._text = "\n" + "\n".join(listed) + "\n"
        starts, at = array("I"), 1
        for word in listed:
            starts.append(at)
            at += len(word) + 1
        self._starts = starts

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        start = self._starts[index]
        return self._text[start : self._text.index("\n", start)]

    def __contains__(self, word: object) -> bool:
        return (
            isinstance(word, str)
            and bool(word)
            and "\n" not in word
            and (f"\n{word}\n" in self._text)
        )


def _checked(words: Words, size: int, name: str) -> Words:
    if len(words) != size or len(set(words)) != size or any(" " in w or not w for w in words):
        raise RuntimeError(f"the {name} word list is damaged")
    return words


@cache
def wordlist() -> Words:
    """The EFF large list: pseudonyms, and the codenames of languages without a list."""
    text = resources.files("mailslot.sources").joinpath("wordlists/eff_large.txt").read_text()
    words = Words(line.strip() for line in text.splitlines() if line.strip())
    return _checked(words, 7776, "EFF large")


@cache
def _bip39(name: str) -> Words:
    """A BIP-39 list as mnemonic ships it (Korean and some Japanese words decomposed, as
    BIP-39 keeps them), each word in its normalised form. The package is found, not
    imported: its code is not needed."""
    spec = importlib.util.find_spec("mnemonic")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the mnemonic package (BIP-39 word lists) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "wordlist" / f"{name}.txt"
    words = Words(normalize_codename(w) for w in path.read_text(encoding="utf-8").split())
    return _checked(words, 2048, f"BIP-39 {name}")


def wordlist_for(locale: str) -> WordList:
    """The list a new codename in ``locale`` is drawn from."""
    name = BIP39_LISTS.get(locale)
    if name is None:
        return WordList(EFF, wordlist(), CODENAME_WORDS)
    return WordList(
        f"bip39-{name}", _bip39(name), BIP39_WORDS, "\u3000" if name == "japanese" else " "
    )


def all_wordlists() -> tuple[WordList, ...]:
    """Every list a codename may come from, the EFF list first."""
    return (wordlist_for("en"), *(wordlist_for(locale) for locale in BIP39_LISTS))


def locale_of(codename: str) -> str:
    """The language whose list a codename's words come from ("en" for the EFF list and for
    words in no list); Chinese characters in both Chinese lists count as Simplified."""
    words = normalize_codename(codename).split(" ")
    for locale in BIP39_LISTS:
        listed = _index(wordlist_for(locale).name).words
        if all(word in listed for word in words):
            return locale
    return "en"


def codename_bits(words: int = CODENAME_WORDS, *, locale: str = "en") -> float:
    """The entropy of ``words`` words from the EFF list; with ``locale``, of that language's
    codenames."""
    if locale == "en":
        return words * math.log2(len(wordlist()))
    return wordlist_for(locale).bits


def generate_codename(words: int | None = None, *, locale: str = "en") -> str:
    """A new codename in ``locale``'s list (``words`` words, or the list's number)."""
    chosen = wordlist_for(locale)
    count = chosen.codename_words if words is None else words
    return chosen.separator.join(secrets.choice(chosen.words) for _ in range(count))


def generate_pseudonym() -> str:
    """A name for a case that staff can say aloud; independent of the codename."""
    choices = wordlist()
    return " ".join(secrets.choice(choices) for _ in range(PSEUDONYM_WORDS))


# Reading a codename back.


def _fold(word: str) -> str:
    """A word without what a keyboard may not type: accents, Turkish dotless i, katakana."""
    bare = "".join(
        ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch)
    )
    bare = bare.replace("ı", "i")
    bare = "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in bare)
    return unicodedata.normalize("NFKC", bare)


@dataclass(frozen=True, slots=True)
class _Index:
    """One list, for reading: its words, and each word that has accents (or kana with
    voicing marks, or a dotless i) under its folded form, packed as "\nfolded\tword\n"
    lines; no two words of a list fold alike (tests check it)."""

    words: Words
    folded: str
    longest: int

    def unfold(self, bare: str) -> str | None:
        at = self.folded.find(f"\n{bare}\t") if bare and "\n" not in bare else -1
        if at < 0:
            return None
        start = at + len(bare) + 2
        return self.folded[start : self.folded.index("\n", start)]


@cache
def _index(name: str) -> _Index:
    chosen = next(w for w in all_wordlists() if w.name == name)
    pairs = [f"{key}\t{word}" for word in chosen.words if (key := _fold(word)) != word]
    folded = "\n" + "\n".join(pairs) + "\n"
    return _Index(chosen.words, folded, max(map(len, chosen.words)))


def _match(token: str, index: _Index) -> tuple[list[str], int] | None:
    """``token`` as words of one list, and how many of them were not typed exactly: the word
    itself, its folded form, or else its one split into list words (Chinese without
    spaces); None if none of these fits."""
    if token in index.words:
        return [token], 0
    bare = _fold(token)
    if (word := bare if bare in index.words else index.unfold(bare)) is not None:
        return [word], 1
    split = _split(token, index)
    return (split, len(split)) if split is not None else None


def _split(token: str, index: _Index) -> list[str] | None:
    """The one way to cut ``token`` into words of the list, or None (none, or several)."""
    # ways[i]: how many cuts of token[:i] there are (counting stops at 2), and the last word.
    ways: list[tuple[int, int]] = [(1, 0)] + [(0, 0)] * len(token)
    for end in range(1, len(token) + 1):
        count, last = 0, 0
        for start in range(max(0, end - index.longest), end):
            if ways[start][0] and token[start:end] in index.words:
                count, last = min(2, count + ways[start][0]), start
        ways[end] = (count, last)
    if ways[-1][0] != 1:
        return None
    words, end = [], len(token)
    while end:
        start = ways[end][1]
        words.append(token[start:end])
        end = start
    return words[::-1]


def canonical_codename(typed: str) -> str:
    """The codename ``typed`` names, in the normalised form its keys are derived from.

    Every word must come from one list (a codename is drawn from one). The list that takes
    every word with the fewest inexact matches wins, so what matches exactly is never read
    as another list's word. Raises :class:`AuthenticationFailed` with the position of the
    first word that no list takes; an English codename typed as it was made comes back
    exactly as :func:`~mailslot.crypto.normalize_codename` gives it."""
    tokens = normalize_codename(typed).split(" ")
    best: tuple[int, list[str]] | None = None
    furthest = 0  # the most leading tokens any one list took
    for chosen in all_wordlists():
        matched = _read(tokens, _index(chosen.name))
        if isinstance(matched, int):
            furthest = max(furthest, matched)
        elif best is None or matched[0] < best[0]:
            best = matched
    if best is None:
        raise AuthenticationFailed(WORD_NOT_IN_LIST, n=furthest + 1)
    return " ".join(best[1])


def _read(tokens: Iterable[str], index: _Index) -> tuple[int, list[str]] | int:
    """(inexact matches, words) if the list takes every token; else how many it took."""
    words: list[str] = []
    inexact = 0
    for position, token in enumerate(tokens):
        found = _match(token, index)
        if found is None:
            return position
        words += found[0]
        inexact += found[1]
    return inexact, words
