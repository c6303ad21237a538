"""Sources: creating one from a fresh codename, finding one by codename, and forgetting one."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.cases.models import Case, Item, ItemKeyWrap, KeyHolder
from mailslot.db.base import shred_on_commit
from mailslot.errors import AuthenticationFailed, Conflict
from mailslot.instance.models import Instance
from mailslot.sources.models import Source

MAX_CODENAME_CHARS = 500


def derive_keys(instance: Instance, codename: str) -> crypto.SourceKeys:
    """The Argon2id step; call it through ``OrgContext.kdf`` so concurrent runs stay capped."""
    return crypto.derive_source_keys(
        codename[:MAX_CODENAME_CHARS],
        instance.codename_salt,
        crypto.KdfParams.decode(instance.source_kdf),
    )


def find_source(db: Session, keys: crypto.SourceKeys) -> Source:
    source = db.scalar(select(Source).where(Source.lookup == keys.lookup))
    if source is None:
        raise AuthenticationFailed("That codename is not right. Check it and try again.")
    return source


def create_source(db: Session, lookup: bytes, public_key: bytes, now: int) -> Source:
    if db.scalar(select(Source.id).where(Source.lookup == lookup)) is not None:
        raise Conflict("This codename is already in use.")  # pragma: no cover - 90 bits
    source = Source(lookup=lookup, public_key=public_key, created_at=now - now % 86400)
    db.add(source)
    db.flush()
    return source


def forget_source(db: Session, source: Source) -> None:
    """Delete-my-conversation: the codename stops working and opens nothing any more.

    Every key wrap made to the source's key goes first; the case stays with the recipients,
    no longer linked to any source.
    """
    shred_on_commit(db)
    case_ids = select(Case.id).where(Case.source_id == source.id)
    item_ids = select(Item.id).where(Item.case_id.in_(case_ids))
    db.execute(
        delete(ItemKeyWrap).where(
            ItemKeyWrap.item_id.in_(item_ids), ItemKeyWrap.holder == KeyHolder.SOURCE.value
        )
    )
    db.execute(update(Case).where(Case.source_id == source.id).values(source_id=None))
    db.execute(delete(Source).where(Source.id == source.id))
    db.flush()
