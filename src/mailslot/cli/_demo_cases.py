"""The cases ``mailslot demo-data`` makes: realistic, fully encrypted, for demos and benchmarks.

Every case is made the way a real one is: its own key pair wrapped to the channel's
recipients (``sealing.open_case``), items sealed into the blob store (``seal_text``,
``ItemUpload``) and recorded with ``record_items``, replies wrapped to a real source key,
notes through ``cases.work.add_note``. Nothing is stored in clear that a real case would not
store in clear.

What differs, for speed: a demo source's key pair comes from a random seed instead of a
codename through Argon2id (so demo sources cannot log in), and blobs are flushed to disk once
per batch instead of once per file.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.cases import deadlines, sealing
from mailslot.cases.meta import ItemMeta
from mailslot.cases.models import (
    Case,
    CaseStatus,
    Counter,
    CustomStatus,
    ItemKind,
    KeyHolder,
    Label,
)
from mailslot.channels.models import Channel, ChannelMember
from mailslot.cli._demo_plans import (
    DAY,
    DEMO_LABELS,
    DEMO_STATUSES,
    NOTES,
    REPLIES,
    SUBJECTS,
    Plan,
    plan_case,
    words,
)
from mailslot.db.base import coarse, new_id
from mailslot.db.models import Base
from mailslot.recipients.models import Role, User
from mailslot.sources.codenames import generate_pseudonym
from mailslot.storage import BlobStore, FilesystemBlobStore
from mailslot.storage.filesystem import _FileWriter


class _BatchedWriter(_FileWriter):
    """A blob file without its own fsync: the whole batch is synced before its rows commit."""

    def commit(self) -> int:
        self.flush()
        self._close()
        os.replace(self._partial, self._final)
        self._done = True
        return self._size


class BatchedBlobs(FilesystemBlobStore):
    def create(self) -> _FileWriter:
        return _BatchedWriter(self, os.urandom(32).hex())


_CASE_FIELDS: Final = (
    "status",
    "custom_status_id",
    "important",
    "acknowledge_by",
    "acknowledged_at",
    "feedback_by",
    "feedback_at",
    "closed_at",
    "due_at",
)


class _Batch:
    """The rows of a batch of demo cases, written with one multi-row INSERT per table.

    They are the rows ``sealing.open_case``, ``sealing.record_items`` and ``work.add_note``
    write, made with the same recipes (``KeyPair``, ``wrap_key``, ``seal_meta``, sealed
    uploads), without a round trip per row.
    """

    def __init__(self, blobs: BlobStore, rng: random.Random, seq: int) -> None:
        self.blobs = blobs
        self.rng = rng
        self.seq = seq  # the activity counter's last value
        self.rows: dict[str, list[dict[str, Any]]] = {
            table: []
            for table in (
                "sources",
                "cases",
                "case_key_wraps",
                "case_access",
                "items",
                "item_key_wraps",
                "case_labels",
                "case_assignees",
                "case_reads",
            )
        }

    def items(
        self,
        case: Case,
        sealed: list[sealing.SealedItem],
        now: int,
        *,
        author_id: str | None = None,
        source_public_key: bytes | None = None,
    ) -> None:
        """What ``record_items`` writes: the items, their key wraps, the case's counters."""
        self.seq += 1
        for item in sealed:
            upload = item.upload
            item_id = bytes.fromhex(upload.item_id)
            case.item_count += 1
            meta = dict(item.meta, time=int(now), size=upload.length)
            self.rows["items"].append(
                {
                    "id": upload.item_id,
                    "case_id": case.id,
                    "position": case.item_count,
                    "kind": item.kind.value,
                    "author_id": author_id,
                    "blob_id": upload.blob_id,
                    "stored_size": upload.stored_size,
                    "sealed_meta": crypto.seal_meta(item_id, upload.data_key, meta),
                    "created_at": coarse(now),
                    "seen_by_source": False,
                }
            )
            holders = [(KeyHolder.CASE, case.public_key)]
            if source_public_key is not None:
                holders.append((KeyHolder.SOURCE, source_public_key))
            for holder, public_key in holders:
                wrapped = crypto.wrap_key(
                    public_key, upload.data_key, crypto.WrapPurpose.ITEM_KEY, item_id
                )
                self.rows["item_key_wraps"].append(
                    {"item_id": upload.item_id, "holder": holder.value, "wrapped": wrapped}
                )
        case.last_activity_at = coarse(now)
        case.activity_seq = self.seq

    def text(self, text: str) -> sealing.ItemUpload:
        return sealing.seal_text(self.blobs, text)

    def write(self, db: Session) -> None:
        connection = db.connection()
        for name, rows in self.rows.items():
            if rows:
                connection.execute(insert(Base.metadata.tables[name]), rows)


