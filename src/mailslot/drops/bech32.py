"""Bech32 (BIP-173) without its 90-character limit, as age encodes keys (c2sp.org/age).

A post-quantum age recipient is about 1,950 characters long, and the Bech32 libraries on
PyPI either enforce BIP-173's limit of 90 (the reference ``bech32`` package) or are
unreviewed forks, so this module carries the codec itself: BIP-173's checksum (constant 1,
not Bech32m's), one case per string, the checksum over the lower-case form, and strict
padding when regrouping bits. ``tests/unit/drops/test_bech32.py`` checks it against the
valid and invalid strings of BIP-173.
"""

from __future__ import annotations

from typing import Final

from mailslot.drops.errors import RecipientInvalid

CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_VALUES: Final = {c: i for i, c in enumerate(CHARSET)}
_GENERATOR: Final = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_SIZE: Final = 6


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, g in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= g
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _regroup(data: list[int] | bytes, from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out = []
    mask = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & mask)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & mask)
    elif bits >= from_bits or (acc << (to_bits - bits)) & mask:
        raise RecipientInvalid("Bech32: bad padding")
    return out


def encode(hrp: str, data: bytes) -> str:
    """The lower-case Bech32 string of ``data`` under ``hrp`` (give it in either case)."""
    hrp = hrp.lower()
    if not hrp or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise RecipientInvalid("Bech32: bad human-readable part")
    values = _regroup(data, 8, 5, pad=True)
    polymod = _polymod(_hrp_expand(hrp) + values + [0] * _CHECKSUM_SIZE) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_SIZE)]
    return hrp + "1" + "".join(CHARSET[v] for v in values + checksum)


def decode(text: str) -> tuple[str, bytes]:
    """``(hrp, data)``, the human-readable part in lower case; raises
    :class:`RecipientInvalid` for anything that is not a valid Bech32 string of bytes."""
    hrp, words = decode_words(text)
    return hrp, bytes(_regroup(words, 5, 8, pad=False))


def decode_words(text: str) -> tuple[str, list[int]]:
    """``(hrp, 5-bit words without the checksum)``: BIP-173's decoding, before the words
    are regrouped into bytes."""
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise RecipientInvalid("Bech32: character out of range")
    if text.lower() != text and text.upper() != text:
        raise RecipientInvalid("Bech32: mixed case")
    text = text.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 1 + _CHECKSUM_SIZE > len(text):
        raise RecipientInvalid("Bech32: no separator, empty prefix or short checksum")
    hrp = text[:pos]
    try:
        values = [_VALUES[c] for c in text[pos + 1 :]]
    except KeyError:
        raise RecipientInvalid("Bech32: character not in the alphabet") from None
    if _polymod(_hrp_expand(hrp) + values) != 1:
        raise RecipientInvalid("Bech32: bad checksum")
    return hrp, values[:-_CHECKSUM_SIZE]
