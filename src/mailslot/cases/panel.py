"""What the case page's work panel shows: status choices, labels, assignees, holders, the
access history, who may be given access, and the identity panel."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailslot.cases.access import (
    AccessEntry,
    access_history,
    active_recipients,
    holders,
    may_grant,
)
from mailslot.cases.models import Case, CaseStatus, Label
from mailslot.cases.work import (
    PHASES,
    StatusChoice,
    assignees,
    case_labels,
    labels_in_reach,
    status_choices,
)
from mailslot.identity.requests import IdentityPanel
from mailslot.identity.requests import panel as identity_panel
from mailslot.recipients.models import User


@dataclass
class CasePanel:
    """Everything the case page's work panel shows (all of it in clear in the database)."""

    phases: tuple[CaseStatus, ...]
    custom_statuses: list[StatusChoice]  # named in the reader's language
    current_custom: StatusChoice | None
    labels: list[Label]
    all_labels: list[Label]  # the labels the reader may choose from (``labels_in_reach``)
    assignees: list[User]
    holders: list[User]
    history: list[AccessEntry]
    grantable: list[User]
    identity: IdentityPanel | None = None  # None: the source gave no identity


def case_panel(db: Session, case: Case, reader: User, locale: str | None = None) -> CasePanel:
    """The work panel as ``reader`` sees it, custom statuses named in ``locale``."""
    statuses = status_choices(db, case.channel_id, locale)
    holding = holders(db, case)
    held = {user.id for user in holding}
    return CasePanel(
        phases=PHASES,
        custom_statuses=statuses,
        current_custom=next((s for s in statuses if s.id == case.custom_status_id), None),
        labels=case_labels(db, case),
        all_labels=labels_in_reach(db, reader),
        assignees=assignees(db, case),
        holders=holding,
        history=access_history(db, case),
        grantable=[user for user in active_recipients(db) if user.id not in held]
        if may_grant(db, case, reader)
        else [],
        identity=identity_panel(db, case, reader),
    )
