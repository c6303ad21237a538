"""What each of ``mailslot check``'s checks returns: one :class:`Finding` per thing looked at.

In a module of its own so that the check modules (``check.py``, ``check_network.py``,
``check_documents.py``, ``check_orgs.py``) share it without importing each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    # name, detail and fix are LazyText where they are Mailslot's own words: the command
    # prints them in the operator's language, its --json output in English, worded as it
    # always was (scripts match it: "2 client key(s)"), while each language has its own
    # plural forms of the same msgid pair.
    name: str
    ok: bool
    detail: str
    fix: str = ""
    # Not fine, but no reason to refuse a start (``mailslot check`` still exits 0).
    warn: bool = False

    @property
    def fails(self) -> bool:
        return not self.ok and not self.warn
