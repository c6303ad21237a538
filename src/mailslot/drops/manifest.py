"""Signed key manifests: what an organisation publishes at ``/keys.json`` so that anyone can
check, offline, which drop recipients are really its own (``docs/spec/sealed-drops.md``).

Each manifest names the organisation, every channel's drop recipient, every recipient's
public-key fingerprint and the day it was made, and is signed with the organisation's
signing key (Ed25519 and ML-DSA-65, :mod:`mailslot.crypto.signing`). Versions count from 1;
each names the hash of the one before, so the published history is an append-only chain.
A chain verifies when every signature verifies, every version is signed by the same key,
the versions are consecutive from 1, and each links to the hash of the one before it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from mailslot import framing
from mailslot.crypto import derive, keyfile
from mailslot.crypto import signing as sig
from mailslot.crypto.errors import BadSignature, EncodingError
from mailslot.drops.errors import (
    ChainInvalid,
    ManifestInvalid,
    RecipientInvalid,
    SignatureInvalid,
)
from mailslot.drops.recipients import PqRecipient

FORMAT: Final = "mailslot-key-manifest/v1"
CHAIN_FORMAT: Final = "mailslot-key-manifests/v1"
SIGNING_CONTEXT: Final = b"mailslot/v1/key-manifest"
_DIGEST_LABEL: Final = b"key-manifest"
MAX_CHAIN_BYTES: Final = 16 * 1024 * 1024
MAX_NAME: Final = 200
_FIELDS: Final = frozenset(
    {
        "format",
        "version",
        "previous",
        "organisation",
        "created",
        "signing_key",
        "channels",
        "recipients",
        "signatures",
    }
)


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    name: str
    drop_recipient: str  # an age1pq1 string


@dataclass(frozen=True, slots=True)
class RecipientEntry:
    name: str  # a stable opaque id (``recipient-…``); versions before it held usernames
    fingerprint: str  # mailslot.crypto.format_fingerprint of the recipient's public key


def canonical(obj: dict[str, Any]) -> bytes:
    """JSON with sorted keys, no spaces, UTF-8: the bytes that are signed and hashed."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def format_fingerprint(key: sig.SigningPublicKey) -> str:
    """The signing key's fingerprint as people compare it (hex in groups of four)."""
    return keyfile.format_fingerprint(key.fingerprint())


def normalise_fingerprint(text: str) -> str:
    """A fingerprint as typed (any case, spaces, dashes or colons) in the printed form."""
    compact = "".join(c for c in text.lower() if c not in " -:\t\n")
    if len(compact) != 2 * sig.FINGERPRINT_SIZE or any(
        c not in "0123456789abcdef" for c in compact
    ):
        raise ManifestInvalid("a signing-key fingerprint is 40 hexadecimal digits")
    return _groups(compact)


def _groups(compact: str) -> str:
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def recipient_fingerprint(public_key: bytes) -> str:
    """A Mailslot recipient's public-key fingerprint, as ``mailslot keys export`` shows it."""
    return keyfile.format_fingerprint(keyfile.key_fingerprint(public_key))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ManifestInvalid("expected base64 text")
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ManifestInvalid("bad base64") from None
    if _b64(data) != value:
        raise ManifestInvalid("non-canonical base64")
    return data


