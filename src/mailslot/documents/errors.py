"""Errors of document inspection and sanitising.

    MailslotError
    └── DocumentError          a file cannot be inspected or sanitised (the message says why)
        ├── UnreadableDocument the file is malformed, truncated or beyond a size limit
        └── NotSanitisable     no safe copy can be made of this type (or with these options)

Messages are plain English for staff and logs: they name the type or the limit, never
content from the file. A parser bug in a third-party library surfaces as
:class:`UnreadableDocument` too (see ``parsing.reading``), so that a hostile file gives
"could not be inspected" and nothing else.
"""

from __future__ import annotations

from mailslot.errors import MailslotError


class DocumentError(MailslotError):
    """A document cannot be inspected or sanitised."""


class UnreadableDocument(DocumentError):
    """The file is malformed, cut short, or larger than a limit allows."""


class NotSanitisable(DocumentError):
    """No safe copy of this file can be made; the message names the type and why."""
