"""What Mailslot keeps in an item's sealed metadata, and checking it when it is opened.

The sealed metadata format (``MSLM``, docs/spec/format.md) holds any JSON object and leaves
its keys to the application; this module chooses them, once. Whoever holds an item's data key
can seal any object at all, so opening checks the type of every known key and raises the crypto
core's one :class:`~mailslot.crypto.DecryptionError` for a wrong one, as for any other damage.
Keys it does not know are dropped.

Imports nothing but the crypto core: ``mailslot decrypt`` uses it with no database.
"""

from __future__ import annotations

from typing import TypedDict

from mailslot import crypto


class ItemMeta(TypedDict, total=False):
    """An item's sealed metadata. ``size`` and ``time`` are added to every item as it is
    recorded; the others only where they apply."""

    filename: str  # files: the name the source's browser sent, made safe
    content_type: str  # files: the media type sent with it
    auto: bool  # replies: sent automatically (the acknowledgement)
    drop: bool  # files: an age file recognised as a sealed drop when it arrived
    size: int  # the exact length of the content, in bytes
    time: int  # when the item was recorded (Unix time, seconds)


def seal_item_meta(
    item_id: bytes,
    data_key: bytes,
    meta: ItemMeta,
    rng: crypto.RandomSource = crypto.system_random,
) -> bytes:
    return crypto.seal_meta(item_id, data_key, meta, rng)


def open_item_meta(item_id: bytes, data_key: bytes, sealed: bytes) -> ItemMeta:
    """Open and check an item's metadata; raises :class:`~mailslot.crypto.DecryptionError`."""
    fields = crypto.open_meta(item_id, data_key, sealed)
    meta: ItemMeta = {}
    if "filename" in fields:
        meta["filename"] = _text(fields["filename"])
    if "content_type" in fields:
        meta["content_type"] = _text(fields["content_type"])
    if "auto" in fields:
        meta["auto"] = _flag(fields["auto"])
    if "drop" in fields:
        meta["drop"] = _flag(fields["drop"])
    if "size" in fields:
        meta["size"] = _count(fields["size"])
    if "time" in fields:
        meta["time"] = _count(fields["time"])
    return meta


def _text(value: crypto.JsonValue) -> str:
    if not isinstance(value, str):
        raise crypto.DecryptionError()
    return value


def _flag(value: crypto.JsonValue) -> bool:
    if not isinstance(value, bool):
        raise crypto.DecryptionError()
    return value


def _count(value: crypto.JsonValue) -> int:
    # JSON's true and false are Python ints too; a count is never one of them.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise crypto.DecryptionError()
    return value
