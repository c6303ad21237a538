"""The one place where domain errors become HTTP status codes."""

from __future__ import annotations

from mailslot import errors
from mailslot.orgs.errors import QuotaReached

STATUS: dict[type[errors.ServiceError], int] = {
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.InvalidInput: 400,
    errors.Conflict: 409,
    errors.AuthenticationFailed: 401,
    errors.TooLarge: 413,
    errors.TooManyRequests: 429,
    # The organisation's quota (storage or cases) is full: the host operator must act.
    QuotaReached: 507,
}


def status_for(error: errors.ServiceError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


class CsrfError(errors.Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "This form has expired or did not come from this site. Go back, reload and try again."
        )


def retry_headers(error: errors.ServiceError) -> dict[str, str]:
    """``Retry-After`` for refusals that end by themselves."""
    if isinstance(error, errors.TooManyRequests):
        return {"Retry-After": str(error.retry_after)}
    return {}
