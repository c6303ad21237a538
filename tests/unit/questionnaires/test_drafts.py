"""A source's answers in progress: sealed under the session's key, padded, readable only with
that session, and gone with the session or when the answers are sent."""

from __future__ import annotations

import dataclasses

from mailslot.questionnaires import drafts
from mailslot.questionnaires.drafts import Draft
from mailslot.questionnaires.models import QuestionnaireDraft
from mailslot.runtime import Runtime
from mailslot.sessions import services as sessions
from mailslot.sessions.data import SessionData

NOW = 1_764_165_600
SECRET = "the minister's driver, 정오에"


def new_session(runtime: Runtime) -> sessions.SessionState:
    with runtime.default.db() as db:
        return sessions.create(db, kind=sessions.SOURCE, data=SessionData(), now=NOW, absolute=3600)


def test_a_draft_is_sealed_padded_and_opens_only_with_its_session(runtime: Runtime) -> None:
    mine, other = new_session(runtime), new_session(runtime)
    draft = Draft("channel", "version", {0: {"what": (SECRET,)}, 2: {"kind": ("a", "b")}})
    with runtime.default.db() as db:
        drafts.save(db, mine, draft)
    with runtime.default.db() as db:
        row = db.get(QuestionnaireDraft, mine.row.id)
        assert row is not None
        assert SECRET.encode() not in row.data
        assert row.data.startswith(b"MSLS\x01")
        small = len(row.data)
        assert drafts.load(db, mine) == draft
        assert drafts.load(db, other) is None  # no draft of its own
        # Another session's key, pointed at this row, opens nothing; nor does the session's
        # own data key used as if this were its session data.
        stolen = dataclasses.replace(other, row=dataclasses.replace(other.row, id=mine.row.id))
        assert drafts.load(db, stolen) is None
    # A longer draft takes the same room until it passes the padding block.
    with runtime.default.db() as db:
        drafts.save(db, mine, Draft("channel", "version", {0: {"what": ("x" * 9000,)}}))
        row = db.get(QuestionnaireDraft, mine.row.id)
        assert row is not None
        assert len(row.data) == small


def test_a_draft_goes_with_its_session_and_when_discarded(runtime: Runtime) -> None:
    ended, sent = new_session(runtime), new_session(runtime)
    with runtime.default.db() as db:
        drafts.save(db, ended, Draft("c", "v", {0: {"what": (SECRET,)}}))
        drafts.save(db, sent, Draft("c", "v", {0: {"what": (SECRET,)}}))
    with runtime.default.db() as db:
        sessions.destroy(db, ended)  # logout, the quick exit
        drafts.discard(db, sent)  # the answers were sent
    with runtime.default.db() as db:
        assert db.query(QuestionnaireDraft).count() == 0
        assert drafts.load(db, sent) is None


def test_expired_sessions_take_their_drafts(runtime: Runtime) -> None:
    state = new_session(runtime)
    with runtime.default.db() as db:
        drafts.save(db, state, Draft("c", "v", {0: {"what": (SECRET,)}}))
    with runtime.default.db() as db:
        assert sessions.purge_expired(db, NOW + 7200) >= 1
    with runtime.default.db() as db:
        assert db.query(QuestionnaireDraft).count() == 0
