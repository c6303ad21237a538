""" "Download all": a case as a zip, streamed.

The zip is written by the standard library's :mod:`zipfile` into a sink that hands each piece
to the response as soon as it exists. Entries are stored (not compressed) and use data
descriptors, so nothing is buffered beyond one decrypted chunk and nothing touches the disk.
"""

from __future__ import annotations

import datetime
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from mailslot.cases import services as cases
from mailslot.cases.models import ItemKind
from mailslot.filenames import output_filename
from mailslot.storage import BlobStore

# zip's DOS timestamps cannot go below 1980.
_EPOCH_1980: Final = 315532800


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream: zipfile then writes data descriptors."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.pieces.append(bytes(data))
        return len(data)

    def drain(self) -> Iterator[bytes]:
        pieces, self.pieces = self.pieces, []
        yield from pieces


def _timestamp(seconds: int) -> tuple[int, int, int, int, int, int]:
    moment = datetime.datetime.fromtimestamp(max(seconds, _EPOCH_1980), tz=datetime.UTC)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def entry_name(view: cases.ItemView) -> str:
    """``007-report.pdf``, ``003-message.txt``: the position keeps names unique and in order,
    and the rest is a name every common file system accepts."""
    if view.item.kind == ItemKind.FILE:
        name = output_filename(view.filename)
    else:
        name = f"{view.item.kind}.txt"
    return f"{view.item.position:03d}-{name}"


# A sealed drop's members, as ``dropkeys.reading.DropOpener.members`` gives them.
DropMembers = Callable[[cases.ItemView], Iterator[tuple[str, Callable[[int], bytes]]]]
_PIECE: Final = 1 << 20


def case_zip(
    blobs: BlobStore, views: Iterable[cases.ItemView], drop_members: DropMembers | None = None
) -> Iterator[bytes]:
    """Yield the zip's bytes, decrypting each item chunk by chunk as it goes. With
    ``drop_members``, each sealed drop is followed by what it holds, under
    ``NNN-NAME.contents/`` (``note.txt``, ``files/…``)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for view in views:
            info = zipfile.ZipInfo(entry_name(view), date_time=_timestamp(view.time))
            info.external_attr = 0o600 << 16
            with archive.open(info, "w", force_zip64=True) as entry:
                for chunk in cases.stream_item(blobs, view.item, view.data_key):
                    entry.write(chunk)
                    yield from sink.drain()
            yield from sink.drain()
            if drop_members is not None and view.sealed_drop:
                for name, read in drop_members(view):
                    inner = f"{entry_name(view)}.contents/" + "/".join(
                        output_filename(part) for part in name.split("/")
                    )
                    info = zipfile.ZipInfo(inner, date_time=_timestamp(view.time))
                    info.external_attr = 0o600 << 16
                    with archive.open(info, "w", force_zip64=True) as entry:
                        while piece := read(_PIECE):
                            entry.write(piece)
                            yield from sink.drain()
                    yield from sink.drain()
    yield from sink.drain()
