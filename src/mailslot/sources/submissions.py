"""Submitting, as use cases: a new codename, then each submission (the first one creates the
source and opens its case).

The web layer receives the body as a stream (``web/uploads.py`` encrypts each file into the
blob store as it arrives) and calls :func:`submit` in the worker thread that parsed the end
of the form, with the session it loaded; this module does the rest. Sources are never in the
audit trail: no use case here records an event. Each function is blocking.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session as DbSession

from mailslot.cases import deadlines, sealing
from mailslot.cases import services as cases
from mailslot.cases.errors import ChannelClosed
from mailslot.cases.models import Case, ItemKind
from mailslot.channels import choice
from mailslot.channels import services as channels
from mailslot.channels import settings as channel_settings
from mailslot.channels.models import Channel
from mailslot.context import OrgContext
from mailslot.errors import AuthenticationFailed, InvalidInput
from mailslot.identity import services as identity_services
from mailslot.instance.services import get_instance
from mailslot.limits import services as limits
from mailslot.notifications import services as notices
from mailslot.orgs import quotas
from mailslot.questionnaires import store as questionnaire_store
from mailslot.sessions import services as session_services
from mailslot.sessions.data import SENT_TOKENS, SessionData
from mailslot.sessions.services import SessionState
from mailslot.sources import services as sources
from mailslot.sources.access import SESSION_ENDED, source_key
from mailslot.sources.codenames import generate_codename


@dataclass(frozen=True, slots=True, repr=False)
class NewSource:
    """A fresh codename, shown once, and the session that holds its derived keys until the
    first submission creates the source (nothing is stored about it before that)."""

    codename: str
    session: SessionData


def start(ctx: OrgContext, *, locale: str = "en") -> NewSource:
    """Make a codename from ``locale``'s word list and derive its keys (a NEW_SOURCES rate
    token first, then Argon2id under the process-wide cap). The session keeps the codename
    until the first submission, so that its page can show it again."""
    codename = generate_codename(locale=locale)
    with ctx.db() as db:
        instance = get_instance(db, ctx.instance_id)
        limits.take(db, limits.NEW_SOURCES, per_minute=ctx.config.new_source_rate, now=ctx.clock())
    keys = ctx.kdf(lambda: sources.derive_keys(instance, codename))
    return NewSource(
        codename, SessionData(new_lookup=keys.lookup, seed=keys.key_pair.seed, codename=codename)
    )


def take_token(ctx: OrgContext, db: DbSession) -> None:
    """Spend a SUBMISSIONS rate token, in the caller's unit of work (the web layer does it in
    the transaction that loads the session: one thread hop before the body is read)."""
    limits.take(db, limits.SUBMISSIONS, per_minute=ctx.config.submission_rate, now=ctx.clock())


# A send token: what new_send_token makes (128 random bits), as the form sends it back.
_SEND_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,43}")


def new_send_token() -> str:
    """A token for one send form: the form sent twice with it stores one submission."""
    return secrets.token_urlsafe(16)


def send_token(sent: str | None) -> str:
    """The token for a send form shown again: the one it was sent with if well-formed (so
    that sending it again still stores one submission), else a new one."""
    return sent if sent and _SEND_TOKEN.fullmatch(sent) else new_send_token()


class ReceivedFile(Protocol):
    """A file of the form, already sealed into its blob (``web.form_receiver.UploadedFile``)."""

    @property
    def upload(self) -> sealing.ItemUpload: ...
    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...


def submit(
    ctx: OrgContext,
    session: SessionState,
    channel_id: str | None,
    message: str,
    files: Sequence[ReceivedFile],
    *,
    locale: str,
    token: str | None = None,
    chosen: Collection[str] | None = None,
    identity: str = "",
) -> str:
    """Check and store a submission; return the source's id. ``locale`` is the source's
    language, for a new case's automatic acknowledgement. ``token`` is the form's send token
    (:func:`new_send_token`): a submission whose token the session has seen already (the
    form sent twice: a double click, a resend over a slow link) stores nothing and returns
    the source's id as the first one did. A missing or malformed token is no token.
    ``chosen``: the recipients a new source left chosen (None: the channel's usual ones);
    ``identity``: what a new source typed in the identity box (sealed apart, for custodians).

    The submission owns the blobs of ``files``: if it is refused or fails, every blob it was
    given or made is deleted before the error propagates (and after a repeated token too)."""
    uploads = [f.upload for f in files]
    token = token if token and _SEND_TOKEN.fullmatch(token) else None
    try:
        if len(message) > ctx.config.max_message_chars:
            raise InvalidInput(cases.MESSAGE_TOO_LONG, num=ctx.config.max_message_chars)
        if not message.strip() and not files:
            raise InvalidInput("Write a message or choose at least one file to send.")
        items = [sealing.file_item(f.upload, f.filename, f.content_type) for f in files]
        text = message if message.strip() else None
        given = None
        if (identity_text := identity_services.check_identity_text(identity)) is not None:
            given = identity_services.text_item(ctx.blobs, identity_text)
            uploads.append(given.upload)
        return store(
            ctx,
            session,
            channel_id,
            items,
            text,
            uploads=uploads,
            locale=locale,
            token=token,
            choice=Choice(chosen=chosen),
            identity=given,
        )
    except BaseException:
        cases.delete_blobs(ctx.blobs, [u.blob_id for u in uploads])
        raise


def choose_channel(db: DbSession, channel_id: str | None) -> Channel:
    """The open channel a new source chose (the only one, if there is one and none was
    named)."""
    open_channels = channels.open_channels(db)
    if not open_channels:
        raise ChannelClosed()
    if len(open_channels) == 1 and not channel_id:
        return open_channels[0]
    for channel in open_channels:
        if channel.id == channel_id:
            return channel
    raise InvalidInput("Choose where to send your submission.")


@dataclass(frozen=True, slots=True)
class Choice:
    """Who receives a new case: the recipients a source left chosen on the send form
    (``chosen``, None if the form did not offer the choice), or those a questionnaire's
    answer routes it to (``routed``, by name). Neither: the channel's usual recipients."""

    chosen: Collection[str] | None = None
    routed: Sequence[str] = ()

    def recipient_ids(self, db: DbSession, channel: Channel) -> list[str] | None:
        if self.routed and (found := choice.routed_ids(db, channel, self.routed)) is not None:
            return found
        return choice.chosen_ids(db, channel, self.chosen)


@dataclass(frozen=True, slots=True)
class _Acknowledgement:
    """A new case's automatic acknowledgement, sealed, and what recording it needs."""

    upload: sealing.ItemUpload
    case: Case
    channel: Channel
    source_public_key: bytes


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a submission's items go."""

    source_id: str
    case: Case | sealing.CaseRef
    source_public_key: bytes | None  # set if the items are wrapped to the source too
    ack: _Acknowledgement | None = None


def store(
    ctx: OrgContext,
    session: SessionState,
    channel_id: str | None,
    items: list[sealing.SealedItem],
    message: str | None,
    *,
    uploads: list[sealing.ItemUpload],
    locale: str,
    token: str | None = None,
    answered: bool = False,
    choice: Choice | None = None,
    identity: sealing.SealedItem | None = None,
    also: Callable[[DbSession], None] | None = None,
) -> str:
    """Seal ``message`` (if any) into its blob, then record every item, in one transaction.
    The blob is sealed before the first statement, so no database lock is held while it is
    written and fsynced; ``uploads`` learns it at once, so the caller can delete it if
    anything after fails.

    The first submission creates the source and opens its case; a new case gets the
    channel's automatic acknowledgement in the source's language (if the channel has one): a
    reply with no author, sealed like a staff reply, which acknowledges receipt for the
    deadline (the status stays "new" for triage). If mail is configured, the case's
    recipients are notified. The session learns its source in the same commit. A submission
    that would pass the organisation's storage or case quota is refused
    (:class:`~mailslot.orgs.errors.QuotaReached`) before anything is recorded.

    The session's row is locked and read again first, so that two requests of one session
    (the same form sent twice, or two forms at once) are stored one after the other, the
    second seeing what the first did: a repeated ``token`` deletes this request's blobs and
    stores nothing, and a first submission sent twice creates one source.

    A first submission may carry ``choice`` (who receives the case) and ``identity`` (sealed
    already, recorded apart from the case for custodians: ``identity.services``). ``also``
    runs in the same transaction once the items are recorded (a questionnaire's counts)."""
    now = ctx.now()
    if message is not None:
        text_upload = sealing.seal_text(ctx.blobs, message)
        uploads.append(text_upload)
        items.insert(0, sealing.SealedItem(upload=text_upload, kind=ItemKind.MESSAGE, meta={}))
    with ctx.db() as db:
        if not session_services.reload_locked(db, session):
            raise AuthenticationFailed(SESSION_ENDED)
        if token is not None and token in session.data.sent.split() and session.data.source_id:
            cases.delete_blobs(ctx.blobs, [u.blob_id for u in uploads])
            return session.data.source_id
        # Every blob the source sent is sealed by now: the quotas see the submission's size
        # (a new case's automatic acknowledgement, a short text of the staff's, is not counted).
        quotas.check(
            db,
            ctx.quotas,
            new_case=not session.data.source_id,
            adding=sum(upload.stored_size for upload in uploads),
        )
        if session.data.source_id:
            target = _returning(ctx, db, session)
        else:
            target = _first(
                ctx,
                db,
                session,
                channel_id,
                uploads,
                now=now,
                locale=locale,
                answered=answered,
                choice=choice or Choice(),
            )
        if identity is not None:
            if not isinstance(target.case, Case):
                raise InvalidInput("Your identity can be given only with your first submission.")
            identity_services.record_identity(db, target.case.id, identity, now=now)
        sealing.record_items(
            db, target.case, items, now=now, source_public_key=target.source_public_key
        )
        if also is not None:
            also(db)
        if (ack := target.ack) is not None:
            auto = sealing.SealedItem(upload=ack.upload, kind=ItemKind.REPLY, meta={"auto": True})
            sealing.record_items(
                db, ack.case, [auto], now=now, source_public_key=ack.source_public_key
            )
            deadlines.acknowledge(ack.case, ack.channel, now)
        if ctx.config.smtp_url:  # mail is configured: recipients hear of it
            notices.queue_for_case(db, target.case.id, now=now, interval=ctx.config.notify_interval)
        # A returning source's session changes only with a send token to remember.
        if token is not None:
            session.data.sent = " ".join([*session.data.sent.split(), token][-SENT_TOKENS:])
        if (
            token is not None
            or session.data.new_lookup is not None
            or session.data.source_id != target.source_id
        ):
            session.data.new_lookup = None
            session.data.codename = ""
            session.data.source_id = target.source_id
            session_services.save(db, session)
        return target.source_id


def _returning(ctx: OrgContext, db: DbSession, session: SessionState) -> _Target:
    """A returning source's case; its key only if the instance wraps submissions to it."""
    source_id = str(session.data.source_id)
    found = sealing.submission_target(db, source_id, ctx.instance_id)
    if found is None:
        raise AuthenticationFailed(SESSION_ENDED)
    public_key = source_key(session.data.seed).public_key if found.share_with_source else None
    return _Target(source_id, found.case, public_key)


def _first(
    ctx: OrgContext,
    db: DbSession,
    session: SessionState,
    channel_id: str | None,
    uploads: list[sealing.ItemUpload],
    *,
    now: int,
    locale: str,
    answered: bool = False,
    choice: Choice,
) -> _Target:
    """Create the source and open its case in the chosen channel, with the channel's
    automatic acknowledgement if it has one."""
    public_key = source_key(session.data.seed).public_key
    share = get_instance(db, ctx.instance_id).show_source_submissions
    lookup = session.data.new_lookup
    if lookup is None:
        raise AuthenticationFailed(SESSION_ENDED)
    channel = choose_channel(db, channel_id)
    # A channel with a questionnaire takes a first submission only as its answers
    # (``questionnaires.intake``, which passes ``answered``).
    if not answered and questionnaire_store.current(db, channel.id) is not None:
        raise InvalidInput("Please answer this channel's questions to send to it.")
    # Sealed before the first write, like the message (no lock held meanwhile).
    ack_text = channel_settings.auto_reply_for(db, channel.id, locale)
    ack_upload = None
    if ack_text is not None:
        ack_upload = sealing.seal_text(ctx.blobs, ack_text)
        uploads.append(ack_upload)
    source = sources.create_source(db, lookup, public_key, now)
    case = sealing.open_case(db, channel, source.id, now, only=choice.recipient_ids(db, channel))
    ack = (
        _Acknowledgement(ack_upload, case, channel, public_key) if ack_upload is not None else None
    )
    return _Target(source.id, case, public_key if share else None, ack)
