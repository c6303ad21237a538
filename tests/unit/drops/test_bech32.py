"""The Bech32 codec against BIP-173's own test strings, with its 90-character limit lifted
as age requires (and age's own key strings from c2sp.org/age)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailslot.drops import bech32
from mailslot.drops.bech32 import CHARSET, _hrp_expand, _polymod, _regroup
from mailslot.drops.errors import RecipientInvalid

pytestmark = pytest.mark.no_database

# BIP-173, "Test vectors": valid Bech32 strings.
VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11" + "q" * 82 + "c8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
# BIP-173's invalid strings, less the one refused only for its length (91 characters).
INVALID = [
    "\x201nwldj5",  # HRP character out of range
    "\x7f1axkwrx",
    "\x801eym55h",
    "pzry9x0s0muk",  # no separator
    "1pzry9x0s0muk",  # empty HRP
    "x1b4n0q5v",  # invalid data character
    "li1dgmt3",  # too short checksum
    "de1lg7wt\xff",  # invalid character in checksum
    "A1G7SGD8",  # checksum calculated with the upper-case HRP
    "10a06t8",  # empty HRP
    "1qzzfhee",  # empty HRP
    "a12UEL5L",  # mixed case
    "a12uel5m",  # one character changed
]
TOO_LONG_FOR_BIP173 = (
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx"
)


@pytest.mark.parametrize("text", VALID)
def test_bip173_valid_strings_decode(text: str) -> None:
    hrp, words = bech32.decode_words(text)
    assert hrp == text.lower()[: text.rfind("1")]
    assert all(0 <= w < 32 for w in words)


@pytest.mark.parametrize("text", INVALID)
def test_bip173_invalid_strings_are_refused(text: str) -> None:
    with pytest.raises(RecipientInvalid):
        bech32.decode_words(text)


def test_there_is_no_length_limit() -> None:
    assert len(TOO_LONG_FOR_BIP173) == 91
    hrp, _ = bech32.decode_words(TOO_LONG_FOR_BIP173)
    assert hrp.startswith("an84")
    data = bytes(range(256)) * 8
    text = bech32.encode("age1pq", data)
    assert len(text) > 3000
    assert bech32.decode(text) == ("age1pq", data)


def test_bytes_known_answer() -> None:
    # BIP-173's segwit example is witness version 0 (one 5-bit word) then these bytes.
    hrp, words = bech32.decode_words("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    assert hrp == "bc"
    assert words[0] == 0
    assert bytes(_regroup(words[1:], 5, 8, pad=False)).hex() == (
        "751e76e8199196d454941c45d1b3a323f1433bd6"
    )


def test_upper_case_strings_decode_like_lower_case() -> None:
    text = bech32.encode("age-secret-key-pq-", bytes(range(32)))
    assert bech32.decode(text.upper()) == bech32.decode(text)


def test_bad_padding_is_refused() -> None:
    # 33 bytes of zeros encode to 53 words with 1 bit of padding; a word with that bit set
    # keeps a valid checksum only if the checksum is recomputed, which encode does not do.
    hrp = "x"
    words = [0] * 52 + [1]
    polymod = _polymod(_hrp_expand(hrp) + words + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    text = hrp + "1" + "".join(CHARSET[w] for w in words + checksum)
    bech32.decode_words(text)  # the checksum is right
    with pytest.raises(RecipientInvalid, match="padding"):
        bech32.decode(text)


@given(
    st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20
    ).filter(lambda s: s == s.lower()),
    st.binary(max_size=200),
)
def test_round_trip(hrp: str, data: bytes) -> None:
    assert bech32.decode(bech32.encode(hrp, data)) == (hrp, data)
