"""Realistic rows for the tables of each revision, written against that revision's schema.

``ROWS[revision]`` holds the rows that first become possible at ``revision`` (its new tables
and columns), table by table, parents before children. A database at revision N is filled
with the rows of every revision up to N, so each migration meets a database that has been
used: cases with items and key wraps, members, sessions, pending enrollments, and so on.

The values are shaped like the real ones (32-hex ids, hour-coarse times, 32-byte digests,
sealed bytes) and include what tends to break in a table rebuild: NULLs, booleans on both
values, bytes with zeros and high bits, text beyond ASCII.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Final

Row = dict[str, Any]
Rows = Mapping[str, Sequence[Row]]

REVISIONS: Final = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
)

HOUR: Final = 3600
DAY: Final = 86400
T0: Final = 1_764_165_600  # 2025-11-26 14:00 UTC, on the hour like every time kept in clear


def ident() -> str:
    """A random 32-hex id, the shape of ``db.base.new_id``."""
    return secrets.token_hex(16)


def blob(size: int = 48) -> bytes:
    """Random bytes standing in for a key, digest or sealed value; starting with a zero byte
    and a high one, which a careless copy would mangle."""
    return b"\x00\xff" + secrets.token_bytes(size - 2)


DEFAULT, PROCUREMENT, TIPS = ident(), ident(), ident()
DRAFT_SESSION: Final = secrets.token_hex(32)  # a source's session with a questionnaire draft
QUESTIONNAIRE_V2: Final = ident()  # the default channel's current questionnaire (0010)
ADMIN, ANA, BEN, DAN, CHI = (ident() for _ in range(5))
SOURCE_1, SOURCE_2 = ident(), ident()
CASE_1, CASE_2, CASE_3, CASE_4 = ident(), ident(), ident(), ident()
LEGAL_REVIEW = ident()
URGENT, FOLLOW_UP = ident(), ident()
AUDIT_HEAD = blob(32)
DROP_KEY_1, DROP_KEY_2 = ident(), ident()
CUSTODIAN, EVA, CASE_5, IDENTITY = ident(), ident(), ident(), ident()  # 0011


def _user(user_id: str, username: str, role: str, **columns: Any) -> Row:
    return {
        "id": user_id,
        "username": username,
        "role": role,
        "email": None,
        "password_kdf": "argon2id$m=65536,t=3,p=4",
        "password_salt": blob(16),
        "password_verifier": blob(32),
        "totp_secret": "JBSWY3DPEHPK3PXP" + username.upper(),
        "totp_last_counter": 58_805_520,
        "public_key": blob(32),
        "private_key_password_wrap": blob(104),
        "private_key_recovery_wrap": blob(104),
        "disabled": False,
        "created_at": T0 - 30 * DAY,
        **columns,
    }


def _case(
    case_id: str, pseudonym: str, channel_id: str, source_id: str | None, **columns: Any
) -> Row:
    return {
        "id": case_id,
        "channel_id": channel_id,
        "source_id": source_id,
        "pseudonym": pseudonym,
        "public_key": blob(32),
        "created_at": T0 - 10 * DAY,
        "last_activity_at": T0 - 2 * HOUR,
        "activity_seq": 7,
        "item_count": 1,
        **columns,
    }


def _item(case_id: str, position: int, kind: str, author_id: str | None = None) -> Row:
    return {
        "id": ident(),
        "case_id": case_id,
        "position": position,
        "kind": kind,
        "author_id": author_id,
        "blob_id": secrets.token_hex(32),
        "stored_size": 1_048_576 + position,
        "sealed_meta": blob(80),
        "created_at": T0 - (10 - position) * DAY,
        "seen_by_source": kind == "reply" and position % 2 == 0,
    }


_ITEMS_0001: Final = [
    _item(CASE_1, 0, "message"),
    _item(CASE_1, 1, "file"),
    _item(CASE_1, 2, "reply", ANA),
    _item(CASE_1, 3, "reply", BEN),
    _item(CASE_2, 0, "message"),
]

ROWS: Final[Mapping[str, Rows]] = {
    "0001": {
        "channels": [
            {"id": DEFAULT, "name": "default", "description": "", "created_at": T0 - 30 * DAY},
            {
                "id": PROCUREMENT,
                "name": "Procurement",
                "description": "Öffentliche Aufträge · 公共调达",
                "created_at": T0 - 20 * DAY,
            },
        ],
        "counters": [{"name": "activity", "value": 12}],
        "instance": [
            {
                "id": 1,
                "name": "Example Newsroom",
                "guidance": "Use Tor Browser.\nNe partagez pas l'adresse — 감사합니다.",
                "show_source_submissions": True,
                "codename_salt": blob(16),
                "source_kdf": "argon2id$m=262144,t=3,p=4",
                "created_at": T0 - 30 * DAY,
            }
        ],
        "sources": [
            {
                "id": SOURCE_1,
                "lookup": blob(32),
                "public_key": blob(32),
                "created_at": T0 - 10 * DAY,
            },
            {
                "id": SOURCE_2,
                "lookup": blob(32),
                "public_key": blob(32),
                "created_at": T0 - 9 * DAY,
            },
        ],
        "users": [
            _user(ADMIN, "admin", "admin", email="admin@example.org"),
            _user(ANA, "ana", "recipient", email="ana@example.org"),
            _user(BEN, "ben", "recipient", disabled=True, private_key_recovery_wrap=None),
            _user(DAN, "dan", "analyst", private_key_password_wrap=None),
        ],
        "cases": [
            _case(CASE_1, "amber heron", DEFAULT, SOURCE_1, item_count=4),
            # The source of this one deleted its codename (source_id was set to NULL).
            _case(
                CASE_2, "quiet lantern", PROCUREMENT, None, created_at=T0 - 3 * DAY, activity_seq=12
            ),
        ],
        "channel_members": [
            {"channel_id": DEFAULT, "user_id": ANA},
            {"channel_id": DEFAULT, "user_id": BEN},
            {"channel_id": PROCUREMENT, "user_id": ANA},
        ],
        "enrollments": [
            {
                "id": ident(),
                "token_digest": blob(32),
                "role": "recipient",
                "username": None,
                "channel_ids": f"{DEFAULT},{PROCUREMENT}",
                "totp_secret": "KRSXG5CTMVRXEZLU",
                "created_by": ADMIN,
                "expires_at": T0 + 2 * DAY,
                "used_at": None,
            },
            {
                "id": ident(),
                "token_digest": blob(32),
                "role": "analyst",
                "username": "dan",
                "channel_ids": "",
                "totp_secret": "MFRGGZDFMZTWQ2LK",
                "created_by": None,
                "expires_at": T0 - 28 * DAY,
                "used_at": T0 - 29 * DAY,
            },
        ],
        "sessions": [
            {
                "id": secrets.token_hex(32),
                "kind": "staff",
                "user_id": ANA,
                "created_at": T0 - 600,
                "last_seen_at": T0 - 60,
                "expires_at": T0 + 1800,
                "data": blob(120),
            },
            {
                "id": DRAFT_SESSION,
                "kind": "source",
                "user_id": None,
                "created_at": T0 - 300,
                "last_seen_at": T0 - 30,
                "expires_at": T0 + 900,
                "data": blob(96),
            },
        ],
        "case_key_wraps": [
            {"case_id": CASE_1, "user_id": ANA, "wrapped": blob(80)},
            {"case_id": CASE_1, "user_id": BEN, "wrapped": blob(80)},
            {"case_id": CASE_2, "user_id": ANA, "wrapped": blob(80)},
        ],
        "case_reads": [
            {"case_id": CASE_1, "user_id": ANA, "activity_seq": 7},
            {"case_id": CASE_2, "user_id": ANA, "activity_seq": 11},
        ],
        "items": _ITEMS_0001,
        "item_key_wraps": [
            *(
                {"item_id": item["id"], "holder": "case", "wrapped": blob(72)}
                for item in _ITEMS_0001
            ),
            *(
                {"item_id": item["id"], "holder": "source", "wrapped": blob()}
                for item in _ITEMS_0001
                if item["case_id"] == CASE_1
            ),
        ],
    },
    "0002": {
        "users": [
            _user(
                CHI,
                "chi",
                "recipient",
                key_offline=True,
                private_key_password_wrap=None,
                private_key_recovery_wrap=None,
            )
        ],
        "channel_members": [{"channel_id": PROCUREMENT, "user_id": CHI}],
        "case_key_wraps": [{"case_id": CASE_2, "user_id": CHI, "wrapped": blob(80)}],
    },
    "0003": {
        "rate_buckets": [
            {"name": "submissions", "tokens": 29.5, "updated_at": T0 + 0.25},
            {"name": "enrollments", "tokens": 0.0, "updated_at": T0 - 90.5},
        ],
        "login_throttles": [
            {
                "key": blob(32),
                "failures": 3,
                "first_failure_at": T0 - 120,
                "locked_until": T0 + 60,
                "unreported": 2,
            }
        ],
    },
    "0004": {
        "webauthn_credentials": [
            {
                "id": ident(),
                "user_id": ANA,
                "credential_id": blob(64),
                "public_key": blob(77),
                "sign_count": 41,
                "name": "YubiKey 5 NFC",
                "created_at": T0 - 5 * DAY,
                "last_used_at": T0 - HOUR,
            },
            {
                "id": ident(),
                "user_id": ADMIN,
                "credential_id": blob(1023),
                "public_key": blob(77),
                "sign_count": 0,
                "name": "Clé de secours",
                "created_at": T0 - DAY,
                "last_used_at": None,
            },
        ],
    },
    "0005": {
        "pending_notices": [
            {
                "user_id": ANA,
                "due_at": T0 + 300,
                "attempts": 2,
                "claimed_until": 0,
                "last_error": "SMTPServerDisconnected",
            },
            {"user_id": BEN, "due_at": T0, "attempts": 0, "claimed_until": T0, "last_error": None},
        ],
    },
    "0006": {
        "channels": [
            {
                "id": TIPS,
                "name": "Tips",
                "description": "",
                "created_at": T0,
                "acknowledge_days": 3,
                "feedback_days": 30,
                "retention_days": 365,
                "closed_retention_days": 0,
            }
        ],
        "custom_statuses": [
            {
                "id": LEGAL_REVIEW,
                "channel_id": DEFAULT,
                "phase": "in_progress",
                "name": "Legal review",
                "position": 0,
            }
        ],
        "cases": [
            _case(
                CASE_3,
                "copper finch",
                DEFAULT,
                SOURCE_2,
                created_at=T0 - DAY,
                status="in_progress",
                custom_status_id=LEGAL_REVIEW,
                important=True,
                acknowledge_by=T0 + 6 * DAY,
                acknowledged_at=T0 - 20 * HOUR,
                feedback_by=T0 + 89 * DAY,
                feedback_at=None,
                closed_at=None,
                due_at=T0 + 89 * DAY,
                reminded_for=T0 + 6 * DAY,
                keep_until=T0 + 400 * DAY,
            )
        ],
        "case_key_wraps": [{"case_id": CASE_3, "user_id": ANA, "wrapped": blob(80)}],
        "items": [_item(CASE_3, 0, "message"), _item(CASE_3, 1, "note", ANA)],
        "labels": [
            {"id": URGENT, "name": "urgent", "created_at": T0 - DAY},
            {"id": FOLLOW_UP, "name": "à suivre", "created_at": T0},
        ],
        "case_labels": [
            {"case_id": CASE_1, "label_id": URGENT},
            {"case_id": CASE_3, "label_id": URGENT},
            {"case_id": CASE_3, "label_id": FOLLOW_UP},
        ],
        "case_assignees": [
            {"case_id": CASE_1, "user_id": ANA},
            {"case_id": CASE_3, "user_id": ANA},
        ],
        "case_access": [
            {
                "id": ident(),
                "case_id": CASE_3,
                "user_id": ANA,
                "granted_by": None,
                "granted_at": T0 - DAY,
                "revoked_by": None,
                "revoked_at": None,
            },
            {
                "id": ident(),
                "case_id": CASE_3,
                "user_id": BEN,
                "granted_by": ANA,
                "granted_at": T0 - 20 * HOUR,
                "revoked_by": ADMIN,
                "revoked_at": T0 - 2 * HOUR,
            },
        ],
        "auto_replies": [
            {"channel_id": DEFAULT, "locale": "en", "text": "Thank you. We will reply here."},
            {"channel_id": DEFAULT, "locale": "pt_BR", "text": "Obrigado. Responderemos aqui."},
        ],
        "audit_events": [
            {
                "seq": 1,
                "at": T0 - 20 * HOUR,
                "actor_id": ANA,
                "actor": "ana",
                "action": "case.status",
                "case_id": CASE_3,
                "detail": '{"status":"in_progress"}',
                "hash": blob(32),
            },
            {
                "seq": 2,
                "at": T0 - 2 * HOUR,
                "actor_id": None,
                "actor": "",
                "action": "case.purged",
                "case_id": ident(),
                "detail": "{}",
                "hash": AUDIT_HEAD,
            },
        ],
        "audit_head": [{"id": 1, "seq": 2, "hash": AUDIT_HEAD}],
    },
    # 0007 changes no schema (it forgets sources left without a case; see its test).
    "0007": {},
    # A fourth case whose key was rotated twice (two revocations): Ana holds versions 0 and
    # 1 as past keys and version 2 as the current one; its items were sealed under 0 and 2.
    "0008": {
        "cases": [
            _case(CASE_4, "ochre plover", DEFAULT, None, created_at=T0 - 3 * DAY, key_version=2)
        ],
        "case_key_wraps": [{"case_id": CASE_4, "user_id": ANA, "wrapped": blob(1173)}],
        "case_past_key_wraps": [
            {"case_id": CASE_4, "user_id": ANA, "version": 0, "wrapped": blob(1173)},
            {"case_id": CASE_4, "user_id": ANA, "version": 1, "wrapped": blob(1173)},
        ],
        "items": [
            {**_item(CASE_4, 0, "message"), "key_version": 0},
            {**_item(CASE_4, 1, "note", ANA), "key_version": 2},
        ],
    },
    # Sealed drops: the default channel's first drop key, retired when Ben joined, and the
    # current one; the signing key and two manifest versions.
    "0009": {
        "drop_keys": [
            {
                "id": DROP_KEY_1,
                "channel_id": DEFAULT,
                "recipient": "age1pq1" + "q" * 1950,
                "created_at": T0 - 2 * DAY,
                "retired_at": T0 - DAY,
            },
            {
                "id": DROP_KEY_2,
                "channel_id": DEFAULT,
                "recipient": "age1pq1" + "p" * 1950,
                "created_at": T0 - DAY,
                "retired_at": None,
            },
        ],
        "drop_key_wraps": [
            {"drop_key_id": DROP_KEY_1, "user_id": ANA, "wrapped": blob(1173)},
            {"drop_key_id": DROP_KEY_2, "user_id": ANA, "wrapped": blob(1173)},
            {"drop_key_id": DROP_KEY_2, "user_id": BEN, "wrapped": blob(1173)},
        ],
        "signing_key": [{"id": 1, "seed": blob(32), "created_at": T0 - 2 * DAY}],
        "key_manifests": [
            {
                "version": 1,
                "digest": "a" * 64,
                "previous": None,
                "body": '{"version":1,"organisation":"Ünïcode news"}',
                "created_at": T0 - 2 * DAY - (T0 - 2 * DAY) % DAY,
            },
            {
                "version": 2,
                "digest": "b" * 64,
                "previous": "a" * 64,
                "body": '{"version":2}',
                "created_at": T0 - DAY - (T0 - DAY) % DAY,
            },
        ],
    },
    # Questionnaires: the default channel's first version, replaced by a second (current);
    # a source's draft, sealed under its session.
    "0010": {
        "questionnaires": [
            {
                "id": ident(),
                "channel_id": DEFAULT,
                "version": 1,
                "content_hash": "sha256:" + "c" * 64,
                "definition": '{"version":1,"title":{"en":"Rapport Ünïcode"},"steps":[]}',
                "current": False,
                "created_at": T0 - 2 * DAY - (T0 - 2 * DAY) % DAY,
            },
            {
                "id": QUESTIONNAIRE_V2,
                "channel_id": DEFAULT,
                "version": 2,
                "content_hash": "sha256:" + "d" * 64,
                "definition": '{"version":1,"title":{"en":"Report"},"steps":[]}',
                "current": True,
                "created_at": T0 - DAY - (T0 - DAY) % DAY,
            },
        ],
        "questionnaire_drafts": [{"session_id": DRAFT_SESSION, "data": blob(4096)}],
    },
    # Identity on request: a custodian, a case whose source chose its recipients, the
    # identity given in it, wrapped to the custodian and to a recipient she allowed, and two
    # requests (one decided, one pending). Chi's display name is what sources see.
    "0011": {
        "users": [
            _user(CUSTODIAN, "cora", "custodian", key_offline=False),
            _user(EVA, "eva", "recipient", key_offline=False, display_name="Éva (desk)"),
        ],
        "cases": [
            _case(CASE_5, "silent harbour", DEFAULT, None, key_version=0, recipients_chosen=True)
        ],
        "identities": [
            {
                "id": IDENTITY,
                "case_id": CASE_5,
                "public_key": blob(1221),
                "blob_id": secrets.token_hex(16),
                "stored_size": 4096,
                "sealed_meta": blob(96),
                "created_at": T0,
            }
        ],
        "identity_key_wraps": [
            {"identity_id": IDENTITY, "user_id": CUSTODIAN, "wrapped": blob(1173)},
            {"identity_id": IDENTITY, "user_id": EVA, "wrapped": blob(1173)},
        ],
        "identity_requests": [
            {
                "id": ident(),
                "identity_id": IDENTITY,
                "requester_id": EVA,
                "reason": blob(160),
                "reason_key_wrap": blob(1173),
                "status": status,
                "created_at": T0 + HOUR,
                "decided_by": CUSTODIAN if decided else None,
                "decided_at": T0 + 2 * HOUR if decided else None,
            }
            for status, decided in (("approved", True), ("pending", False))
        ],
    },
    "0012": {
        "localized_texts": [
            {"owner": "instance", "field": "name", "locale": "ko", "text": "예시 뉴스룸"},
            {
                "owner": "instance",
                "field": "guidance",
                "locale": "fa",
                "text": "از Tor استفاده کنید.",
            },
            {"owner": PROCUREMENT, "field": "name", "locale": "de", "text": "Beschaffung"},
            {"owner": LEGAL_REVIEW, "field": "name", "locale": "zh_Hant", "text": "法律審查"},
        ],
    },
    # A file kept in the draft (its blob), one whose session ended, and counts of answers.
    "0013": {
        "questionnaire_draft_files": [
            {"blob_id": secrets.token_hex(16), "session_id": DRAFT_SESSION},
            {"blob_id": secrets.token_hex(16), "session_id": None},
        ],
        "questionnaire_answer_counts": [
            {
                "channel_id": DEFAULT,
                "questionnaire_id": QUESTIONNAIRE_V2,
                "field_id": "kind",
                "option_id": option,
                "month": "2026-11",
                "count": count,
            }
            for option, count in (("fraud", 7), ("", 2))
        ],
    },
}


def rows_up_to(revision: str) -> list[Rows]:
    """The rows of every revision up to and including ``revision``, oldest first."""
    return [ROWS[r] for r in REVISIONS[: REVISIONS.index(revision) + 1]]
