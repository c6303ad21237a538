"""Codenames and case pseudonyms: words drawn with :mod:`secrets` from the EFF large list."""

from __future__ import annotations

import math
import secrets
from functools import cache
from importlib import resources
from typing import Final

CODENAME_WORDS: Final = 7
PSEUDONYM_WORDS: Final = 2


@cache
def wordlist() -> tuple[str, ...]:
    text = resources.files("mailslot.sources").joinpath("wordlists/eff_large.txt").read_text()
    words = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(words) != 7776 or len(set(words)) != 7776:
        raise RuntimeError("the EFF large wordlist is damaged")
    return words


def codename_bits(words: int = CODENAME_WORDS) -> float:
    return words * math.log2(len(wordlist()))


def generate_codename(words: int = CODENAME_WORDS) -> str:
    choices = wordlist()
    return " ".join(secrets.choice(choices) for _ in range(words))


def generate_pseudonym() -> str:
    """A name for a case that staff can say aloud; independent of the codename."""
    choices = wordlist()
    return " ".join(secrets.choice(choices) for _ in range(PSEUDONYM_WORDS))
