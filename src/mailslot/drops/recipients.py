"""age recipients and identities, and Mailslot's drop keys.

A **drop key** is an age ``mlkem768x25519`` identity: 32 random bytes (the seed), expanded
with SHAKE256 into the ML-KEM-768 and X25519 private keys, exactly as age does. Its public
part is published as an ``age1pq1…`` recipient; its private part can be written as an
``AGE-SECRET-KEY-PQ-1…`` string, so the stock ``age`` tool opens drops with it too. Its seed
is 32 bytes like a case key's, so it is wrapped to recipients the same way.

A Mailslot recipient key (:class:`mailslot.crypto.KeyPair`) uses the same KEM and the same
public-key layout, so its public key is also a valid ``age1pq1`` recipient and its private
key opens stanzas sealed to it (:meth:`PqIdentity.from_mailslot_key`). But its seed expands
with HKDF, not SHAKE256, so it has no age identity string: for drops, use drop keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from mailslot.crypto import age as agecrypto
from mailslot.crypto import keys as mailslot_keys
from mailslot.crypto.errors import DecryptionError, EncodingError
from mailslot.crypto.random import RandomSource, system_random
from mailslot.drops import bech32
from mailslot.drops.errors import HeaderInvalid, RecipientInvalid
from mailslot.drops.header import Stanza, b64decode, b64encode

PQ_RECIPIENT_HRP: Final = "age1pq"
PQ_IDENTITY_HRP: Final = "age-secret-key-pq-"
X25519_IDENTITY_HRP: Final = "age-secret-key-"
PQ_STANZA: Final = "mlkem768x25519"
X25519_STANZA: Final = "X25519"


@dataclass(frozen=True, slots=True)
class PqRecipient:
    """An ``mlkem768x25519`` recipient: the ML-KEM-768 encapsulation key, then X25519's."""

    public_key: bytes

    def __post_init__(self) -> None:
        try:
            agecrypto.check_pq_recipient(self.public_key)
        except EncodingError:
            raise RecipientInvalid("not an mlkem768x25519 public key") from None

    def __str__(self) -> str:
        return bech32.encode(PQ_RECIPIENT_HRP, self.public_key)

    @classmethod
    def parse(cls, text: str) -> PqRecipient:
        """From an ``age1pq1…`` string; raises :class:`RecipientInvalid`."""
        hrp, data = bech32.decode(text.strip())
        if hrp != PQ_RECIPIENT_HRP or text.strip() != text.strip().lower():
            raise RecipientInvalid("not an age1pq1 recipient")
        return cls(data)

    @classmethod
    def from_mailslot_public_key(cls, public_key: bytes) -> PqRecipient:
        """A Mailslot public key (``MSLK`` and version byte, then the same bytes)."""
        magic = mailslot_keys.PUBLIC_KEY_MAGIC
        if not public_key.startswith(magic):
            raise RecipientInvalid("not a Mailslot public key")
        return cls(public_key[len(magic) :])

    def wrap(self, file_key: bytes) -> Stanza:
        enc, body = agecrypto.pq_wrap(self.public_key, file_key)
        return Stanza((PQ_STANZA, b64encode(enc).decode("ascii")), body)


class Identity(Protocol):
    """Something that may open a stanza. ``unwrap`` returns the file key, or ``None`` for a
    stanza of another type or for another key; it raises :class:`HeaderInvalid` for a
    stanza of its own type that breaks the type's rules."""

    def unwrap(self, stanza: Stanza) -> bytes | None: ...


class PqIdentity:
    """An ``mlkem768x25519`` identity."""

    __slots__ = ("_key",)

    def __init__(self, key: agecrypto.PqPrivateKey) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "PqIdentity(<secret>)"

    @classmethod
    def parse(cls, text: str) -> PqIdentity:
        """From an ``AGE-SECRET-KEY-PQ-1…`` string; raises :class:`RecipientInvalid`."""
        hrp, data = bech32.decode(text.strip())
        if hrp != PQ_IDENTITY_HRP or len(data) != agecrypto.IDENTITY_SIZE:
            raise RecipientInvalid("not an AGE-SECRET-KEY-PQ-1 identity")
        return cls(agecrypto.PqPrivateKey.from_identity(data))

    @classmethod
    def from_mailslot_key(cls, key: mailslot_keys.KeyPair) -> PqIdentity:
        return cls(agecrypto.PqPrivateKey.from_mailslot_seed(key.seed))

    @property
    def recipient(self) -> PqRecipient:
        return PqRecipient(self._key.public_bytes)

    def unwrap(self, stanza: Stanza) -> bytes | None:
        if stanza.type != PQ_STANZA:
            return None
        if len(stanza.args) != 2:
            raise HeaderInvalid("an mlkem768x25519 stanza has two arguments")
        enc = b64decode(stanza.args[1].encode("ascii"))
        if len(enc) != agecrypto.PQ_ENC_SIZE:
            raise HeaderInvalid("an mlkem768x25519 share is 1120 bytes")
        if len(stanza.body) != agecrypto.WRAPPED_FILE_KEY_SIZE:
            raise HeaderInvalid("an mlkem768x25519 body is 32 bytes")
        try:
            self._key.check_share(enc)
        except DecryptionError:
            raise HeaderInvalid("an mlkem768x25519 share with a low-order X25519 point") from None
        try:
            return self._key.unwrap(enc, stanza.body)
        except DecryptionError:
            return None


