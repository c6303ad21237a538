"""Session contents (sessions/data.py): one typed object, stored as checked JSON padded to one
size."""

from __future__ import annotations

import json

import pytest

from mailslot.sessions.data import (
    BODY_SIZE,
    BadSessionData,
    KeyRegistration,
    SessionData,
    SessionDataTooLarge,
)

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


# The body: JSON padded to one size, so a stored session's length tells nothing.

EVERY_FIELD = SessionData(
    csrf="c" * 32,
    seed=b"\x05" * 32,
    source_id="s" * 36,
    new_lookup=b"\x06" * 32,
    user_id="u" * 36,
    failed_logins=10**9,
    key_registration=KeyRegistration(b"\x07" * 32, 10**10),
    username="a" * 64,
    pre_user_id="p" * 36,
    kek=b"\x08" * 32,
    challenge=b"\x09" * 32,
)


@pytest.mark.parametrize("data", [SessionData(), SessionData(user_id="u"), EVERY_FIELD])
def test_every_body_has_one_size_and_opens(data: SessionData) -> None:
    body = data.body()
    assert len(body) == BODY_SIZE
    assert body == data.encode() + bytes(BODY_SIZE - len(data.encode()))
    assert SessionData.from_body(body) == data


def test_a_session_with_every_field_at_its_largest_fits() -> None:
    assert len(EVERY_FIELD.encode()) < 700


def test_data_too_large_for_a_body_is_never_stored() -> None:
    fits = SessionData(username="x" * (BODY_SIZE - 1 - len(b'{"username":""}')))
    assert len(fits.encode()) == BODY_SIZE - 1
    assert SessionData.from_body(fits.body()) == fits
    too_large = SessionData(username="x" * (BODY_SIZE - len(b'{"username":""}')))
    with pytest.raises(SessionDataTooLarge):
        too_large.body()


GOOD = SessionData(user_id="u").body()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"user_id":"u"}', id="unpadded"),
        pytest.param(GOOD[:-1], id="one-short"),
        pytest.param(GOOD + b"\x00", id="one-long"),
        pytest.param(GOOD[:-1] + b"\x01", id="non-zero-last-byte"),
        pytest.param(GOOD[:20] + b"x" + GOOD[21:], id="non-zero-after-the-json"),
        pytest.param(bytes(BODY_SIZE), id="no-json"),
        pytest.param(b"{" + b" " * (BODY_SIZE - 2) + b"}", id="no-zero-byte"),
        pytest.param(b"[]" + bytes(BODY_SIZE - 2), id="not-an-object"),
    ],
)
def test_a_body_that_breaks_the_padding_rules_is_refused(body: bytes) -> None:
    with pytest.raises(BadSessionData):
        SessionData.from_body(body)


def test_a_new_source_session_with_the_longest_codename_fits() -> None:
    """Until the first submission a source's session keeps its codename (to show it again):
    the longest any list can make, with every other field a new source has, still fits."""
    from mailslot.sources.codenames import all_wordlists

    longest = max(
        (
            chosen.separator.join([max(chosen.words, key=lambda w: len(json.dumps(w)))] * n)
            for chosen in all_wordlists()
            for n in (chosen.codename_words,)
        ),
        key=lambda c: len(json.dumps(c)),
    )
    data = SessionData(csrf="c" * 32, seed=b"\x05" * 32, new_lookup=b"\x06" * 32, codename=longest)
    assert len(data.encode()) < BODY_SIZE - 100
    assert SessionData.from_body(data.body()) == data
