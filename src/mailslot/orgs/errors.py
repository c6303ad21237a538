"""Errors of the organisations package.

    OrgError                  the host operator's change cannot go ahead (CLI only, English)
    ├── UnknownOrganisation   no organisation has that slug
    └── RegistryConflict      a slug or host name is taken, or the default cannot be changed so
    QuotaReached              (a ServiceError) the organisation's storage or case quota is full

``OrgError`` is for the host operator, who works from the command line, so its messages are
plain English. ``QuotaReached`` is shown to a source, so its message is a translated msgid.
"""

from __future__ import annotations

from mailslot.errors import MailslotError, ServiceError


class OrgError(MailslotError):
    """The host operator's change to the registry cannot go ahead."""


class UnknownOrganisation(OrgError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"No organisation has the slug {slug!r}.")


class RegistryConflict(OrgError):
    pass


class QuotaReached(ServiceError):
    """The organisation's storage or case quota would be passed: the submission is refused,
    and the page shows the message again so that the source loses nothing they typed."""

    def __init__(self) -> None:
        super().__init__(
            "This tip line cannot take more submissions right now. Nothing was sent; your "
            "message is below. Please try again later."
        )
