"""Brute force and floods: per-username login throttling (429 with Retry-After, and a notice
to the account holder), instance-wide rates for new sources and submissions, and the cap on
concurrent Argon2id work that keeps memory bounded under a flood."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import update

from mailslot.limits.models import LoginThrottle
from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, files_under, new_source, submit
from tests.functional.test_large_files import PeakRss, rss

BUSY = "Mailslot is very busy right now. Please wait a minute and try again; nothing was sent."
MIB = 1024 * 1024


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[LiveServer]:
    """A server with low limits, so tests reach them quickly."""
    live = start_server(
        tmp_path,
        {
            "MAILSLOT_LOGIN_FAILURES_BEFORE_LOCK": "3",
            "MAILSLOT_NEW_SOURCE_RATE": "4",
            "MAILSLOT_SUBMISSION_RATE": "2",
        },
    )
    yield live
    stop_server(live)


def _login(server: LiveServer, username: str, password: str, code: str) -> httpx.Response:
    return httpx.post(
        f"{server.staff_url}/login",
        data={"username": username, "password": password, "totp": code},
        timeout=60,
    )


def _token(server: LiveServer, username: str, password: str, code: str) -> httpx.Response:
    return httpx.post(
        f"{server.staff_url}/api/v1/auth/token",
        json={"username": username, "password": password, "totp": code},
        timeout=60,
    )


def _unlock(server: LiveServer) -> None:
    """Let the lock run out (the test cannot wait a minute): move it into the past."""
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            db.execute(update(LoginThrottle).values(locked_until=0))
    finally:
        runtime.close()


def test_failed_logins_lock_the_username_then_the_holder_is_told(strict: LiveServer) -> None:
    account = strict.add_user()
    code = pyotp.TOTP(account.totp_secret).now()
    for _ in range(3):
        assert (
            _login(strict, account.username, "wrong " + account.password, code).status_code == 401
        )
    # Locked: even the right password is refused before any password work, on every door.
    locked = _login(strict, account.username, account.password, code)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    assert "Too many failed attempts. Wait 1 minute before trying again." in locked.text
    api = _token(strict, account.username, account.password, code)
    assert api.status_code == 429
    assert int(api.headers["retry-after"]) >= 1
    recover = httpx.post(
        f"{strict.staff_url}/recover",
        data={
            "username": account.username,
            "recovery_key": account.recovery_key,
            "totp": code,
            "password": "a brand new passphrase 77",
            "password_again": "a brand new passphrase 77",
        },
    )
    assert recover.status_code == 429

    # One more failure after the lock ends locks for twice as long.
    _unlock(strict)
    assert _login(strict, account.username, "wrong again", code).status_code == 401
    relocked = _login(strict, account.username, account.password, code)
    assert relocked.status_code == 429
    assert 60 < int(relocked.headers["retry-after"]) <= 120

    _unlock(strict)
    with closing(strict.staff_client(account)) as web:
        first = web.get("/")
        assert first.status_code == 200
        assert "There were 4 failed attempts to log in to your account" in first.text
        assert "failed attempts" not in web.get("/").text  # told once
    # A later login starts from a clean slate.
    with closing(strict.staff_client(account)) as web:
        assert "failed attempts" not in web.get("/").text


def test_unknown_usernames_are_throttled_the_same_way(strict: LiveServer) -> None:
    for _ in range(3):
        assert _login(strict, "nobody-here", "some password 1", "123456").status_code == 401
    locked = _login(strict, "nobody-here", "some password 1", "123456")
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text
    # The lock is per username: others are not affected.
    other = strict.add_user()
    code = strict.totp.code(other.totp_secret)
    assert _login(strict, other.username, other.password, code).status_code == 303


def test_new_sources_beyond_the_rate_get_a_clear_page(
    strict: LiveServer, recipient: Account
) -> None:
    made = 0
    refused: httpx.Response | None = None
    for _ in range(8):
        with httpx.Client(base_url=strict.source_url, timeout=60) as client:
            response = client.post("/new")
            if response.status_code == 200:
                made += 1
                continue
            refused = response
            assert not client.cookies  # no session for a refused visitor
            break
    assert made == 4
    assert refused is not None
    assert refused.status_code == 429
    assert BUSY in refused.text
    assert int(refused.headers["retry-after"]) >= 1


def test_submissions_beyond_the_rate_store_nothing(strict: LiveServer) -> None:
    strict.add_user()
    with httpx.Client(base_url=strict.source_url, timeout=60) as client:
        new_source(client)
        assert submit(client, "one").status_code == 303
        assert submit(client, "two").status_code == 303
        blobs = strict.data_dir / "blobs"
        before = [p.name for p in files_under(blobs)]
        token = csrf(client.get("/submit").text)
        third = client.post(
            "/submit",
            data={"csrf": token, "message": "three"},
            files=[("files", ("big.bin", b"z" * 3_000_000, "application/octet-stream"))],
        )
        assert third.status_code == 429
        assert BUSY in third.text
        assert int(third.headers["retry-after"]) >= 1
        assert [p.name for p in files_under(blobs)] == before


@pytest.mark.slow
def test_a_flood_of_key_derivations_stays_within_memory_and_is_answered(
    tmp_path: Path,
) -> None:
    """32 concurrent new sources and codename logins at the real Argon2id cost (64 MiB each):
    the cap of 4 concurrent derivations bounds memory, and everyone gets an answer."""
    live = start_server(tmp_path, {"MAILSLOT_KDF": "argon2id$m=65536,t=3,p=1"})
    try:
        with httpx.Client(base_url=live.source_url, timeout=120) as warm:
            assert warm.post("/new").status_code == 200  # load the code paths once
        idle = rss(live.proc.pid)
        statuses: list[int] = []

        def visit(number: int) -> None:
            with httpx.Client(base_url=live.source_url, timeout=300) as client:
                if number % 2:
                    response = client.post("/new")
                else:
                    response = client.post("/login", data={"codename": f"no such words {number}"})
                statuses.append(response.status_code)

        threads = [threading.Thread(target=visit, args=(n,)) for n in range(32)]
        with PeakRss(live.proc.pid) as peak:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
        assert len(statuses) == 32
        assert sorted(set(statuses)) == [200, 401]
        growth = peak.peak - idle
        assert growth <= 512 * MIB, f"grew by {growth / MIB:.0f} MiB"
    finally:
        stop_server(live)


def test_past_the_kdf_queue_visitors_are_turned_away_politely(tmp_path: Path) -> None:
    live = start_server(
        tmp_path,
        {
            "MAILSLOT_KDF": "argon2id$m=65536,t=3,p=1",
            "MAILSLOT_KDF_CONCURRENCY": "1",
            "MAILSLOT_KDF_QUEUE": "0",
        },
    )
    try:
        responses: list[httpx.Response] = []

        def visit() -> None:
            with httpx.Client(base_url=live.source_url, timeout=120) as client:
                responses.append(client.post("/new"))

        threads = [threading.Thread(target=visit) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        statuses = sorted(r.status_code for r in responses)
        assert len(statuses) == 8
        assert set(statuses) == {200, 429}
        for response in responses:
            if response.status_code == 429:
                assert BUSY in response.text
                assert response.headers["retry-after"] == "30"
    finally:
        stop_server(live)