def _create_case(
    batch: _Batch,
    plan: Plan,
    pseudonym: str,
    channel: Channel,
    recipients: list[User],
    labels: list[Label],
    statuses: list[CustomStatus],
) -> None:
    rng = batch.rng
    source_key = crypto.KeyPair.from_seed(crypto.new_secret())
    source_id = new_id()
    batch.rows["sources"].append(
        {
            "id": source_id,
            "lookup": crypto.new_secret(),  # random: no codename leads here
            "public_key": source_key.public_key,
            "created_at": plan.created - plan.created % DAY,
        }
    )
    # What open_case does: a key pair for the case, its seed wrapped to every recipient.
    key_pair = crypto.KeyPair.generate()
    case = Case(
        id=new_id(),
        channel_id=channel.id,
        source_id=source_id,
        pseudonym=pseudonym,
        public_key=key_pair.public_key,
        created_at=coarse(plan.created),
        last_activity_at=coarse(plan.created),
        activity_seq=0,
        item_count=0,
        status=CaseStatus.NEW.value,
        custom_status_id=None,
        important=False,
        acknowledged_at=None,
        feedback_by=None,
        feedback_at=None,
        closed_at=None,
        reminded_for=None,
        keep_until=None,
        key_version=0,
        recipients_chosen=False,
    )
    deadlines.start_deadlines(case, channel, plan.created)
    context = bytes.fromhex(case.id)
    for user in recipients:
        wrapped = crypto.wrap_key(
            user.public_key, key_pair.seed, crypto.WrapPurpose.CASE_KEY, context
        )
        batch.rows["case_key_wraps"].append(
            {"case_id": case.id, "user_id": user.id, "wrapped": wrapped}
        )
        batch.rows["case_access"].append(
            {
                "id": new_id(),
                "case_id": case.id,
                "user_id": user.id,
                "granted_by": None,
                "granted_at": coarse(plan.created),
                "revoked_by": None,
                "revoked_at": None,
            }
        )
    first = [
        sealing.SealedItem(
            upload=batch.text(f"{rng.choice(SUBJECTS)}\n\n{words(rng, 40)}"),
            kind=ItemKind.MESSAGE,
            meta={},
        )
    ]
    for number in range(plan.files):
        name, content_type = rng.choice(
            (("invoices-%d.csv", "text/csv"), ("notes-%d.txt", "text/plain"))
        )
        upload = sealing.ItemUpload(batch.blobs, limit=1 << 20)
        upload.write(f"demo document {number}\n{words(rng, rng.randrange(20, 120))}\n".encode())
        upload.close()
        meta: ItemMeta = {"filename": name % (number + 1), "content_type": content_type}
        first.append(sealing.SealedItem(upload=upload, kind=ItemKind.FILE, meta=meta))
    batch.items(case, first, plan.created)
    events: list[tuple[int, str]] = []
    for moment, kind in (
        (plan.acknowledged, "ack"),
        (plan.note, "note"),
        (plan.follow_up, "message"),
        (plan.feedback, "feedback"),
    ):
        if moment is not None:
            events.append((moment, kind))
    for moment, kind in sorted(events):
        author = rng.choice(recipients)
        if kind == "note":
            # As add_note: wrapped to the case key only, never to the source.
            note = sealing.SealedItem(batch.text(rng.choice(NOTES)), ItemKind.NOTE, {})
            batch.items(case, [note], moment, author_id=author.id)
        elif kind == "message":
            message = sealing.SealedItem(batch.text(words(rng, 30)), ItemKind.MESSAGE, {})
            batch.items(case, [message], moment)
        else:
            text = REPLIES[0] if kind == "ack" else rng.choice(REPLIES[1:])
            reply = sealing.SealedItem(batch.text(text), ItemKind.REPLY, {})
            batch.items(
                case, [reply], moment, author_id=author.id, source_public_key=source_key.public_key
            )
            if kind == "ack":
                deadlines.acknowledge(case, channel, moment)
                case.status = CaseStatus.ACKNOWLEDGED.value
            else:
                deadlines.give_feedback(case, channel, moment)
                case.status = CaseStatus.IN_PROGRESS.value
    if plan.closed is not None:
        case.status = CaseStatus.CLOSED.value
        case.closed_at = coarse(plan.closed)
        deadlines.refresh_due(case)
    if plan.custom_status is not None:
        status = statuses[plan.custom_status]
        case.status = status.phase
        case.custom_status_id = status.id
    case.important = plan.important
    batch.rows["cases"].append(
        {column.key: getattr(case, column.key) for column in Case.__table__.columns}
    )
    for index in plan.labels:
        batch.rows["case_labels"].append({"case_id": case.id, "label_id": labels[index].id})
    for index in plan.assignees:
        batch.rows["case_assignees"].append({"case_id": case.id, "user_id": recipients[index].id})
    if plan.read:
        for user in recipients:
            batch.rows["case_reads"].append(
                {"case_id": case.id, "user_id": user.id, "activity_seq": case.activity_seq}
            )


