"""Byte counts for people: ``980 B``, ``1.5 MiB`` (powers of 1024, one decimal), in a locale's
own digits and unit names (``1,5 Mio``): see :func:`mailslot.formats.format_size`."""

from __future__ import annotations

from mailslot.formats import format_size


def human_size(size: int, locale: str = "en") -> str:
    return format_size(locale, size)
