"""Sealed drops: age v1 files (c2sp.org/age) sealed to a channel's post-quantum drop key,
and the signed key manifests that say which drop keys are the organisation's own.

This package works offline and touches no database; the spec is
``docs/spec/sealed-drops.md``. What the rest of Mailslot calls:

- keys: :class:`DropKeyPair` (``generate``, ``seed``, ``recipient``, ``identity``,
  ``identity_string``), :class:`PqRecipient` (``parse``, ``str``), :class:`PqIdentity`
  (``parse``, ``from_mailslot_key``), :func:`parse_identity`;
- age files: :class:`DropWriter` and :func:`seal_stream` to seal, :func:`open_file`,
  :func:`open_stream` and :class:`DropReader` to open, :func:`parse_header` and
  :func:`looks_like_age` to recognise an upload without a key;
- a drop's contents: :func:`write_drop`, :func:`read_drop`, :func:`looks_like_tar`;
- manifests: :func:`make_manifest`, :func:`verify_chain`, :func:`load_chain`,
  :func:`chain_json`, :func:`recipient_fingerprint`, :class:`SeenManifests`.
"""

from mailslot.drops.age import (
    DropReader,
    DropWriter,
    looks_like_age,
    open_file,
    open_stream,
    parse_header,
    seal_stream,
)
from mailslot.drops.contents import DropEntry, looks_like_tar, read_drop, write_drop
from mailslot.drops.errors import (
    AgeFormatError,
    ArmorInvalid,
    ChainInvalid,
    DropContentsInvalid,
    DropError,
    HeaderInvalid,
    HeaderMacInvalid,
    ManifestError,
    ManifestForked,
    ManifestInvalid,
    NoMatchingKey,
    PayloadDamaged,
    RecipientInvalid,
    SignatureInvalid,
)
from mailslot.drops.manifest import (
    ChannelEntry,
    Manifest,
    RecipientEntry,
    chain_json,
    load_chain,
    make_manifest,
    normalise_fingerprint,
    recipient_fingerprint,
    verify_chain,
)
from mailslot.drops.recipients import (
    DropKeyPair,
    Identity,
    PqIdentity,
    PqRecipient,
    X25519Identity,
    parse_identity,
)
from mailslot.drops.seen import SeenManifests, SeenReport, default_directory

__all__ = [
    "AgeFormatError",
    "ArmorInvalid",
    "ChainInvalid",
    "ChannelEntry",
    "DropContentsInvalid",
    "DropEntry",
    "DropError",
    "DropKeyPair",
    "DropReader",
    "DropWriter",
    "HeaderInvalid",
    "HeaderMacInvalid",
    "Identity",
    "Manifest",
    "ManifestError",
    "ManifestForked",
    "ManifestInvalid",
    "NoMatchingKey",
    "PayloadDamaged",
    "PqIdentity",
    "PqRecipient",
    "RecipientEntry",
    "RecipientInvalid",
    "SeenManifests",
    "SeenReport",
    "SignatureInvalid",
    "X25519Identity",
    "chain_json",
    "default_directory",
    "load_chain",
    "looks_like_age",
    "looks_like_tar",
    "make_manifest",
    "normalise_fingerprint",
    "open_file",
    "open_stream",
    "parse_header",
    "parse_identity",
    "read_drop",
    "recipient_fingerprint",
    "seal_stream",
    "verify_chain",
    "write_drop",
]
