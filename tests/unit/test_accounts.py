"""A staff member's own account: a wrong current password on the password form counts
against the login throttle (issue 18)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailslot.audit.models import AuditEvent
from mailslot.errors import AuthenticationFailed, TooManyRequests
from mailslot.limits import services as limits
from mailslot.recipients import accounts
from mailslot.recipients import services as recipients
from mailslot.runtime import Runtime
from tests.unit.test_services import PASSWORD, add_user

NEW = "a brand new passphrase 42"


def change(runtime: Runtime, username: str, current: str) -> None:
    with runtime.default.db() as db:
        user = recipients.find_user(db, username)
        assert user is not None
        db.expunge(user)
    accounts.change_password(
        runtime.default, user, current=current, new=NEW, again=NEW, keep_session=""
    )


def test_wrong_current_passwords_lock_the_username_like_failed_logins(runtime: Runtime) -> None:
    ana = add_user(runtime, "ana")
    threshold = runtime.config.login_failures_before_lock
    for _ in range(threshold):
        with pytest.raises(AuthenticationFailed):
            change(runtime, ana.username, "not my password")
    # Locked: even the right password is refused now, on this form and at the login.
    with pytest.raises(TooManyRequests):
        change(runtime, ana.username, PASSWORD)
    with pytest.raises(TooManyRequests):
        runtime.default.transact(
            lambda db: limits.check_login(db, ana.username, runtime.default.now())
        )
    # Each attempt is in the audit trail, and the holder is told at the next login.
    with runtime.default.db() as db:
        failed = db.scalars(
            select(AuditEvent.action).where(AuditEvent.action == "auth.login_failed")
        ).all()
    assert len(failed) == threshold
    assert runtime.default.transact(lambda db: limits.login_succeeded(db, ana.username)) == (
        threshold
    )
    # Once the throttle is clear, the right password works.
    change(runtime, ana.username, PASSWORD)
