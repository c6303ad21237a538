"""The source's use cases (``mailslot.sources``) against a real database: a new codename,
submissions, logging in, the conversation, deleting a reply and forgetting. Time is injected
through the context's clock."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from mailslot import crypto
from mailslot.audit.models import AuditEvent
from mailslot.cases import sealing
from mailslot.cases.errors import ChannelClosed
from mailslot.cases.models import Case, Item, ItemKind
from mailslot.channels import services as channels
from mailslot.channels import settings as channel_settings
from mailslot.config import Config
from mailslot.context import OrgContext
from mailslot.errors import AuthenticationFailed, InvalidInput, NotFound, TooManyRequests
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role
from mailslot.runtime import Runtime
from mailslot.sessions import services as sessions
from mailslot.sessions.data import SessionData
from mailslot.sources import access, conversation, submissions
from mailslot.sources.codenames import CODENAME_WORDS
from mailslot.sources.models import Source

NOW = 1_800_000_000


@dataclass(frozen=True)
class File:
    upload: sealing.ItemUpload
    filename: str
    content_type: str


@pytest.fixture
def ctx(runtime: Runtime) -> OrgContext:
    """The default organisation, its clock stopped at NOW, with a recipient on "default"."""
    context = dataclasses.replace(runtime.default, clock=lambda: float(NOW))
    with context.db() as db:
        recipients.create_user(
            db,
            username="alice",
            role=Role.RECIPIENT,
            password="correct horse battery staple",
            kdf=crypto.TEST_KDF,
            now=NOW,
            channel_names=("default",),
        )
    return context


def with_config(ctx: OrgContext, config: Config) -> OrgContext:
    return dataclasses.replace(ctx, config=config)


def session_for(ctx: OrgContext, data: SessionData) -> sessions.SessionState:
    with ctx.db() as db:
        return sessions.create(
            db, kind=sessions.SOURCE, data=dataclasses.replace(data), now=NOW, absolute=3600
        )


def reloaded(ctx: OrgContext, state: sessions.SessionState) -> SessionData:
    with ctx.db() as db:
        found = sessions.load(db, state.token, kind=sessions.SOURCE, idle=3600, now=NOW)
        assert found is not None
        return found.data


def a_file(ctx: OrgContext, data: bytes = b"%PDF-1.7 ...") -> File:
    upload = sealing.ItemUpload(ctx.blobs, limit=1 << 20)
    upload.write(data)
    upload.close()
    return File(upload, "leak.pdf", "application/pdf")


def count(ctx: OrgContext, model: type) -> int:
    with ctx.db() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def new_source(ctx: OrgContext, locale: str = "en") -> tuple[str, sessions.SessionState]:
    """A codename and the session of its first submission."""
    new = submissions.start(ctx)
    state = session_for(ctx, new.session)
    submissions.submit(ctx, state, None, "hello", [], locale=locale)
    return new.codename, state


def test_start_derives_keys_and_stores_nothing(ctx: OrgContext) -> None:
    new = submissions.start(ctx)
    assert len(new.codename.split()) == CODENAME_WORDS
    keys = access.derive_keys(ctx, new.codename)
    # The sealed session keeps the codename (to show it again) until the first submission.
    assert new.session == SessionData(
        new_lookup=keys.lookup, seed=keys.key_pair.seed, codename=new.codename
    )
    assert count(ctx, Source) == 0
    assert new.codename not in repr(new)


def test_a_codename_in_the_sources_language_opens_its_source(ctx: OrgContext) -> None:
    new = submissions.start(ctx, locale="ko")
    words = new.codename.split(" ")
    assert len(words) == 8
    assert all("가" <= ch <= "힣" for word in words for ch in word)
    state = session_for(ctx, new.session)
    source_id = submissions.submit(ctx, state, None, "안녕하세요", [], locale="ko")
    assert reloaded(ctx, state).codename == ""  # forgotten at the first submission
    typed = "\u3000".join(words).replace(words[0], words[0] + "\u00a0")  # other spaces
    assert access.log_in(ctx, typed).source_id == source_id
    japanese = submissions.start(ctx, locale="ja")
    assert japanese.codename.count("\u3000") == 7  # as BIP-39 writes Japanese
    assert access.derive_keys(ctx, japanese.codename.replace("\u3000", " ")).lookup == (
        japanese.session.new_lookup
    )


def test_start_takes_a_new_source_token(ctx: OrgContext) -> None:
    limited = with_config(ctx, dataclasses.replace(ctx.config, new_source_rate=1))
    submissions.start(limited)
    with pytest.raises(TooManyRequests):
        submissions.start(limited)


def test_take_token_spends_a_submission_token(ctx: OrgContext) -> None:
    limited = with_config(ctx, dataclasses.replace(ctx.config, submission_rate=1))
    with limited.db() as db:
        submissions.take_token(limited, db)
    with pytest.raises(TooManyRequests), limited.db() as db:
        submissions.take_token(limited, db)


def test_the_first_submission_creates_the_source_and_its_case(ctx: OrgContext) -> None:
    events = count(ctx, AuditEvent)
    new = submissions.start(ctx)
    state = session_for(ctx, new.session)
    document = a_file(ctx)
    source_id = submissions.submit(ctx, state, None, "hello", [document], locale="en")
    # The session learned its source in the same commit, and forgot the lookup tag.
    assert reloaded(ctx, state) == SessionData(seed=new.session.seed, source_id=source_id)
    with ctx.db() as db:
        case = db.scalars(select(Case)).one()
        assert case.source_id == source_id
        kinds = db.scalars(select(Item.kind).order_by(Item.position)).all()
        assert list(kinds) == ["message", "file"]
    assert ctx.blobs.exists(document.upload.blob_id)
    # The codename now logs in to that source; a returning submission joins the same case.
    login = access.log_in(ctx, new.codename)
    assert login.source_id == source_id
    assert login.session == SessionData(source_id=source_id, seed=new.session.seed)
    again = session_for(ctx, login.session)
    assert submissions.submit(ctx, again, None, "more", [], locale="en") == source_id
    assert count(ctx, Case) == 1
    assert count(ctx, Item) == 3
    assert count(ctx, AuditEvent) == events  # sources are never in the audit trail


def test_a_new_case_gets_the_channels_acknowledgement_in_the_sources_language(
    ctx: OrgContext,
) -> None:
    with ctx.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        channel_settings.set_auto_replies(db, channel, {"en": "Received.", "ko": "접수했습니다."})
    codename, state = new_source(ctx, locale="ko")
    with ctx.db() as db:
        assert db.scalars(select(Case.acknowledged_at)).one() is not None
    found = conversation.read(ctx, access.log_in(ctx, codename).source_id, state.data.seed)
    assert [(v.item.kind, v.text) for v in found.items] == [
        ("message", None),
        ("reply", "접수했습니다."),
    ]
    assert found.items[1].item.seen_by_source


def test_submissions_that_are_refused_leave_no_blob(ctx: OrgContext) -> None:
    state = session_for(ctx, submissions.start(ctx).session)
    short = with_config(ctx, dataclasses.replace(ctx.config, max_message_chars=10))
    document = a_file(ctx)
    with pytest.raises(InvalidInput):
        submissions.submit(short, state, None, "x" * 11, [document], locale="en")
    assert not ctx.blobs.exists(document.upload.blob_id)
    with pytest.raises(InvalidInput):
        submissions.submit(ctx, state, None, "  \n", [], locale="en")
    # A returning source whose source is gone: the sealed message's blob goes too.
    _, returning = new_source(ctx)
    access.forget(ctx, returning.data.source_id)
    uploads: list[sealing.ItemUpload] = []
    with pytest.raises(AuthenticationFailed):
        submissions.store(ctx, returning, None, [], "again", uploads=uploads, locale="en")
    assert len(uploads) == 1
    document = a_file(ctx)
    with pytest.raises(AuthenticationFailed):
        submissions.submit(ctx, returning, None, "again", [document], locale="en")
    assert not ctx.blobs.exists(document.upload.blob_id)
    assert count(ctx, Item) == 1  # the forgotten source's first message, nothing since


def test_choose_channel(ctx: OrgContext) -> None:
    with ctx.db() as db:
        default = channels.get_channel_by_name(db, "default")
        assert submissions.choose_channel(db, None).id == default.id
        other = channels.create_channel(
            db, name="other", description="", recipients=["alice"], now=NOW
        )
        with pytest.raises(InvalidInput):
            submissions.choose_channel(db, None)  # two open: the source must choose
        with pytest.raises(InvalidInput):
            submissions.choose_channel(db, "no such channel")
        assert submissions.choose_channel(db, other.id).id == other.id
    with ctx.db() as db:
        channels.set_members(db, channels.get_channel_by_name(db, "default"), [])
        channels.set_members(db, channels.get_channel_by_name(db, "other"), [])
    with pytest.raises(ChannelClosed), ctx.db() as db:
        submissions.choose_channel(db, None)


def test_log_in_refuses_a_wrong_or_empty_codename(ctx: OrgContext) -> None:
    codename, _ = new_source(ctx)
    with pytest.raises(InvalidInput):
        access.log_in(ctx, "   ")
    with pytest.raises(AuthenticationFailed):
        access.log_in(ctx, codename + " extra")


def test_the_source_deletes_a_reply_then_forgets_everything(ctx: OrgContext) -> None:
    codename, state = new_source(ctx)
    source_id, seed = state.data.source_id, state.data.seed
    with ctx.db() as db:
        case = db.scalars(select(Case)).one()
        reply = sealing.seal_text(ctx.blobs, "We got it.")
        sealing.record_items(
            db,
            case,
            [sealing.SealedItem(reply, ItemKind.REPLY, {})],
            now=NOW,
            source_public_key=access.source_key(seed).public_key,
        )
    views = conversation.read(ctx, source_id, seed).items
    assert [v.text for v in views] == [None, "We got it."]
    with pytest.raises(NotFound):
        conversation.delete_reply(ctx, None, views[1].item.id)
    conversation.delete_reply(ctx, source_id, views[1].item.id)
    assert [v.item.kind for v in conversation.read(ctx, source_id, seed).items] == ["message"]
    access.forget(ctx, source_id)
    access.forget(ctx, None)  # nothing to forget before the first submission
    assert count(ctx, Source) == 0
    with pytest.raises(AuthenticationFailed):  # its session has ended with it
        conversation.read(ctx, source_id, seed)
    with pytest.raises(AuthenticationFailed):
        access.log_in(ctx, codename)
