"""Files a source attaches to a questionnaire's file fields, kept sealed until the answers
are sent.

A file is sealed as it arrives (``web/uploads.py``), exactly like a file of a message: a
fresh item id and data key, the blob written chunk by chunk. What the draft keeps of it
(:class:`KeptFile`: the item id, the data key, the blob, its name, type and size) is inside
the sealed draft, so nothing about it is in clear on disk but its blob id, which
``questionnaire_draft_files`` names with the session so that a session that ends without
sending leaves no blob behind (:func:`sweep`). Sending turns each kept file back into an
upload (:class:`KeptUpload`) that the submission use case records as an item of the new case
under the same item id, which the answers document names as the file's ``ref``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session as DbSession

from mailslot.cases.sealing import ItemUpload
from mailslot.errors import InvalidInput
from mailslot.questionnaires.models import QuestionnaireDraftFile
from mailslot.questionnaires.values import AttachedFile
from mailslot.storage import BlobStore


@dataclass(frozen=True, slots=True)
class KeptFile:
    """A sealed file of a draft: enough to record it as an item later."""

    name: str
    content_type: str
    size: int  # of the plaintext
    item_id: str
    data_key: bytes
    blob_id: str
    stored_size: int
    sealed_drop: bool = False

    @classmethod
    def of(cls, upload: ItemUpload, name: str, content_type: str) -> KeptFile:
        """A file just sealed by the upload code (closed)."""
        return cls(
            name=name,
            content_type=content_type,
            size=upload.length,
            item_id=upload.item_id,
            data_key=upload.data_key,
            blob_id=upload.blob_id,
            stored_size=upload.stored_size,
            sealed_drop=upload.sealed_drop,
        )

    @property
    def attached(self) -> AttachedFile:
        return AttachedFile(self.name, self.size, self.item_id)

    def encode(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.content_type,
            "size": self.size,
            "item": self.item_id,
            "key": self.data_key.hex(),
            "blob": self.blob_id,
            "stored": self.stored_size,
            "drop": self.sealed_drop,
        }

    @classmethod
    def decode(cls, data: Mapping[str, object]) -> KeptFile:
        """Raises ValueError, KeyError or TypeError for anything that is not one."""
        size, stored = data["size"], data["stored"]
        if not isinstance(size, int) or not isinstance(stored, int):
            raise TypeError("sizes")
        return cls(
            name=str(data["name"]),
            content_type=str(data["type"]),
            size=size,
            item_id=str(data["item"]),
            data_key=bytes.fromhex(str(data["key"])),
            blob_id=str(data["blob"]),
            stored_size=stored,
            sealed_drop=data.get("drop") is True,
        )


class KeptUpload(ItemUpload):
    """A kept file as the closed upload that ``cases.record_items`` records: it writes
    nothing, its blob is already complete."""

    def __init__(self, kept: KeptFile) -> None:  # no super().__init__: no new blob
        self.item_id = kept.item_id
        self.data_key = kept.data_key
        self.limit = kept.size
        self.stored_size = kept.stored_size
        self.sealed_drop = kept.sealed_drop
        self._kept = kept

    @property
    def blob_id(self) -> str:
        return self._kept.blob_id

    @property
    def length(self) -> int:
        return self._kept.size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        raise InvalidInput("The upload could not be read. Please try again.")

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def abort(self) -> None:
        return None


def attached(files: Mapping[str, Sequence[KeptFile]]) -> dict[str, tuple[AttachedFile, ...]]:
    """The files per field as answers hold them."""
    return {field: tuple(f.attached for f in kept) for field, kept in files.items() if kept}


def keep(db: DbSession, session_id: str, files: Iterable[KeptFile]) -> None:
    """Name the blobs of files a draft now holds, with the session they go with."""
    for kept in files:
        db.merge(QuestionnaireDraftFile(blob_id=kept.blob_id, session_id=session_id))
    db.flush()


def release(db: DbSession, blob_ids: Iterable[str]) -> None:
    """The blobs now belong to items of a case (or are deleted): no longer a draft's."""
    ids = list(blob_ids)
    if ids:
        db.execute(delete(QuestionnaireDraftFile).where(QuestionnaireDraftFile.blob_id.in_(ids)))


def drop(db: DbSession, blobs: BlobStore, files: Iterable[KeptFile]) -> None:
    """Delete files a draft no longer holds (replaced, or the draft started again)."""
    ids = [f.blob_id for f in files]
    release(db, ids)
    for blob_id in ids:
        blobs.delete(blob_id)


def orphan(db: DbSession, session_id: str) -> None:
    """A session's draft is gone: its files' blobs are left for :func:`sweep`."""
    db.execute(
        update(QuestionnaireDraftFile)
        .where(QuestionnaireDraftFile.session_id == session_id)
        .values(session_id=None)
    )


def sweep(db: DbSession, blobs: BlobStore, *, batch: int = 500) -> int:
    """Delete the blobs of files whose session ended without sending them; returns how
    many. Each blob was sealed under a key that only the ended draft held."""
    ids = list(
        db.scalars(
            select(QuestionnaireDraftFile.blob_id)
            .where(QuestionnaireDraftFile.session_id.is_(None))
            .limit(batch)
        )
    )
    for blob_id in ids:
        blobs.delete(blob_id)
    release(db, ids)
    return len(ids)