class X25519Identity:
    """An age ``X25519`` identity: Mailslot never seals to one, but opens files sealed to
    one, so that the format vectors of age's test kit (written with X25519) run too."""

    __slots__ = ("_key",)

    def __init__(self, key: agecrypto.X25519PrivateKey) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "X25519Identity(<secret>)"

    @classmethod
    def parse(cls, text: str) -> X25519Identity:
        hrp, data = bech32.decode(text.strip())
        if hrp != X25519_IDENTITY_HRP or len(data) != agecrypto.IDENTITY_SIZE:
            raise RecipientInvalid("not an AGE-SECRET-KEY-1 identity")
        return cls(agecrypto.X25519PrivateKey(data))

    def unwrap(self, stanza: Stanza) -> bytes | None:
        if stanza.type != X25519_STANZA:
            return None
        if len(stanza.args) != 2:
            raise HeaderInvalid("an X25519 stanza has two arguments")
        share = b64decode(stanza.args[1].encode("ascii"))
        if len(share) != agecrypto.X25519_SIZE:
            raise HeaderInvalid("an X25519 share is 32 bytes")
        if len(stanza.body) != agecrypto.WRAPPED_FILE_KEY_SIZE:
            raise HeaderInvalid("an X25519 body is 32 bytes")
        try:
            secret = self._key.shared_secret(share)
        except DecryptionError:
            raise HeaderInvalid("an X25519 share that is a low-order point") from None
        try:
            return self._key.unwrap(share, secret, stanza.body)
        except DecryptionError:
            return None


def parse_identity(text: str) -> PqIdentity | X25519Identity:
    """An identity string of either type age defines keys for (not plugins)."""
    hrp, _ = bech32.decode(text.strip())
    if hrp == PQ_IDENTITY_HRP:
        return PqIdentity.parse(text)
    if hrp == X25519_IDENTITY_HRP:
        return X25519Identity.parse(text)
    raise RecipientInvalid("not an age identity")


@dataclass(frozen=True, slots=True, repr=False)
class DropKeyPair:
    """A channel's drop key: an age ``mlkem768x25519`` identity and its recipient.

    ``seed`` is the 32-byte identity, the only secret to store (wrapped, like a case key).
    """

    seed: bytes

    def __repr__(self) -> str:
        return "DropKeyPair(<secret>)"

    def __post_init__(self) -> None:
        if len(self.seed) != agecrypto.IDENTITY_SIZE:
            raise RecipientInvalid("a drop key seed is 32 bytes")

    @classmethod
    def generate(cls, rng: RandomSource = system_random) -> DropKeyPair:
        return cls(rng(agecrypto.IDENTITY_SIZE))

    @classmethod
    def parse_identity(cls, text: str) -> DropKeyPair:
        """From an ``AGE-SECRET-KEY-PQ-1…`` string (made by Mailslot or by ``age-keygen``)."""
        hrp, data = bech32.decode(text.strip())
        if hrp != PQ_IDENTITY_HRP:
            raise RecipientInvalid("not an AGE-SECRET-KEY-PQ-1 identity")
        return cls(data)

    @property
    def identity(self) -> PqIdentity:
        return PqIdentity(agecrypto.PqPrivateKey.from_identity(self.seed))

    @property
    def recipient(self) -> PqRecipient:
        return self.identity.recipient

    def identity_string(self) -> str:
        """The secret key as age writes it (upper case). Handle like any private key."""
        return bech32.encode(PQ_IDENTITY_HRP, self.seed).upper()
