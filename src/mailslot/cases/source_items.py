"""What a returning source sees of their case: replies in full, their own items as a time and
kind (unless the instance opted in), and deleting a reply."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.cases.errors import ItemNotFound
from mailslot.cases.meta import open_item_meta
from mailslot.cases.models import (
    Case,
    Item,
    ItemKeyWrap,
    ItemKind,
    KeyHolder,
)
from mailslot.cases.services import item_data_key, read_text
from mailslot.db.base import shred_on_commit
from mailslot.storage import BlobStore


@dataclass
class SourceItemView:
    item: Item
    text: str | None = None
    filename: str | None = None
    size: int | None = None
    readable: bool = False


def source_view(
    db: Session, blobs: BlobStore, source_key: crypto.KeyPair, case: Case, *, mark_seen: bool
) -> list[SourceItemView]:
    """What a returning source sees: replies in full; their own items only as a time and kind,
    unless the instance opted in and wrapped them to the source's key."""
    views = []
    held = set(
        db.scalars(
            select(ItemKeyWrap.item_id)
            .join(Item, Item.id == ItemKeyWrap.item_id)
            .where(Item.case_id == case.id, ItemKeyWrap.holder == KeyHolder.SOURCE.value)
        )
    )
    for item in db.scalars(
        select(Item)
        .where(Item.case_id == case.id, Item.kind != ItemKind.NOTE.value)
        .order_by(Item.position)
    ):
        view = SourceItemView(item=item)
        if item.id in held:
            data_key = item_data_key(db, item, KeyHolder.SOURCE, source_key)
            meta = open_item_meta(bytes.fromhex(item.id), data_key, item.sealed_meta)
            view.readable = True
            if item.kind == ItemKind.FILE:
                view.filename = meta.get("filename", "")
                view.size = meta.get("size", 0)
            else:
                view.text = read_text(blobs, item, data_key)
            if mark_seen and item.kind == ItemKind.REPLY:
                item.seen_by_source = True
        elif item.kind == ItemKind.REPLY:
            continue  # deleted by the source
        views.append(view)
    db.flush()
    return views


def forget_reply(db: Session, case: Case, item_id: str) -> None:
    """The source deletes a reply: its key wrap goes, so the codename no longer opens it."""
    shred_on_commit(db)
    item = db.get(Item, item_id) if len(item_id) == 32 else None
    if item is None or item.case_id != case.id or item.kind != ItemKind.REPLY:
        raise ItemNotFound()
    db.execute(
        delete(ItemKeyWrap).where(
            ItemKeyWrap.item_id == item.id, ItemKeyWrap.holder == KeyHolder.SOURCE.value
        )
    )
    db.flush()


def source_case(db: Session, source_id: str) -> Case | None:
    return db.scalar(
        select(Case).where(Case.source_id == source_id).order_by(Case.created_at).limit(1)
    )
