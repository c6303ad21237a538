"""Text that people type and Mailslot stores in clear (channel names, the instance's name and
guidance): control characters other than line breaks and tabs are dropped, so that no NUL
or escape sequence reaches a page, a header or a database (PostgreSQL refuses NUL)."""

from __future__ import annotations

import unicodedata

_KEEP = frozenset("\n\t")


def plain_text(value: str, *, multiline: bool = False) -> str:
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    keep = _KEEP if multiline else frozenset()
    return "".join(ch for ch in value if ch in keep or unicodedata.category(ch) not in ("Cc", "Cs"))
