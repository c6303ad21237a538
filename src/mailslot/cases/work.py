"""Case work: statuses, notes and the other things staff do with a case. Deadlines are in
:mod:`mailslot.cases.deadlines`."""

from __future__ import annotations

from typing import Final

from sqlalchemy.orm import Session

from mailslot.cases.models import Case, ItemKind
from mailslot.cases.services import SealedItem, record_items, seal_text
from mailslot.errors import InvalidInput
from mailslot.storage import BlobStore

MAX_NOTE_CHARS: Final = 20_000


def check_note(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("Write a note before saving.")
    if len(text) > MAX_NOTE_CHARS:
        raise InvalidInput("The note is too long (at most %(n)s characters).", n=MAX_NOTE_CHARS)
    return text


def add_note(
    db: Session, blobs: BlobStore, case: Case, text: str, *, author_id: str | None, now: int
) -> str:
    """An internal note: sealed under a fresh data key wrapped to the case key only, so staff
    with access can read it and the source's codename never opens it. Returns the item id.

    The blob is written before the rows; if the unit of work fails, the caller's rollback
    leaves an orphan blob that nothing references, so delete it on failure.
    """
    upload = seal_text(blobs, check_note(text))
    try:
        rows = record_items(
            db,
            case,
            [SealedItem(upload=upload, kind=ItemKind.NOTE, meta={})],
            now=now,
            author_id=author_id,
            source_public_key=None,
        )
    except BaseException:
        blobs.delete(upload.blob_id)
        raise
    return rows[0].id
