"""Errors of the audit trail.

MailslotError
└── ChainBroken     the chain does not verify; names the first event that fails
"""

from __future__ import annotations

from mailslot.errors import MailslotError


class ChainBroken(MailslotError):
    """The audit chain does not verify; ``seq`` is the first event that fails."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit chain broken at event {seq}: {reason}")
        self.seq = seq
        self.reason = reason
