"""Reading an archive: decrypt the payload as it streams in and check every rule of the format.

Memory stays bounded by one frame and one chunk: the plaintext is read on demand, and a blob's
bytes are handed to the caller piece by piece. Anything wrong, from a wrong passphrase to one
flipped bit or a frame out of order, raises :class:`~mailslot.backup.errors.ArchiveUnreadable`
and nothing else; the crypto core's errors are mapped here, where its calls are made.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy import Table

from mailslot import crypto
from mailslot.backup.errors import ArchiveUnreadable
from mailslot.backup.format import (
    BLOB_CHILDREN,
    BLOB_ID,
    BLOB_KEYS,
    BLOB_TABLES,
    END_KEYS,
    ROW_KEYS,
    TABLE_KEYS,
    BackupSummary,
    Manifest,
    TableSpec,
    check_count,
    check_keys,
    check_text,
    decode_manifest,
    read_frame,
    table_specs,
)

READ_SIZE: Final = 64 * 1024


class Plaintext:
    """The decrypted payload, read on demand; holds at most a frame and a chunk."""

    def __init__(self, source: IO[bytes], opener: crypto.ItemOpener) -> None:
        self._source = source
        self._opener = opener
        self._buffer = bytearray()
        self._finished = False

    def _fill(self) -> None:
        if self._finished:
            raise ArchiveUnreadable()
        data = self._source.read(READ_SIZE)
        try:
            if data:
                self._buffer += self._opener.update(data)
            else:
                self._finished = True
                self._buffer += self._opener.finish()
        except crypto.DecryptionError:
            raise ArchiveUnreadable() from None

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def read_some(self, limit: int) -> bytes:
        """At least one byte and at most ``limit`` (limit > 0)."""
        while not self._buffer:
            self._fill()
        data = bytes(self._buffer[:limit])
        del self._buffer[: len(data)]
        return data

    def at_end(self) -> bool:
        while not self._buffer and not self._finished:
            self._fill()
        return not self._buffer


@dataclass(frozen=True, slots=True)
class Row:
    table: Table
    values: dict[str, Any]


class Blob:
    """A blob in the archive; its bytes can be read once, while it is the current entry."""

    def __init__(self, payload: Plaintext, blob_id: str, size: int) -> None:
        self._payload = payload
        self.blob_id = blob_id
        self.size = size
        self.remaining = size

    def pieces(self) -> Iterator[bytes]:
        while self.remaining:
            data = self._payload.read_some(min(READ_SIZE, self.remaining))
            self.remaining -= len(data)
            yield data


Entry = Manifest | Row | Blob | BackupSummary


class _Sequence:
    """The frame order rules after the manifest: tables in schema order, each item or identity
    row followed by its blob, every row that belongs to one (a key wrap, a request) after it,
    and an end frame whose counts agree."""

    def __init__(self, payload: Plaintext, specs: list[TableSpec], manifest: Manifest) -> None:
        self._payload = payload
        self._specs = specs
        self.summary = BackupSummary(schema=manifest.schema, created_at=manifest.created_at)
        self.ended = False
        self._ids: dict[str, set[str]] = {name: set() for name in BLOB_TABLES}
        self._spec_index = -1
        self._spec: TableSpec | None = None
        self._pending: dict[str, Any] | None = None

    def on_frame(self, obj: dict[str, Any]) -> Iterator[Entry]:
        kind = obj.get("type")
        if self._pending is not None and kind != "blob":
            raise ArchiveUnreadable()
        if kind == "table":
            self._on_table(obj)
        elif kind == "row":
            yield from self._on_row(obj)
        elif kind == "blob":
            yield from self._on_blob(obj)
        elif kind == "end":
            yield self._on_end(obj)
        else:
            raise ArchiveUnreadable()

    def _on_table(self, obj: dict[str, Any]) -> None:
        check_keys(obj, TABLE_KEYS)
        self._spec_index += 1
        if (
            self._spec_index >= len(self._specs)
            or obj["name"] != self._specs[self._spec_index].name
        ):
            raise ArchiveUnreadable()
        self._spec = self._specs[self._spec_index]
        self.summary.rows[self._spec.name] = 0

    def _on_row(self, obj: dict[str, Any]) -> Iterator[Row]:
        check_keys(obj, ROW_KEYS)
        spec = self._spec
        if spec is None:
            raise ArchiveUnreadable()
        values = spec.decode_row(obj["values"])
        self.summary.rows[spec.name] += 1
        if spec.name in BLOB_TABLES:
            ids = self._ids[spec.name]
            if values["id"] in ids:
                raise ArchiveUnreadable()
            ids.add(values["id"])
            self._pending = values  # yielded with its blob frame
            return
        parent = BLOB_CHILDREN.get(spec.name)
        if parent is not None and values[parent[0]] not in self._ids[parent[1]]:
            raise ArchiveUnreadable()
        yield Row(spec.table, values)

    def _on_blob(self, obj: dict[str, Any]) -> Iterator[Row | Blob]:
        check_keys(obj, BLOB_KEYS)
        owner, spec = self._pending, self._spec
        if owner is None or spec is None:
            raise ArchiveUnreadable()
        blob_id = check_text(obj["id"], BLOB_ID)
        size = check_count(obj["size"])
        if blob_id != owner["blob_id"] or size != owner["stored_size"]:
            raise ArchiveUnreadable()
        yield Row(spec.table, owner)
        self._pending = None
        blob = Blob(self._payload, blob_id, size)
        yield blob
        for _ in blob.pieces():  # what the caller left unread
            pass
        self.summary.blobs += 1
        self.summary.bytes += size

    def _on_end(self, obj: dict[str, Any]) -> BackupSummary:
        check_keys(obj, END_KEYS)
        rows, summary = obj["rows"], self.summary
        if self._spec_index != len(self._specs) - 1 or type(rows) is not dict:
            raise ArchiveUnreadable()
        if rows != summary.rows or any(type(v) is not int for v in rows.values()):
            raise ArchiveUnreadable()
        if (check_count(obj["blobs"]), check_count(obj["bytes"])) != (summary.blobs, summary.bytes):
            raise ArchiveUnreadable()
        summary.dropped = check_count(obj["dropped"])
        if not self._payload.at_end():
            raise ArchiveUnreadable()
        self.ended = True
        return summary


def read_payload(payload: Plaintext) -> Iterator[Entry]:
    """Parse the payload strictly, yielding the manifest, each row, each blob (right after its
    item or identity row) and finally the summary from the end frame. Anything wrong raises
    the opaque :class:`ArchiveUnreadable`; a blob not read by the caller is skipped."""
    specs = table_specs()
    manifest = decode_manifest(read_frame(payload), specs)
    yield manifest
    sequence = _Sequence(payload, specs, manifest)
    while not sequence.ended:
        yield from sequence.on_frame(read_frame(payload))


def _read_header(source: IO[bytes]) -> crypto.BackupHeader:
    try:
        return crypto.read_backup_header(source)
    except crypto.CryptoError:
        raise ArchiveUnreadable() from None


class Keys:
    """Archive keys derived from one passphrase, remembered by cost and salt: the archives of
    a whole install share both (``write.Sealing``), so their key is derived once."""

    def __init__(self, passphrase: str) -> None:
        self._passphrase = passphrase
        self._known: dict[tuple[str, bytes], bytes] = {}

    def key(self, header: crypto.BackupHeader) -> bytes:
        known = (header.params.encode(), header.salt)
        if known not in self._known:
            try:
                self._known[known] = crypto.backup_key(self._passphrase, header)
            except crypto.CryptoError:  # a passphrase too long to have made any archive
                raise ArchiveUnreadable() from None
        return self._known[known]


def read_key(source: IO[bytes], passphrase: str | Keys) -> tuple[crypto.BackupHeader, bytes]:
    """Read the clear header from the start of ``source`` and derive the archive's key (one
    Argon2id run at the header's cost, refused first if that cost is out of bounds)."""
    header = _read_header(source)
    keys = passphrase if isinstance(passphrase, Keys) else Keys(passphrase)
    return header, keys.key(header)