@dataclass(frozen=True, slots=True)
class Manifest:
    version: int
    previous: str | None  # the hex digest of version - 1, None for version 1
    organisation: str
    created: str  # the UTC day, YYYY-MM-DD
    signing_key: sig.SigningPublicKey
    channels: tuple[ChannelEntry, ...]
    recipients: tuple[RecipientEntry, ...]
    signature: sig.Signature

    def unsigned_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "previous": self.previous,
            "organisation": self.organisation,
            "created": self.created,
            "signing_key": {
                "ed25519": _b64(self.signing_key.ed25519),
                "ml_dsa_65": _b64(self.signing_key.ml_dsa_65),
            },
            "channels": [
                {"name": c.name, "drop_recipient": c.drop_recipient} for c in self.channels
            ],
            "recipients": [{"name": r.name, "fingerprint": r.fingerprint} for r in self.recipients],
        }

    def to_json(self) -> dict[str, Any]:
        signatures = {
            "ed25519": _b64(self.signature.ed25519),
            "ml_dsa_65": _b64(self.signature.ml_dsa_65),
        }
        return {**self.unsigned_json(), "signatures": signatures}

    def digest(self) -> str:
        """What the next version names as ``previous``: SHA-256, labelled, of the whole
        signed manifest's canonical bytes, in hex."""
        return derive.digest(_DIGEST_LABEL, canonical(self.to_json())).hex()

    @property
    def fingerprint(self) -> str:
        return format_fingerprint(self.signing_key)

    def channel(self, name: str) -> ChannelEntry:
        for entry in self.channels:
            if entry.name == name:
                return entry
        raise ManifestInvalid(f"the manifest has no channel named {name!r}")

    def verify(self) -> None:
        """Raise :class:`SignatureInvalid` unless the manifest's own signature verifies."""
        try:
            self.signing_key.verify(
                self.signature, canonical(self.unsigned_json()), SIGNING_CONTEXT
            )
        except BadSignature:
            raise SignatureInvalid(
                f"version {self.version}: the signature does not verify"
            ) from None

    @classmethod
    def from_json(cls, obj: object) -> Manifest:
        """Parse one manifest strictly; raises :class:`ManifestInvalid`. Does not verify."""
        if not isinstance(obj, dict) or set(obj) != _FIELDS or obj["format"] != FORMAT:
            raise ManifestInvalid("not a key manifest of this format")
        version, previous = obj["version"], obj["previous"]
        if type(version) is not int or version < 1:
            raise ManifestInvalid("a version is a whole number from 1")
        if not (previous is None or _is_hex_digest(previous)):
            raise ManifestInvalid("previous is null or a hex SHA-256 digest")
        try:
            signing_key = sig.SigningPublicKey(
                _unb64(_field(obj["signing_key"], "ed25519")),
                _unb64(_field(obj["signing_key"], "ml_dsa_65")),
            )
            signature = sig.Signature(
                _unb64(_field(obj["signatures"], "ed25519")),
                _unb64(_field(obj["signatures"], "ml_dsa_65")),
            )
        except EncodingError:
            raise ManifestInvalid("a key or signature of the wrong size") from None
        return cls(
            version=version,
            previous=previous,
            organisation=_name(obj["organisation"]),
            created=_day(obj["created"]),
            signing_key=signing_key,
            channels=tuple(_channel(c) for c in _list(obj["channels"])),
            recipients=tuple(_recipient(r) for r in _list(obj["recipients"])),
            signature=signature,
        )


