"""Two `mailslot serve` processes sharing one database and one blob store behave as one
instance: sessions, cases, rate limits and login throttles are all in the database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
import pytest

from tests.conftest import LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, find_case, login, new_source, submit

SOURCE_COOKIE = "mailslot_source"


@dataclass
class Pair:
    a: LiveServer
    b: LiveServer


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    limits = {"MAILSLOT_NEW_SOURCE_RATE": "4", "MAILSLOT_LOGIN_FAILURES_BEFORE_LOCK": "3"}
    first = start_server(tmp_path_factory.mktemp("process-a"), limits)
    shared = {
        **limits,
        "MAILSLOT_DATA_DIR": str(first.data_dir),
        "MAILSLOT_DATABASE_URL": first.env.get(
            "MAILSLOT_DATABASE_URL", f"sqlite:///{first.data_dir / 'mailslot.sqlite3'}"
        ),
    }
    second = start_server(tmp_path_factory.mktemp("process-b"), shared)
    second.totp = first.totp  # one instance: a code spent through A is spent for B too
    yield Pair(first, second)
    stop_server(second)
    stop_server(first)


def moved(client: httpx.Client, cookie: str, to: str) -> httpx.Client:
    """The same browser session, now answered by the other process."""
    other = httpx.Client(base_url=to, timeout=60)
    other.cookies.set(cookie, client.cookies[cookie])
    return other


def test_a_source_and_a_recipient_can_be_served_by_either_process(pair: Pair) -> None:
    a, b = pair.a, pair.b
    recipient = a.add_user()
    message = "sent through process B " + a.unique("m")
    with httpx.Client(base_url=a.source_url, timeout=60) as on_a:
        codename = new_source(on_a)  # the codename's keys are in A's session...
        with closing(moved(on_a, SOURCE_COOKIE, b.source_url)) as on_b:
            assert (
                submit(on_b, message, files=[("n.txt", b"note", "text/plain")]).status_code == 303
            )
    # ...the case was stored through B, and A's staff side reads it, file included.
    with a.api_client(recipient) as api_a:
        case = find_case(api_a, message)
        file_item = next(i for i in case["items"] if i["kind"] == "file")
        content = api_a.get(f"/cases/{case['id']}/items/{file_item['id']}/content")
        assert content.content == b"note"
    # A reply sent through B reaches the source logging in on A.
    with closing(b.staff_client(recipient)) as staff_b:
        page = staff_b.get(f"/cases/{case['id']}")
        reply = staff_b.post(
            f"/cases/{case['id']}/replies", data={"csrf": csrf(page.text), "text": "Received."}
        )
        assert reply.status_code == 303
    with httpx.Client(base_url=a.source_url, timeout=60) as again:
        assert login(again, codename).status_code == 303
        assert "Received." in again.get("/conversation").text


def test_rate_limits_are_shared_by_the_processes(pair: Pair) -> None:
    a, b = pair.a, pair.b
    a.add_user()
    for _ in range(3):  # the bucket refills each minute: retry a run that straddled one
        minute = int(time.time() // 60)
        statuses = []
        for server in (a, b, a, b, a, b, a, b):
            with httpx.Client(base_url=server.source_url, timeout=60) as client:
                statuses.append(client.post("/new").status_code)
        if int(time.time() // 60) == minute:
            break
    # The bucket holds 4 a minute for the instance, not 4 per process (8 here).
    assert statuses.count(200) <= 4
    assert statuses[4:] == [429] * 4


def test_a_login_lock_made_on_one_process_holds_on_the_other(pair: Pair) -> None:
    a, b = pair.a, pair.b
    account = a.add_user()
    code = pyotp.TOTP(account.totp_secret).now()
    for server in (a, b, a):
        wrong = httpx.post(
            f"{server.staff_url}/login",
            data={"username": account.username, "password": "not it at all", "totp": code},
        )
        assert wrong.status_code == 401
    for server in (a, b):
        locked = httpx.post(
            f"{server.staff_url}/login",
            data={"username": account.username, "password": account.password, "totp": code},
        )
        assert locked.status_code == 429


def test_logging_out_on_one_process_ends_the_session_on_the_other(pair: Pair) -> None:
    a, b = pair.a, pair.b
    account = a.add_user()
    with closing(a.staff_client(account)) as on_a:
        cookie = next(iter(on_a.cookies.keys()))
        with closing(moved(on_a, cookie, b.staff_url)) as on_b:
            assert on_b.get("/account").status_code == 200
            assert on_a.post("/logout").status_code == 303
            assert on_a.get("/").status_code == 303
            assert on_b.get("/account").status_code == 303


def test_both_processes_use_the_same_files(pair: Pair) -> None:
    assert pair.a.data_dir == Path(pair.b.env["MAILSLOT_DATA_DIR"])
