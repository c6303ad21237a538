"""What a document reveals about its source, and copies that reveal nothing: the staff's use
cases over the document sandbox (:mod:`mailslot.documents.sandbox`).

Nothing is parsed when a source uploads. Only when a recipient asks is the file decrypted into
memory here, handed to a sandboxed worker process through a pipe, and dropped. Each
inspection is recorded as ``case.inspect``; each copy as ``case.sanitize``, with the SHA-256
of the original and of the copy, so that a copy that surfaces later can be traced to whoever
made it. The original is never changed.

Workers are capped per process (``ctx.document_slots``): a request waits for a free one before
anything is decrypted or recorded, and past the configured wait is told to try again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from mailslot import crypto, errors
from mailslot.audit import services as audit
from mailslot.cases import services as cases
from mailslot.cases.models import ItemKind
from mailslot.context import OrgContext
from mailslot.documents import sandbox
from mailslot.documents.sandbox import Failure
from mailslot.i18n import N_
from mailslot.recipients.models import User

# Why nothing could be inspected, as the staff pages say it (gettext msgids).
INSPECT_FAILURES: Final = {
    Failure.TOO_LARGE: N_(
        "This file is too large to be inspected on the server. Export the case and run "
        "mailslot inspect on your offline computer."
    ),
    Failure.TIMEOUT: N_("This file could not be inspected: reading it took too long."),
    Failure.CPU: N_("This file could not be inspected: reading it needed too much computing."),
    Failure.MEMORY: N_("This file could not be inspected: reading it needed too much memory."),
    Failure.OUTPUT: N_("This file could not be inspected: the report was too large."),
    Failure.CRASH: N_(
        "This file could not be inspected: the process that reads it failed. The file may be "
        "damaged, or made to attack such software."
    ),
    Failure.REFUSED: N_("This file could not be inspected: it is damaged or cannot be read."),
}
SANITIZE_FAILURES: Final = {
    Failure.TOO_LARGE: N_(
        "No sanitised copy was made: the file is too large to be processed on the server."
    ),
    Failure.TIMEOUT: N_("No sanitised copy was made: processing the file took too long."),
    Failure.CPU: N_("No sanitised copy was made: processing the file needed too much computing."),
    Failure.MEMORY: N_("No sanitised copy was made: processing the file needed too much memory."),
    Failure.OUTPUT: N_("No sanitised copy was made: the copy would have been too large."),
    Failure.CRASH: N_(
        "No sanitised copy was made: the process that reads the file failed. The file may be "
        "damaged, or made to attack such software."
    ),
    Failure.REFUSED: N_(
        "No sanitised copy was made: the file is damaged, or of a type that cannot be sanitised."
    ),
}


BUSY: Final = N_(
    "Mailslot is busy reading other documents. Please try again in a minute; nothing was changed."
)
RETRY_AFTER: Final = 60


@contextmanager
def _worker_slot(ctx: OrgContext) -> Iterator[None]:
    """A free document worker for the block, or :class:`errors.TooManyRequests`."""
    with ctx.document_slots.slot() as free:
        if not free:
            raise errors.TooManyRequests(BUSY, retry_after=RETRY_AFTER)
        yield


@dataclass(frozen=True, slots=True)
class InspectedItem:
    """A document's report, with what the page around it needs."""

    case_id: str
    item_id: str
    filename: str
    size: int
    inspection: sandbox.Inspection

    @property
    def failure_message(self) -> str | None:
        failure = self.inspection.failure
        return INSPECT_FAILURES[failure] if failure is not None else None


def _open_document(
    ctx: OrgContext,
    user: User,
    seed: bytes | None,
    case_id: str,
    item_id: str,
    *,
    action: str | None,
) -> cases.ItemView:
    """The document's key and metadata, after the same checks as a download; ``action`` is
    recorded in the same unit of work if given."""
    with ctx.db() as db:
        case, wrap = cases.case_for_user(db, user, case_id)
        key = cases.case_keys(db, case, wrap, seed)
        view = cases.item_for_download(db, case, key, item_id)
        if view.item.kind != ItemKind.FILE:
            raise errors.InvalidInput("Only documents can be inspected or sanitised.")
        if action is not None:
            audit.record(
                db,
                action,
                now=ctx.now(),
                actor_id=user.id,
                actor=user.username,
                case_id=case.id,
                item_id=view.item.id,
            )
        return view


def _plaintext(ctx: OrgContext, view: cases.ItemView, limit: int) -> bytes | None:
    """The document decrypted into memory, or None past ``limit`` bytes (stopped there)."""
    if view.size > limit:
        return None
    data = bytearray()
    for chunk in cases.stream_item(ctx.blobs, view.item, view.data_key):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def inspect_item(
    ctx: OrgContext,
    user: User,
    seed: bytes | None,
    case_id: str,
    item_id: str,
    *,
    limits: sandbox.Limits = sandbox.DEFAULT_LIMITS,
) -> InspectedItem:
    """What a document reveals (``case.inspect``). A file the sandbox could not inspect gives
    a report that says so, never an error; all workers busy past the wait is one
    (``TooManyRequests``)."""
    with _worker_slot(ctx):
        view = _open_document(ctx, user, seed, case_id, item_id, action="case.inspect")
        data = _plaintext(ctx, view, limits.max_input)
        if data is None:
            inspection = sandbox.failed(view.filename, "unknown", Failure.TOO_LARGE)
        else:
            inspection = sandbox.inspect(data, view.filename, limits=limits)
    return InspectedItem(
        case_id=view.item.case_id,
        item_id=view.item.id,
        filename=view.filename,
        size=view.size,
        inspection=inspection,
    )


def sanitized_copy(
    ctx: OrgContext,
    user: User,
    seed: bytes | None,
    case_id: str,
    item_id: str,
    *,
    flatten: bool = False,
    greyscale: bool = False,
    limits: sandbox.Limits = sandbox.DEFAULT_LIMITS,
) -> sandbox.Copy:
    """A copy of a document without what identifies its source (``case.sanitize``, with keyed
    digests of the original and of the copy: see :func:`crypto.content_digest`);
    ``greyscale`` flattens too. Raises ``InvalidInput`` with the reason when no copy could be
    made; nothing is recorded then, since nothing left the server. All workers busy past
    the wait: ``TooManyRequests``."""
    flatten = flatten or greyscale  # only a flattened copy is made in shades of grey
    with _worker_slot(ctx):
        view = _open_document(ctx, user, seed, case_id, item_id, action=None)
        data = _plaintext(ctx, view, limits.max_input)
        if data is None:
            raise errors.InvalidInput(SANITIZE_FAILURES[Failure.TOO_LARGE])
        made = sandbox.sanitize(
            data, view.filename, flatten=flatten, greyscale=greyscale, limits=limits
        )
    if made.copy is None:
        raise errors.InvalidInput(SANITIZE_FAILURES[made.failure or Failure.CRASH])
    with ctx.db() as db:
        case, _ = cases.case_for_user(db, user, case_id)  # still allowed, after the wait
        audit.record(
            db,
            "case.sanitize",
            now=ctx.now(),
            actor_id=user.id,
            actor=user.username,
            case_id=case.id,
            item_id=view.item.id,
            flatten=flatten,
            greyscale=greyscale,
            original_digest=crypto.content_digest(view.data_key, data),
            copy_digest=crypto.content_digest(view.data_key, made.copy.data),
        )
    return made.copy