def _field(obj: object, key: str) -> object:
    if not isinstance(obj, dict) or set(obj) != {"ed25519", "ml_dsa_65"}:
        raise ManifestInvalid("keys and signatures have exactly ed25519 and ml_dsa_65")
    return obj[key]


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise ManifestInvalid("expected a list")
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise ManifestInvalid("a name is text of 1 to 200 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ManifestInvalid("a name has no control characters")
    return value


def _day(value: object) -> str:
    try:
        if (
            isinstance(value, str)
            and datetime.strptime(value, "%Y-%m-%d").strftime("%Y-%m-%d") == value
        ):
            return value
    except ValueError:
        pass
    raise ManifestInvalid("created is a day, YYYY-MM-DD")


def _is_hex_digest(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _channel(value: object) -> ChannelEntry:
    if not isinstance(value, dict) or set(value) != {"name", "drop_recipient"}:
        raise ManifestInvalid("a channel has exactly a name and a drop_recipient")
    recipient = value["drop_recipient"]
    if not isinstance(recipient, str):
        raise ManifestInvalid("a drop recipient is an age1pq1 string")
    try:
        canonical_text = str(PqRecipient.parse(recipient))
    except RecipientInvalid:
        raise ManifestInvalid("a drop recipient is not a valid age1pq1 recipient") from None
    if canonical_text != recipient:
        raise ManifestInvalid("a drop recipient is written in lower case")
    return ChannelEntry(_name(value["name"]), recipient)


def _recipient(value: object) -> RecipientEntry:
    if not isinstance(value, dict) or set(value) != {"name", "fingerprint"}:
        raise ManifestInvalid("a recipient has exactly a name and a fingerprint")
    fingerprint = value["fingerprint"]
    compact = fingerprint.replace(" ", "") if isinstance(fingerprint, str) else ""
    if not _is_hex_digest(compact) or _groups(compact) != fingerprint:
        raise ManifestInvalid("a recipient fingerprint is 64 hex digits in groups of four")
    return RecipientEntry(_name(value["name"]), fingerprint)


def _today(now: datetime) -> str:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m-%d")


def make_manifest(
    key: sig.SigningKey,
    *,
    previous: Manifest | None,
    organisation: str,
    channels: Sequence[ChannelEntry],
    recipients: Sequence[RecipientEntry],
    now: datetime,
) -> Manifest:
    """The next version after ``previous`` (or version 1), signed with ``key``, which must
    be the key that signed ``previous``."""
    public = key.public_key
    if previous is not None and previous.signing_key != public:
        raise SignatureInvalid("the next version must be signed by the same key")
    draft = Manifest.from_json(
        {
            "format": FORMAT,
            "version": 1 if previous is None else previous.version + 1,
            "previous": None if previous is None else previous.digest(),
            "organisation": organisation,
            "created": _today(now),
            "signing_key": {"ed25519": _b64(public.ed25519), "ml_dsa_65": _b64(public.ml_dsa_65)},
            "channels": [{"name": c.name, "drop_recipient": c.drop_recipient} for c in channels],
            "recipients": [{"name": r.name, "fingerprint": r.fingerprint} for r in recipients],
            "signatures": {
                "ed25519": _b64(bytes(sig.ED25519_SIGNATURE_SIZE)),
                "ml_dsa_65": _b64(bytes(sig.MLDSA65_SIGNATURE_SIZE)),
            },
        }
    )
    signature = key.sign(canonical(draft.unsigned_json()), SIGNING_CONTEXT)
    return dataclasses.replace(draft, signature=signature)


def verify_chain(manifests: Sequence[Manifest], fingerprint: str | None = None) -> Manifest:
    """Verify a whole chain (every version from 1) and return its latest version.

    With ``fingerprint``, the signing key must also be the one it names (as printed on a
    drop card or on ``/keys``). Raises :class:`ChainInvalid`, :class:`SignatureInvalid`.
    """
    if not manifests:
        raise ChainInvalid("the chain is empty")
    key = manifests[0].signing_key
    if fingerprint is not None and format_fingerprint(key) != normalise_fingerprint(fingerprint):
        raise SignatureInvalid("the manifest is signed by another key than the fingerprint names")
    previous: Manifest | None = None
    for manifest in manifests:
        if manifest.signing_key != key:
            raise SignatureInvalid(f"version {manifest.version} is signed by another key")
        manifest.verify()
        expected_version = 1 if previous is None else previous.version + 1
        if manifest.version != expected_version:
            raise ChainInvalid(f"version {manifest.version} where {expected_version} should be")
        expected_link = None if previous is None else previous.digest()
        if manifest.previous != expected_link:
            raise ChainInvalid(f"version {manifest.version} does not link to the version before")
        previous = manifest
    assert previous is not None  # noqa: S101 - the chain is not empty
    return previous


def chain_json(manifests: Sequence[Manifest]) -> bytes:
    """The chain file (``/keys.json``): ``{"format": …, "versions": [v1, v2, …]}``."""
    body = {"format": CHAIN_FORMAT, "versions": [m.to_json() for m in manifests]}
    return json.dumps(body, ensure_ascii=False, indent=1).encode() + b"\n"


def load_chain(data: bytes) -> list[Manifest]:
    """Parse a chain file strictly (no verification); raises :class:`ManifestInvalid`."""
    if len(data) > MAX_CHAIN_BYTES:
        raise ManifestInvalid("the manifest file is too large")
    obj = framing.decode(data, malformed=lambda: ManifestInvalid("not a JSON manifest file"))
    if set(obj) != {"format", "versions"} or obj["format"] != CHAIN_FORMAT:
        raise ManifestInvalid("not a key manifest file of this format")
    return [Manifest.from_json(m) for m in _list(obj["versions"])]
