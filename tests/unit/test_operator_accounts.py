"""The host operator's accounts, logins and sessions (``orgs/accounts.py``), in the host
registry of a real runtime."""

from __future__ import annotations

import dataclasses

import pyotp
import pytest
from sqlalchemy import select

from mailslot.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, TooManyRequests
from mailslot.orgs import accounts
from mailslot.orgs.accounts import HostContext
from mailslot.orgs.operator_models import OperatorEvent, OperatorSession
from mailslot.runtime import Runtime

PASSWORD = "violet kettle harbour nine"
NOW = 1_800_000_000


@pytest.fixture
def host(runtime: Runtime) -> HostContext:
    return HostContext(runtime.config, runtime.registry, runtime.limiter, clock=lambda: NOW)


def at(host: HostContext, moment: int) -> HostContext:
    return dataclasses.replace(host, clock=lambda: moment)


def code(secret: str, moment: int) -> str:
    return pyotp.TOTP(secret).at(moment)


def test_an_operator_logs_in_with_password_and_a_code_good_once(host: HostContext) -> None:
    new = accounts.add_operator(host, "hostop", PASSWORD)
    assert new.totp_uri.startswith("otpauth://totp/")
    assert [op.username for op in accounts.list_operators(host)] == ["hostop"]
    account = accounts.log_in(host, "hostop", PASSWORD, code(new.totp_secret, NOW))
    assert account.username == "hostop"
    with pytest.raises(AuthenticationFailed):  # the same code again
        accounts.log_in(host, "hostop", PASSWORD, code(new.totp_secret, NOW))
    later = at(host, NOW + 30)
    with pytest.raises(AuthenticationFailed):
        accounts.log_in(later, "hostop", PASSWORD + "x", code(new.totp_secret, NOW + 30))
    assert accounts.log_in(later, "hostop", PASSWORD, code(new.totp_secret, NOW + 30))
    with host.db() as db:
        actions = [e.action for e in db.scalars(select(OperatorEvent).order_by(OperatorEvent.id))]
    assert actions == ["operator.added", "login", "login"]


def test_staff_password_rules_and_unique_usernames(host: HostContext) -> None:
    with pytest.raises(InvalidInput):
        accounts.add_operator(host, "hostop", "password123")
    with pytest.raises(InvalidInput):
        accounts.add_operator(host, "x", PASSWORD)
    accounts.add_operator(host, "hostop", PASSWORD)
    with pytest.raises(Conflict):
        accounts.add_operator(host, "hostop", PASSWORD)
    accounts.remove_operator(host, "hostop")
    with pytest.raises(NotFound):
        accounts.remove_operator(host, "hostop")


def test_failed_logins_lock_the_username_known_or_not(host: HostContext) -> None:
    new = accounts.add_operator(host, "hostop", PASSWORD)
    for name in ("hostop", "nobody"):
        for _ in range(host.config.login_failures_before_lock):
            with pytest.raises(AuthenticationFailed):
                accounts.log_in(host, name, "wrong password here", "000000")
        with pytest.raises(TooManyRequests):
            accounts.log_in(host, name, PASSWORD, code(new.totp_secret, NOW))
    # The lock ends; a good login then works.
    later = at(host, NOW + accounts.FIRST_LOCK + 1)
    accounts.log_in(later, "hostop", PASSWORD, code(new.totp_secret, NOW + accounts.FIRST_LOCK + 1))


def test_sessions_are_sealed_and_end_when_idle(host: HostContext) -> None:
    new = accounts.add_operator(host, "hostop", PASSWORD)
    state = accounts.start_session(host, new.account, None)
    with host.db() as db:
        stored = db.get(OperatorSession, state.row.id)
        assert stored is not None
        assert state.token.encode() not in stored.data
        assert state.data.csrf.encode() not in stored.data
    loaded = accounts.load_session(at(host, NOW + accounts.SESSION_IDLE - 1), state.token)
    assert loaded is not None
    assert loaded[1].username == "hostop"
    assert loaded[0].data.csrf == state.data.csrf
    assert accounts.load_session(host, state.token[:-2] + "AA") is None
    assert accounts.load_session(host, "not a token") is None
    # Idle for 30 minutes (counted from the last request): gone, and deleted.
    idle = NOW + 2 * accounts.SESSION_IDLE
    assert accounts.load_session(at(host, idle), state.token) is None
    with host.db() as db:
        assert db.get(OperatorSession, state.row.id) is None
    # Logging out deletes it; removing the account ends its sessions.
    state = accounts.start_session(host, new.account, None)
    accounts.log_out(host, new.account, state)
    assert accounts.load_session(host, state.token) is None
    state = accounts.start_session(host, new.account, None)
    accounts.remove_operator(host, "hostop")
    assert accounts.load_session(host, state.token) is None


def test_a_removed_organisations_slug_leaves_the_operator_log(host: HostContext) -> None:
    """However it is removed (the pages or ``mailslot orgs remove``), the registry's last
    step strikes its slug from the log in the same transaction."""
    host.registry.add("ab" * 16, "gone", "Gone", instance_id=1, source_hosts=[],
                      staff_hosts=[], now=NOW)  # fmt: skip
    with host.db() as db:
        accounts.record(db, NOW, "hostop", "org.added", "gone")
        accounts.record(db, NOW, "hostop", "org.quota", "default")
    host.registry.delete("gone")
    logged = {(event.action, event.org) for event in accounts.events(host)}
    assert logged == {("org.added", ""), ("org.quota", "default")}