def open_archive(source: IO[bytes], passphrase: str) -> Iterator[Entry]:
    """Read the header, derive the key and parse the payload (see :func:`read_payload`)."""
    header, key = read_key(source, passphrase)
    return read_payload(Plaintext(source, crypto.backup_opener(header, key)))


def reopen(path: Path, header: crypto.BackupHeader, key: bytes) -> Iterator[Entry]:
    """Parse the archive at ``path`` again with a key derived before; its header must not have
    changed since."""
    with path.open("rb") as source:
        if _read_header(source) != header:
            raise ArchiveUnreadable()
        yield from read_payload(Plaintext(source, crypto.backup_opener(header, key)))


def check_all(entries: Iterable[Entry]) -> tuple[Manifest, BackupSummary]:
    """Read every entry (so every rule is checked); the manifest and the end frame's summary."""
    manifest: Manifest | None = None
    summary: BackupSummary | None = None
    for entry in entries:
        if isinstance(entry, Manifest):
            manifest = entry
        elif isinstance(entry, BackupSummary):
            summary = entry
    if manifest is None or summary is None:  # pragma: no cover - read_payload yields both
        raise ArchiveUnreadable()
    return manifest, summary


def verify_archive(path: Path, passphrase: str) -> BackupSummary:
    """Decrypt and check a whole archive, writing nothing; its summary, or ArchiveUnreadable."""
    with path.open("rb") as source:
        return check_all(open_archive(source, passphrase))[1]
