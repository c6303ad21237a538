"""Session contents (sessions/data.py): one typed object, stored as checked JSON."""

from __future__ import annotations

import json

import pytest

from mailslot.sessions.data import BadSessionData, KeyRegistration, SessionData

pytestmark = pytest.mark.no_database


def test_every_field_survives_a_round_trip() -> None:
    data = SessionData(
        csrf="c",
        seed=b"\x00\xff" * 16,
        source_id="s",
        new_lookup=b"\x01" * 32,
        user_id="u",
        failed_logins=3,
        key_registration=KeyRegistration(b"\x02" * 32, 7),
        username="alice",
        pre_user_id="p",
        kek=b"\x03" * 32,
        challenge=b"\x04" * 32,
    )
    assert SessionData.decode(data.encode()) == data


def test_defaults_are_not_stored() -> None:
    assert SessionData().encode() == b"{}"
    assert json.loads(SessionData(user_id="u").encode()) == {"user_id": "u"}


def test_the_stored_form_is_the_one_sessions_had_before_the_type() -> None:
    """Sessions written before the type existed (JSON with base64 bytes) still open."""
    stored = {
        "user_id": "u",
        "seed": "AAEC",
        "failed_logins": 2,
        "csrf": "t",
        "webauthn_registration": {"challenge": "BAU=", "at": 9},
    }
    data = SessionData.decode(json.dumps(stored).encode())
    assert data == SessionData(
        user_id="u",
        seed=b"\x00\x01\x02",
        failed_logins=2,
        csrf="t",
        key_registration=KeyRegistration(b"\x04\x05", 9),
    )
    assert json.loads(data.encode()) == stored
    # A staff session of a key kept offline stored its seed as null.
    assert SessionData.decode(b'{"user_id":"u","seed":null}') == SessionData(user_id="u")


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"seed": 5}',
        b'{"seed": "not base64!"}',
        b'{"user_id": 1}',
        b'{"failed_logins": "2"}',
        b'{"failed_logins": true}',
        b'{"webauthn_registration": "x"}',
        b'{"webauthn_registration": {"challenge": "AA==", "at": "soon"}}',
        b'{"webauthn_registration": {"at": 1}}',
    ],
)
def test_anything_else_is_refused(raw: bytes) -> None:
    with pytest.raises(BadSessionData):
        SessionData.decode(raw)


def test_secrets_are_not_in_its_repr() -> None:
    shown = repr(SessionData(seed=b"SEEDSEED", kek=b"KEKKEK", new_lookup=b"LOOKUP", user_id="u"))
    for secret in ("SEEDSEED", "KEKKEK", "LOOKUP"):
        assert secret not in shown
    assert "user_id='u'" in shown
