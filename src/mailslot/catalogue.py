"""A loaded message catalogue, packed: what ``gettext.GNUTranslations`` answers, in a quarter
of its memory.

``GNUTranslations`` keeps a dict of two Python strings per message; for the 12 catalogues a
server loads once every language has been asked for, that was 3.4 MiB of its idle memory
(``docs/performance.md``, "Idle memory with 13 languages"), and it grows with every message.
Here each catalogue keeps its translations as one UTF-8 buffer with an array of offsets (as
``sources.codenames.Words`` keeps a word list), and every catalogue shares one index from
message to position (the messages are the same in every language). A lookup is a dict
lookup and the decoding of one short string.

The ``.mo`` file is read straight into that form: going through ``GNUTranslations`` first
made and freed those strings anyway, and the freed memory stayed with the process.
``tests/unit/test_catalogue.py`` checks every message of every catalogue against
``GNUTranslations``.
"""

from __future__ import annotations

import gettext
import struct
import threading
from array import array
from collections.abc import Callable, Iterator, Mapping
from typing import Final

# Every catalogue's messages (contexts and plural forms included, see ``_key``), each given
# the position it has in every catalogue's ``positions``. Grows as catalogues load.
_INDEX: dict[str, int] = {}
_LOCK: Final = threading.Lock()
_CONTEXT: Final = "\x04"  # gettext's separator of a context and its message
_FORM: Final = "\x00"  # never in a message: separates a plural message from its form's number
_MISSING: Final = -1
_LE_MAGIC: Final = 0x950412DE


def _entries(mo: bytes) -> Iterator[tuple[bytes, bytes]]:
    """A ``.mo`` file's (original, translation) pairs, as GNU gettext lays them out."""
    magic = struct.unpack_from("<I", mo)[0]
    order = "<" if magic == _LE_MAGIC else ">"
    if struct.unpack_from(order + "I", mo)[0] != _LE_MAGIC:
        raise ValueError("not a .mo file")
    version, count, originals, translations = struct.unpack_from(order + "4I", mo, 4)
    if version >> 16 not in (0, 1):
        raise ValueError("unknown .mo version")
    for i in range(count):
        length, start = struct.unpack_from(order + "2I", mo, originals + 8 * i)
        t_length, t_start = struct.unpack_from(order + "2I", mo, translations + 8 * i)
        yield mo[start : start + length], mo[t_start : t_start + t_length]


def _header(mo: bytes) -> dict[str, str]:
    """The catalogue's header fields (the translation of the empty message)."""
    for original, translated in _entries(mo):
        if not original:
            fields = {}
            for line in translated.decode("utf-8").splitlines():
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            if "utf-8" not in fields.get("content-type", "utf-8").lower():
                raise ValueError("a catalogue must be UTF-8")
            return fields
    return {}


def _plural(header: Mapping[str, str]) -> Callable[[int], int]:
    """The plural rule of ``Plural-Forms`` (English's without one), as gettext reads it."""
    rule = header.get("plural-forms", "")
    for part in rule.split(";"):
        name, _, expression = part.partition("=")
        if name.strip() == "plural":
            compiled: Callable[[int], int] = gettext.c2py(expression.strip())
            return compiled
    return lambda n: int(n != 1)


def _key(message: str | tuple[str, int]) -> str:
    """``GNUTranslations``'s key as one string: a plural form ``(msgid, n)`` as
    ``msgid NUL n``."""
    if isinstance(message, tuple):
        return f"{message[0]}{_FORM}{message[1]}"
    return message


class PackedTranslations(gettext.NullTranslations):
    """The catalogue of one language, read from a ``.mo`` file's bytes: ``gettext``,
    ``ngettext``, ``pgettext``, ``npgettext`` answer as ``GNUTranslations`` does (a message
    without a translation is given back as it is)."""

    def __init__(self, mo: bytes) -> None:
        super().__init__()
        self.plural: Callable[[int], int] = _plural(_header(mo))
        data = bytearray()
        offsets = array("I", [0])
        found: dict[int, int] = {}
        with _LOCK:
            for original, translated in _entries(mo):
                if not original:  # the header, not a message
                    continue
                msgid, _, msgid_plural = original.partition(b"\x00")
                key = msgid.decode("utf-8")
                forms = translated.split(b"\x00") if msgid_plural else [translated]
                for number, text in enumerate(forms):
                    indexed = f"{key}{_FORM}{number}" if msgid_plural else key
                    found[_INDEX.setdefault(indexed, len(_INDEX))] = len(offsets) - 1
                    data += text
                    offsets.append(len(data))
            positions = array("i", [_MISSING]) * len(_INDEX)
        for index, position in found.items():
            positions[index] = position
        self._data = bytes(data)
        self._offsets = offsets
        self._positions = positions

    def _lookup(self, key: str) -> str | None:
        index = _INDEX.get(key)
        if index is None or index >= len(self._positions):
            return None
        position = self._positions[index]
        if position == _MISSING:
            return None
        start, end = self._offsets[position], self._offsets[position + 1]
        return self._data[start:end].decode("utf-8")

    def _singular(self, key: str) -> str | None:
        """A message, or else its plural form for one (as ``GNUTranslations`` does)."""
        found = self._lookup(key)
        return self._lookup(f"{key}{_FORM}{self.plural(1)}") if found is None else found

    def gettext(self, message: str) -> str:
        found = self._singular(message)
        return message if found is None else found

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        found = self._lookup(f"{msgid1}{_FORM}{self.plural(n)}")
        if found is None:
            return msgid1 if n == 1 else msgid2
        return found

    def pgettext(self, context: str, message: str) -> str:
        found = self._singular(f"{context}{_CONTEXT}{message}")
        return message if found is None else found

    def npgettext(self, context: str, msgid1: str, msgid2: str, n: int) -> str:
        found = self._lookup(f"{context}{_CONTEXT}{msgid1}{_FORM}{self.plural(n)}")
        if found is None:
            return msgid1 if n == 1 else msgid2
        return found

    @property
    def _catalog(self) -> Mapping[str | tuple[str, int], str]:
        """The messages as ``GNUTranslations._catalog`` has them (read-only), for code that
        reads that attribute."""
        return _CatalogView(self)


class _CatalogView(Mapping[str | tuple[str, int], str]):
    def __init__(self, packed: PackedTranslations) -> None:
        self._packed = packed

    def __getitem__(self, message: str | tuple[str, int]) -> str:
        found = self._packed._lookup(_key(message))
        if found is None:
            raise KeyError(message)
        return found

    def __iter__(self) -> Iterator[str | tuple[str, int]]:
        for key in list(_INDEX):
            if self._packed._lookup(key) is None:
                continue
            message, form, number = key.partition(_FORM)
            yield (message, int(number)) if form else message

    def __len__(self) -> int:
        return sum(1 for _ in self)
