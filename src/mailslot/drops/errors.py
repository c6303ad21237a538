"""Errors of sealed drops.

    MailslotError
    └── DropError
        ├── RecipientInvalid      a recipient or identity string that is not a valid age key
        ├── AgeFormatError        the file is not a well-formed age v1 file
        │   ├── ArmorInvalid      ASCII armor that is not strict PEM
        │   └── HeaderInvalid     the header does not parse, or a stanza breaks its rules
        ├── NoMatchingKey         no stanza opens with the identities given ("sealed to a key
        │                         this channel does not hold")
        ├── HeaderMacInvalid      a file key opened, but the header was changed
        ├── PayloadDamaged        a payload chunk fails, or the payload is truncated
        ├── DropContentsInvalid   the decrypted tar does not follow the drop layout
        └── ManifestError         a key manifest that must not be trusted
            ├── ManifestInvalid   not a manifest of this format (shape, types, encodings)
            ├── SignatureInvalid  a manifest's signature does not verify, or is by another key
            ├── ChainInvalid      versions that do not follow each other or do not link
            └── ManifestForked    two different manifests with the same version and key

age distinguishes these failures on purpose (its test kit checks that a parse error is not
reported as a MAC failure): an age file is opened by its holder, and telling "not for this
key" from "damaged" is what a recipient needs to know. Each carries an English message for
the CLI; the web layer maps the classes to its own translated text.
"""

from __future__ import annotations

from mailslot.errors import MailslotError


class DropError(MailslotError):
    """Root of the errors of :mod:`mailslot.drops`."""


class RecipientInvalid(DropError):
    pass


class AgeFormatError(DropError):
    pass


class ArmorInvalid(AgeFormatError):
    pass


class HeaderInvalid(AgeFormatError):
    pass


class NoMatchingKey(DropError):
    pass


class HeaderMacInvalid(DropError):
    pass


class PayloadDamaged(DropError):
    pass


class DropContentsInvalid(DropError):
    pass


class ManifestError(DropError):
    pass


class ManifestInvalid(ManifestError):
    pass


class SignatureInvalid(ManifestError):
    pass


class ChainInvalid(ManifestError):
    pass


class ManifestForked(ManifestError):
    pass
