"""The root of every error Mailslot raises on purpose.

    MailslotError
    ├── ConfigError                 mailslot.config: a setting is missing or invalid
    ├── crypto.CryptoError          mailslot.crypto (kept separate: the crypto core imports nothing)
    ├── ServiceError                a request the domain refuses; carries a translatable message
    │   ├── NotFound                no such thing, or not visible to this principal
    │   ├── Forbidden               visible but not allowed
    │   ├── InvalidInput            a field is missing, too long or malformed
    │   ├── Conflict                a name is taken, a token was already used
    │   ├── AuthenticationFailed    wrong password, code or codename (one message for all)
    │   ├── TooLarge                an upload exceeds a configured limit
    │   └── TooManyRequests         a rate limit or an account's login throttle; retry later
    ├── StorageError                mailslot.storage: the blob store failed
    └── audit.ChainBroken           mailslot.audit: the audit trail's hash chain does not verify

HTTP status codes for these are chosen in one place: ``mailslot.web.errors``.
"""

from __future__ import annotations


class MailslotError(Exception):
    """Root of Mailslot's own errors."""


class ConfigError(MailslotError):
    """A configuration value is missing or invalid."""


class ServiceError(MailslotError):
    """A domain rule refused the request. ``message`` is an untranslated gettext msgid."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message = message
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

    def __init__(self, message: str, *, retry_after: int, **params: object) -> None:
        super().__init__(message, **params)
        self.retry_after = max(1, int(retry_after))