def _labels(db: Session, now: int) -> list[Label]:
    found = {label.name: label for label in db.scalars(select(Label))}
    for name in DEMO_LABELS:
        if name not in found:
            found[name] = Label(name=name, created_at=coarse(now))
            db.add(found[name])
    db.flush()
    return [found[name] for name in DEMO_LABELS]


def _statuses(db: Session, channel: Channel) -> list[CustomStatus]:
    found = {
        s.name: s
        for s in db.scalars(select(CustomStatus).where(CustomStatus.channel_id == channel.id))
    }
    for position, (phase, name) in enumerate(DEMO_STATUSES):
        if name not in found:
            found[name] = CustomStatus(
                channel_id=channel.id, phase=phase.value, name=name, position=position
            )
            db.add(found[name])
    db.flush()
    return [found[name] for _, name in DEMO_STATUSES]


def _recipients(db: Session, channel: Channel) -> list[User]:
    return list(
        db.scalars(
            select(User)
            .join(ChannelMember, ChannelMember.user_id == User.id)
            .where(
                ChannelMember.channel_id == channel.id,
                User.disabled.is_(False),
                User.role == Role.RECIPIENT.value,
            )
            .order_by(User.username)
        )
    )


Setup = list[tuple[str, list[str]]]  # each channel to fill, with its recipients' user ids


def channels_to_fill(db: Session, channel_name: str | None, now: int) -> Setup:
    """The channels with recipients (only ``channel_name`` if given), made ready for demo
    cases: the demo labels exist, and each channel has the demo statuses."""
    query = select(Channel).order_by(Channel.name)
    if channel_name is not None:
        query = query.where(Channel.name == channel_name)
    setup = []
    for channel in db.scalars(query):
        recipients = _recipients(db, channel)
        if recipients:
            setup.append((channel.id, [u.id for u in recipients]))
    if setup:
        _labels(db, now)
        for channel_id, _ in setup:
            _statuses(db, db.get_one(Channel, channel_id))
    return setup


def plan_cases(rng: random.Random, setup: Setup, count: int, now: int) -> list[Plan]:
    """The lives of ``count`` cases, the channels taken in turn, in order of last activity:
    written in that order, the activity counter that orders the inbox agrees with the
    (coarse) last-activity times."""
    plans = [
        plan_case(rng, setup[n % len(setup)][0], len(setup[n % len(setup)][1]), now)
        for n in range(count)
    ]
    plans.sort(key=lambda p: p.last)
    return plans


def pseudonyms(db: Session) -> set[str]:
    """The pseudonyms cases have already."""
    return set(db.scalars(select(Case.pseudonym)))


def write_cases(
    db: Session,
    blobs: BlobStore,
    rng: random.Random,
    plans: Sequence[Plan],
    setup: Setup,
    taken: set[str],
    now: int,
) -> None:
    """Create one batch of planned cases in one unit of work, their blobs on disk first."""
    labels = _labels(db, now)
    channels = {cid: db.get_one(Channel, cid) for cid, _ in setup}
    users = {cid: [db.get_one(User, u) for u in uids] for cid, uids in setup}
    statuses = {cid: _statuses(db, channels[cid]) for cid in channels}
    counter = db.get(Counter, sealing.ACTIVITY)
    if counter is None:
        counter = Counter(name=sealing.ACTIVITY, value=0)
        db.add(counter)
    batch = _Batch(blobs, rng, counter.value)
    for plan in plans:
        pseudonym = generate_pseudonym()
        while pseudonym in taken:
            pseudonym = generate_pseudonym()
        taken.add(pseudonym)
        cid = plan.channel_id
        _create_case(batch, plan, pseudonym, channels[cid], users[cid], labels, statuses[cid])
    counter.value = batch.seq
    db.flush()
    os.sync()  # the batch's blobs reach the disk before its rows commit
    batch.write(db)
