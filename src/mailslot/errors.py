"""The root of every error Mailslot raises on purpose, and the tree of every package's errors.

    MailslotError
    ├── ConfigError                   mailslot.config: a setting is missing or invalid
    ├── ServiceError                  a request the domain refuses; carries a translatable message
    │   ├── NotFound                  no such thing, or not visible to this principal
    │   │   ├── cases.CaseNotFound    no such case, or no access to it
    │   │   └── cases.ItemNotFound    no such item
    │   ├── Forbidden                 visible but not allowed
    │   │   ├── cases.ChannelClosed   the channel takes no submissions now
    │   │   ├── cases.KeyOffline      the recipient's key is offline; decrypt an export instead
    │   │   └── web.CsrfError         a form that expired or came from elsewhere
    │   ├── InvalidInput              a field is missing, too long or malformed
    │   │   └── questionnaires.QuestionnaireError  a questionnaire definition that is not valid
    │   ├── Conflict                  a name is taken, a token was already used
    │   ├── AuthenticationFailed      wrong password, code or codename (one message for all)
    │   ├── TooLarge                  an upload exceeds a configured limit
    │   ├── TooManyRequests           a rate limit or an account's login throttle; retry later
    │   └── orgs.QuotaReached         the organisation's storage or case quota is full
    ├── StorageError                  mailslot.storage: the blob store failed
    ├── db.CloneError                 mailslot.db: a template schema holds what a copy cannot make
    ├── crypto.CryptoError            mailslot.crypto: DecryptionError (opaque), EncodingError
    ├── audit.ChainBroken             mailslot.audit: the audit trail's hash chain does not verify
    ├── backup.BackupError            mailslot.backup: a backup or restore cannot go ahead
    ├── documents.DocumentError       mailslot.documents: a document cannot be inspected or cleaned
    ├── sessions.BadSessionData       mailslot.sessions: stored session data that does not decode
    ├── sessions.SessionDataTooLarge  mailslot.sessions: session data over the fixed body size
    ├── orgs.OrgError                 mailslot.orgs: the host operator's change cannot go ahead
    ├── offline.BundleDamaged         mailslot.offline: an export bundle's framing is broken
    └── drops.DropError               mailslot.drops: an age file, a drop or a key manifest

A package with its own ``errors`` module (crypto, backup, audit, drops) draws its subtree there.
This module imports nothing, so that every package can derive from it, the crypto core included.
``tests/unit/test_errors.py`` checks that every exception class in Mailslot is in this tree and
that the drawing above names every package's root.

HTTP status codes for these are chosen in one place: ``mailslot.web.errors``.
"""

from __future__ import annotations


class MailslotError(Exception):
    """Root of Mailslot's own errors."""


class ConfigError(MailslotError):
    """A configuration value is missing or invalid."""


class ServiceError(MailslotError):
    """A domain rule refused the request. ``message`` is an untranslated gettext msgid, or
    for a message that counts something its singular and plural msgids
    (``i18n.N_plural``), with the count as the ``num`` parameter: ``ngettext`` chooses the
    form (``message`` then holds the singular, ``plural`` the plural)."""

    def __init__(self, message: str | tuple[str, str], **params: object) -> None:
        singular, plural = (message, None) if isinstance(message, str) else message
        super().__init__(singular)
        self.message = singular
        self.plural = plural
        self.params = params


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class InvalidInput(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class AuthenticationFailed(ServiceError):
    pass


class TooLarge(ServiceError):
    pass


class StorageError(MailslotError):
    """The blob store could not complete an operation."""


class TooManyRequests(ServiceError):
    """Refused for now; ``retry_after`` says in how many seconds trying again makes sense."""

    def __init__(
        self, message: str | tuple[str, str], *, retry_after: int, **params: object
    ) -> None:
        super().__init__(message, **params)
        self.retry_after = max(1, int(retry_after))
