"""What a session holds, as one typed object: :class:`SessionData`.

Every kind of session (source, staff, API token, the pre-login step of a security-key
login) uses some of the fields; the others keep their defaults and are not stored. The
stored form is a JSON object (sealed under the session's token by
:mod:`mailslot.sessions.services`) with bytes in standard base64; decoding checks the type
of every field and refuses anything else, so a session that does not decode is treated as
no session at all.

What is sealed is the *body* (:meth:`SessionData.body`): that JSON followed by zero bytes to
exactly :data:`BODY_SIZE` bytes, so every stored session has one length whatever its kind
(a source with a codename but nothing sent yet, a source that has sent, staff, API token,
pre-login). Opening checks the padding (:meth:`SessionData.from_body`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field, fields
from typing import Final

from mailslot.errors import MailslotError

# The length of every session body. The largest session (a pre-login one with every field
# set) takes under 700 bytes of JSON.
BODY_SIZE: Final = 1024
# How many send tokens a source's session remembers (each at most 43 characters).
SENT_TOKENS: Final = 8


class BadSessionData(MailslotError):
    """Stored session data that does not decode (an older format, or damage): the session
    is then treated as no session at all."""


class SessionDataTooLarge(MailslotError):
    """Session data whose JSON, and the zero byte that ends it, do not fit in
    :data:`BODY_SIZE` bytes: never stored, since a longer body would tell this session from
    the others."""


@dataclass(frozen=True, slots=True)
class KeyRegistration:
    """A security-key registration offered on the keys page: its challenge and when."""

    challenge: bytes = field(repr=False)
    at: int


@dataclass(slots=True)
class SessionData:
    """A session's contents. Seeds and key-encryption keys never leave the sealed row."""

    csrf: str = ""
    # Source: the codename's key seed. Staff and API: the account's unwrapped private seed
    # (None while the account's key is offline: nothing can be decrypted on the server).
    seed: bytes | None = field(default=None, repr=False)
    # Source: the source, once the first submission made it (or a login found it) ...
    source_id: str | None = None
    # ... and, before that, the codename's lookup tag for the source row to be made, and the
    # codename itself, so that the page showing it can show the same one again (in another
    # language, say) until the first submission, which forgets it.
    new_lookup: bytes | None = field(default=None, repr=False)
    codename: str = field(default="", repr=False)
    # Source: the send tokens of this session's latest submissions (space-separated, newest
    # last, at most SENT_TOKENS), so that a form sent twice stores one submission.
    sent: str = ""
    # Staff and API: the account.
    user_id: str | None = None
    # Staff: failed logins before this one, told once on the first page.
    failed_logins: int = 0
    # Staff: the security-key registration the keys page offered last.
    key_registration: KeyRegistration | None = None
    # Pre-login (security-key login): the account and password KEK waiting for the key.
    username: str = ""
    pre_user_id: str | None = None
    kek: bytes | None = field(default=None, repr=False)
    challenge: bytes | None = field(default=None, repr=False)

    def encode(self) -> bytes:
        out: dict[str, object] = {}
        for name in _NAMES:
            value = getattr(self, name)
            if value == _DEFAULTS[name]:
                continue
            if isinstance(value, bytes):
                value = _b64(value)
            elif isinstance(value, KeyRegistration):
                value = {"challenge": _b64(value.challenge), "at": value.at}
            out[_STORED.get(name, name)] = value
        return json.dumps(out, separators=(",", ":")).encode()

    def body(self) -> bytes:
        """The JSON padded with zero bytes to exactly :data:`BODY_SIZE` bytes (JSON as written
        here is ASCII and never holds a zero byte, so the first zero ends it)."""
        encoded = self.encode()
        if len(encoded) >= BODY_SIZE:  # at least one zero byte ends the JSON
            raise SessionDataTooLarge
        return encoded + bytes(BODY_SIZE - len(encoded))

    @classmethod
    def from_body(cls, body: bytes) -> SessionData:
        """Refuse a body that is not exactly :data:`BODY_SIZE` bytes, has no JSON before its
        first zero byte, or has any non-zero byte after it; then decode the JSON."""
        end = body.find(b"\x00")
        if len(body) != BODY_SIZE or end < 1 or body.count(0, end) != BODY_SIZE - end:
            raise BadSessionData
        return cls.decode(body[:end])

    @classmethod
    def decode(cls, raw: bytes) -> SessionData:
        try:
            stored: object = json.loads(raw)
        except ValueError:
            raise BadSessionData from None
        if not isinstance(stored, dict):
            raise BadSessionData
        data = cls()
        for name in _NAMES:
            key = _STORED.get(name, name)
            if key in stored and stored[key] is not None:
                setattr(data, name, _decode_field(name, stored[key]))
        return data


# Field names as stored, where they differ (kept from before the type existed).
_STORED: Final = {"key_registration": "webauthn_registration"}
_NAMES: Final = tuple(f.name for f in fields(SessionData))
_DEFAULTS: Final = {f.name: getattr(SessionData(), f.name) for f in fields(SessionData)}
_BYTES: Final = frozenset({"seed", "new_lookup", "kek", "challenge"})
_TEXT: Final = frozenset(
    {"csrf", "source_id", "user_id", "username", "pre_user_id", "codename", "sent"}
)


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise BadSessionData
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadSessionData from None


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadSessionData
    return value


def _decode_field(name: str, value: object) -> object:
    if name in _BYTES:
        return _unb64(value)
    if name in _TEXT:
        if not isinstance(value, str):
            raise BadSessionData
        return value
    if name == "failed_logins":
        return _int(value)
    if not isinstance(value, dict):  # key_registration
        raise BadSessionData
    return KeyRegistration(challenge=_unb64(value.get("challenge")), at=_int(value.get("at")))
