"""Recognising a sealed drop among uploads, without any key: the server checks the format of
what arrives (an age v1 header that parses, binary or armored), never its contents.

Only the first :data:`PREFIX_LIMIT` bytes of an upload are looked at; a header longer than
that (more than about 150 recipients) is not recognised, and the upload is kept as a plain
file.
"""

from __future__ import annotations

import io
from typing import Final

from mailslot.drops.age import _decoded_source, _Source, looks_like_age
from mailslot.drops.errors import DropError
from mailslot.drops.header import read_header

PREFIX_LIMIT: Final = 256 * 1024
# Enough of an upload's start to tell whether it can be an age file at all.
PEEK: Final = 64


def is_sealed_drop(prefix: bytes) -> bool:
    """Whether an upload starting with ``prefix`` (its first :data:`PREFIX_LIMIT` bytes, or
    all of it if shorter) is an age file whose header is well formed."""
    if not looks_like_age(prefix[:PEEK]):
        return False
    try:
        source = _decoded_source(_Source(io.BytesIO(prefix).read), None)
        read_header(source.readline)
    except DropError:
        return False
    return True
