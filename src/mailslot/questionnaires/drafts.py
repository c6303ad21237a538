"""A source's answers in progress (a draft), kept sealed on the server between steps.

The session itself has one fixed size (``sessions/data.py``), too small for answers, so the
draft has its own row (``questionnaire_drafts``), keyed by the session's id and deleted
with it (a foreign key with ``ON DELETE CASCADE``: logging out, the quick exit, expiry),
and deleted when the answers are sent. It is sealed like the session's data, under the
session's key (which only the source's cookie gives), with its own associated data so that
a draft can never be opened as a session or as another session's draft. The JSON is padded
with zero bytes to a multiple of :data:`PAD`, so the row's size tells little about how much
was typed.

What a draft holds is what was typed, per step, exactly as sent (``values.form_data``), and
which questionnaire version and channel it is for, and the files attached to its file
fields (``files.py``: each file's item id, data key, blob, name and size, per field id);
answers are always read again from it with the version's definition, so a draft is never
trusted beyond what a form could send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import delete
from sqlalchemy.orm import Session as DbSession

from mailslot import crypto
from mailslot.errors import TooLarge
from mailslot.questionnaires.files import KeptFile
from mailslot.questionnaires.models import QuestionnaireDraft
from mailslot.sessions.services import SessionState

PAD: Final = 16 * 1024
# What one draft may hold: every step's text, well within the limits of a definition.
MAX_BYTES: Final = 2 * 1024 * 1024
_LABEL: Final = "/questionnaire-draft"

Raw = dict[str, tuple[str, ...]]


@dataclass(slots=True)
class Draft:
    channel_id: str
    questionnaire_id: str
    steps: dict[int, Raw] = field(default_factory=dict, repr=False)
    files: dict[str, list[KeptFile]] = field(default_factory=dict, repr=False)

    def all_files(self) -> list[KeptFile]:
        return [kept for files in self.files.values() for kept in files]


def _keys(state: SessionState) -> crypto.SessionKeys:
    return crypto.SessionKeys(session_id=state.keys.session_id + _LABEL, key=state.keys.key)


def _encode(draft: Draft) -> bytes:
    data = {
        "channel": draft.channel_id,
        "questionnaire": draft.questionnaire_id,
        "steps": {str(i): {k: list(v) for k, v in raw.items()} for i, raw in draft.steps.items()},
        "files": {k: [f.encode() for f in kept] for k, kept in draft.files.items() if kept},
    }
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if len(body) >= MAX_BYTES:
        raise TooLarge("Your answers are too long to keep. Please shorten them.")
    return body + b"\0" * (PAD - len(body) % PAD)


def _decode(body: bytes) -> Draft | None:
    """The draft, or None for anything that is not one (then it is dropped)."""
    try:
        data = json.loads(body.rstrip(b"\0"))
        steps: dict[int, Raw] = {}
        for index, raw in data["steps"].items():
            steps[int(index)] = {
                str(k): tuple(str(v) for v in values if isinstance(v, str))
                for k, values in raw.items()
                if isinstance(values, list)
            }
        files = {
            str(k): [KeptFile.decode(f) for f in kept] for k, kept in data.get("files", {}).items()
        }
        return Draft(str(data["channel"]), str(data["questionnaire"]), steps, files)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def load(db: DbSession, state: SessionState) -> Draft | None:
    row = db.get(QuestionnaireDraft, state.row.id)
    if row is None:
        return None
    try:
        return _decode(crypto.open_session(_keys(state), row.data))
    except crypto.DecryptionError:
        return None


def save(db: DbSession, state: SessionState, draft: Draft) -> None:
    sealed = crypto.seal_session(_keys(state), _encode(draft))
    row = db.get(QuestionnaireDraft, state.row.id)
    if row is None:
        db.add(QuestionnaireDraft(session_id=state.row.id, data=sealed))
    else:
        row.data = sealed
    db.flush()


def discard(db: DbSession, state: SessionState) -> None:
    db.execute(delete(QuestionnaireDraft).where(QuestionnaireDraft.session_id == state.row.id))
