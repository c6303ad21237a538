"""Identity on request: sealing a source's identity apart from its case, and the key work
of opening it (the data functions; the use cases are in ``requests.py``).

Key handling (docs/threat-model.md, "Identity on request"): the identity is sealed as an
item (``MSLI``, fresh data key, metadata ``MSLM``), and its data key is never wrapped to the
case key, so no holder of the case can open it. The data key is wrapped to every active
custodian when the identity arrives (``IdentityKeyWrap``), and is also the seed of the
identity's key pair (HKDF separates every use), whose public key seals requests' reasons.
A custodian who approves a request opens the data key with their own key (from their
session) and wraps it to the requester's public key; only then can that recipient open it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.cases import sealing
from mailslot.cases.errors import KeyOffline
from mailslot.cases.meta import ItemMeta, open_item_meta, seal_item_meta
from mailslot.cases.models import ItemKind
from mailslot.db.base import coarse
from mailslot.errors import Forbidden, InvalidInput
from mailslot.i18n import DEFAULT_LOCALE, N_, N_plural
from mailslot.identity.models import Identity, IdentityKeyWrap
from mailslot.questionnaires.reading import IDENTITY_TYPE, opened
from mailslot.questionnaires.sealed import IDENTITY_PART
from mailslot.recipients.models import Role, User
from mailslot.storage import BlobStore

TEXT_TYPE = "text/plain; charset=utf-8"
TEXT_NAME = "identity.txt"
MAX_IDENTITY_CHARS = 5000

NO_CUSTODIAN = N_("This organisation has no custodian, so an identity cannot be given here.")


def custodians(db: Session) -> list[User]:
    """The active custodians: who receives a new identity's key."""
    return list(
        db.scalars(
            select(User)
            .where(User.role == Role.CUSTODIAN.value, User.disabled.is_(False))
            .order_by(User.username)
        )
    )


def offered(db: Session) -> bool:
    """Whether sources are offered to give their identity (only with a custodian)."""
    return bool(custodians(db))


def check_identity_text(text: str) -> str | None:
    """The identity typed in the send form's own box, or None if it was left empty."""
    if not text.strip():
        return None
    if len(text) > MAX_IDENTITY_CHARS:
        raise InvalidInput(
            N_plural(
                "Your identity is too long (at most %(num)s character).",
                "Your identity is too long (at most %(num)s characters).",
            ),
            num=MAX_IDENTITY_CHARS,
        )
    return text


def text_item(blobs: BlobStore, text: str) -> sealing.SealedItem:
    """An identity typed in the send form, sealed into its blob (not yet recorded)."""
    upload = sealing.seal_text(blobs, text)
    meta: ItemMeta = {"filename": TEXT_NAME, "content_type": TEXT_TYPE}
    return sealing.SealedItem(upload=upload, kind=ItemKind.MESSAGE, meta=meta)


def record_identity(db: Session, case_id: str, sealed: sealing.SealedItem, *, now: int) -> Identity:
    """Record an identity whose blob is committed: its own key pair, the data key wrapped to
    it, and the key pair's seed wrapped to every active custodian. Refused without one."""
    holders = custodians(db)
    if not holders:
        raise Forbidden(NO_CUSTODIAN)
    upload = sealed.upload
    identity_id = bytes.fromhex(upload.item_id)
    key_pair = crypto.KeyPair.from_seed(upload.data_key)
    meta: ItemMeta = {**sealed.meta, "time": int(now), "size": upload.length}
    identity = Identity(
        id=upload.item_id,
        case_id=case_id,
        public_key=key_pair.public_key,
        blob_id=upload.blob_id,
        stored_size=upload.stored_size,
        sealed_meta=seal_item_meta(identity_id, upload.data_key, meta),
        created_at=coarse(now),
    )
    db.add(identity)
    db.flush()
    for user in holders:
        db.add(
            IdentityKeyWrap(
                identity_id=identity.id,
                user_id=user.id,
                wrapped=wrap_seed(user, key_pair, identity),
            )
        )
    db.flush()
    return identity


def wrap_seed(user: User, key_pair: crypto.KeyPair, identity: Identity) -> bytes:
    return crypto.wrap_key(
        user.public_key,
        key_pair.seed,
        crypto.WrapPurpose.IDENTITY_KEY,
        bytes.fromhex(identity.id),
    )


def of_case(db: Session, case_id: str) -> Identity | None:
    return db.scalar(select(Identity).where(Identity.case_id == case_id))


def holds(db: Session, identity: Identity, user: User) -> bool:
    return db.get(IdentityKeyWrap, (identity.id, user.id)) is not None


def identity_key(db: Session, identity: Identity, user: User, seed: bytes | None) -> crypto.KeyPair:
    """The identity's key pair, opened with ``user``'s own key seed (raises ``Forbidden``
    without a wrap to them, ``KeyOffline`` without their seed)."""
    wrap = db.get(IdentityKeyWrap, (identity.id, user.id))
    if wrap is None:
        raise Forbidden("You have not been allowed to see the source's identity.")
    if seed is None:
        raise KeyOffline()
    opened = crypto.KeyPair.from_seed(seed).unwrap(
        wrap.wrapped, crypto.WrapPurpose.IDENTITY_KEY, bytes.fromhex(identity.id)
    )
    key_pair = crypto.KeyPair.from_seed(opened)
    crypto.verify(key_pair.public_key, identity.public_key)
    return key_pair


@dataclass(frozen=True, slots=True)
class OpenedIdentity:
    """A source's identity as its allowed reader sees it."""

    text: str
    time: int


def open_identity(
    db: Session, blobs: BlobStore, identity: Identity, key_pair: crypto.KeyPair
) -> OpenedIdentity:
    identity_id = bytes.fromhex(identity.id)
    data_key = key_pair.seed
    meta = open_item_meta(identity_id, data_key, identity.sealed_meta)
    data = b"".join(
        crypto.open_item_stream(identity_id, data_key, blobs.open(identity.blob_id, 1 << 16))
    )
    text = data.decode("utf-8", errors="replace")
    if meta.get("content_type") == IDENTITY_TYPE:
        text = _answers_text(db, data) or text
    return OpenedIdentity(text=text, time=meta.get("time") or identity.created_at)


def _answers_text(db: Session, document: bytes) -> str | None:
    """A questionnaire's identity answers as "question: answer" lines, against the version
    they were given with; None when that version is gone (the JSON is shown instead)."""
    found = opened(db, document, IDENTITY_PART)
    if found is None:
        return None
    stored, read = found
    lines = []
    for field in stored.definition.fields():
        if field.id in read.answers:
            label = field.label.text(DEFAULT_LOCALE) if field.label else field.id
            lines.append(f"{label}: {read.answers[field.id]}")
    return "\n".join(lines)


def blob_ids(db: Session, case_id: str) -> list[str]:
    """The blob of the case's identity, if any (deleted with the case)."""
    return list(db.scalars(select(Identity.blob_id).where(Identity.case_id == case_id)))
