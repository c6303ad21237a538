"""Never lose a source's words, in a real browser with JavaScript off (Debian's Chromium via
Playwright, as in test_browser.py) against a live server whose file limit is small: a
session that ends while a source writes, a file over the limit, a double click on Send, and
the codename of a first session shown again. The staff side over HTTP: an ended session
keeps the reply being written, and a failed login keeps the username.

Screenshots of each step land in ``$MAILSLOT_TEST_ARTIFACTS/browser-never-lose/``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional import test_browser
from tests.functional.helpers import csrf, find_case, login, new_source, submit
from tests.functional.test_browser import Session

pytestmark = pytest.mark.browser

# The browser fixtures of test_browser.py: Debian's Chromium, contexts with JavaScript off.
browser = test_browser.browser
open_session = test_browser.open_session

SHOTS = (
    Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve()
    / "browser-never-lose"
)
FILE_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp("mailslot"), {"MAILSLOT_MAX_FILE_SIZE": str(FILE_LIMIT)}
    )
    yield live
    stop_server(live)


@pytest.fixture(scope="module", autouse=True)
def desk(recipient: Account) -> Account:
    """A recipient in the default channel, so that sources can send at all."""
    return recipient


def shot(session: Session, name: str) -> None:
    """The checks of every source page (no script, nothing from elsewhere), then a picture."""
    page = session.page
    assert page.locator("script").count() == 0
    session.assert_no_third_party()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def codename_on(session: Session) -> str:
    return session.page.locator("#codename").inner_text().strip()


def kept_fields(html: str) -> dict[str, str]:
    """The kept reply's hidden fields of a staff login page, as a browser sends them."""
    found = re.findall(r'<input type="hidden" name="(draft\w*)" value="([^"]*)"', html)
    return {name: unescape(value) for name, value in found}


# One API session per account for the module: each login spends a TOTP code, and an
# account has only a few usable at once (another login would wait 30 s for the next).
_API: dict[str, httpx.Client] = {}


@pytest.fixture(scope="module", autouse=True)
def _api_sessions() -> Iterator[None]:
    yield
    for client in _API.values():
        client.close()
    _API.clear()


def stored_messages(server: LiveServer, account: Account, marker: str) -> list[str]:
    """Every message text, in every case, that holds ``marker``."""
    if account.id not in _API:
        _API[account.id] = server.api_client(account)
    api = _API[account.id]
    found: list[str] = []
    for summary in api.get("/cases", params={"limit": 200}).json()["cases"]:
        for item in api.get(f"/cases/{summary['id']}").json()["items"]:
            if item["kind"] == "message" and marker in (item["text"] or ""):
                found.append(item["text"])
    return found


def test_a_first_session_keeps_its_codename_and_an_ended_one_keeps_the_text(
    server: LiveServer, desk: Account, open_session: Any, tmp_path: Path
) -> None:
    session: Session = open_session(server.source_url)
    page = session.page
    page.goto(server.source_url + "/new")
    page.get_by_role("button", name="Show my codename").click()
    page.wait_for_load_state()
    first = codename_on(session)
    page.get_by_role("link", name="I have written it down. Continue").click()
    page.wait_for_url(server.source_url + "/submit")
    # Back to the codename page, however it is reached: the same codename, not a new one.
    page.go_back()
    page.goto(server.source_url + "/new")
    assert codename_on(session) == first
    page.goto(server.source_url + "/submit")
    page.get_by_role("link", name="Show my codename again").click()
    page.wait_for_url(server.source_url + "/new")
    assert codename_on(session) == first
    shot(session, "01-codename-shown-again")

    page.goto(server.source_url + "/submit")
    assert "This form stays ready for 30 minutes" in page.locator("#send-time").inner_text()
    marker = os.urandom(6).hex()
    text = f"Half an hour of writing ({marker}).\nSecond paragraph, 한국어 too."
    evidence = tmp_path / "evidence.txt"
    evidence.write_text("evidence")
    page.locator("#message").fill(text)
    page.locator("#files").set_input_files([evidence])
    # The session ends while the source writes (idle too long, or the server restarted).
    session.context.clear_cookies()
    page.get_by_role("button", name="Send").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert "the codename you were shown was never used" in alert.inner_text()
    assert page.title().startswith("Not sent: ")
    assert page.locator("#message").input_value() == text
    assert page.locator("#files-again li").all_inner_texts() == ["evidence.txt"]
    second = codename_on(session)
    assert second != first
    assert len(second.split()) >= 7
    shot(session, "02-session-ended-new-codename")

    page.get_by_role("button", name="Send").click()
    page.wait_for_url(server.source_url + "/submitted")
    assert stored_messages(server, desk, marker) == [text.replace("\n", "\r\n")]  # as sent
    # The new codename opens the conversation; the first one never worked.
    with httpx.Client(base_url=server.source_url, timeout=60) as other:
        assert login(other, first).status_code == 401
        assert login(other, second).status_code == 303


def test_a_returning_source_whose_session_ended_logs_in_and_sends_at_once(
    server: LiveServer, desk: Account, open_session: Any
) -> None:
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        codename = new_source(client)
        assert submit(client, "the first message").status_code == 303
    session: Session = open_session(server.source_url)
    page = session.page
    page.goto(server.source_url + "/login")
    page.locator("#codename").fill(codename)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.source_url + "/conversation")
    marker = os.urandom(6).hex()
    text = f"More, written slowly ({marker})."
    page.locator("#message").fill(text)
    session.context.clear_cookies()
    page.get_by_role("button", name="Send").click()
    page.wait_for_load_state()
    assert "enter your codename and press Send" in page.get_by_role("alert").inner_text()
    assert page.locator("#message").input_value() == text
    shot(session, "03-returning-session-ended")
    page.locator("#relogin-codename").fill(codename)
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(server.source_url + "/submitted")
    assert stored_messages(server, desk, marker) == [text]


def test_a_file_over_the_limit_is_named_and_the_rest_kept(
    server: LiveServer, desk: Account, open_session: Any, tmp_path: Path
) -> None:
    session: Session = open_session(server.source_url)
    page = session.page
    page.goto(server.source_url + "/new")
    page.get_by_role("button", name="Show my codename").click()
    page.goto(server.source_url + "/submit")
    marker = os.urandom(6).hex()
    small, large = tmp_path / "notes.txt", tmp_path / "recording.wav"
    small.write_text("notes")
    large.write_bytes(b"\0" * (FILE_LIMIT + 1))
    page.locator("#message").fill(f"With two files ({marker}).")
    page.locator("#files").set_input_files([small, large])
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Send").click()
    page.wait_for_load_state()
    assert answer.value.status == 413
    assert (
        "The file “recording.wav” is larger than the limit"
        in page.get_by_role("alert").inner_text()
    )
    assert page.locator("#message").input_value() == f"With two files ({marker})."
    assert page.locator("#files-again li").all_inner_texts() == ["notes.txt", "recording.wav"]
    shot(session, "04-file-over-the-limit")
    page.locator("#files").set_input_files([small])
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(server.source_url + "/submitted")
    assert stored_messages(server, desk, marker) == [f"With two files ({marker})."]


def test_a_form_sent_twice_stores_one_message(
    server: LiveServer, desk: Account, open_session: Any
) -> None:
    session: Session = open_session(server.source_url)
    page = session.page
    page.goto(server.source_url + "/new")
    page.get_by_role("button", name="Show my codename").click()
    page.goto(server.source_url + "/submit")
    marker = os.urandom(6).hex()
    text = f"Sent with a double click ({marker})."
    page.locator("#message").fill(text)
    posts: list[Any] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.get_by_role("button", name="Send").dblclick()
    page.wait_for_url(server.source_url + "/submitted")
    assert posts, "the browser sent nothing"
    assert stored_messages(server, desk, marker) == [text]
    # The browser's request sent again byte for byte, as a retry over a slow link does:
    # answered as the first was, and stored once.
    sent = posts[-1]
    headers = {k: v for k, v in sent.all_headers().items() if not k.startswith(":")}
    # What the network stack adds, which Playwright does not report: the cookies, and
    # Sec-Fetch-Site (the page sends Origin: null, as its referrer policy is no-referrer).
    headers["cookie"] = "; ".join(f"{c['name']}={c['value']}" for c in session.context.cookies())
    headers["sec-fetch-site"] = "same-origin"
    with httpx.Client(base_url=server.source_url, timeout=60) as resend:
        again = resend.post("/submit", content=sent.post_data_buffer, headers=headers)
    assert again.status_code == 303, re.findall(r'role="alert">.{0,200}', again.text)
    assert again.headers["location"] == "/submitted"
    assert stored_messages(server, desk, marker) == [text]


# The staff side.


def test_an_ended_staff_session_keeps_the_reply(server: LiveServer) -> None:
    staff = server.add_user("recipient")
    marker = os.urandom(6).hex()
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        assert submit(source, f"A case for the reply ({marker}).").status_code == 303
    with server.api_client(staff) as api:
        case = find_case(api, f"A case for the reply ({marker}).")
    reply = f"A long reply, <written> while the session ran out ({marker}).\nLine two."
    with httpx.Client(base_url=server.staff_url, timeout=60) as ended:  # no session cookie
        kept = ended.post(f"/cases/{case['id']}/replies", data={"csrf": "x", "text": reply})
        assert kept.status_code == 401
        assert "your reply was not sent" in kept.text
        assert "did not come from this site" not in kept.text
        fields = kept_fields(kept.text)
        assert fields == {"draft": reply, "draft_case": case["id"]}
        # A wrong code first: the username and the reply stay in the form.
        wrong = ended.post(
            "/login",
            data={"username": staff.username, "password": "wrong", "totp": "000000", **fields},
        )
        assert wrong.status_code == 401
        assert f'value="{staff.username}"' in wrong.text
        assert kept_fields(wrong.text) == fields
        code = server.totp.code(staff.totp_secret)
        opened = ended.post(
            "/login",
            data={"username": staff.username, "password": staff.password, "totp": code, **fields},
        )
        assert opened.status_code == 200
        box = re.search(r'<textarea id="text"[^>]*>([^<]*)</textarea>', opened.text, re.S)
        assert box is not None
        assert unescape(box[1]) == reply
        # The page is the case, with a live session: the reply goes out from it.
        sent = ended.post(
            f"/cases/{case['id']}/replies",
            data={"csrf": csrf(opened.text), "text": unescape(box[1])},
        )
        assert sent.status_code == 303
    with server.api_client(staff) as api:
        items = api.get(f"/cases/{case['id']}").json()["items"]
        assert [i["text"] for i in items if i["kind"] == "reply"] == [reply]


def test_other_staff_forms_say_the_session_ended(server: LiveServer) -> None:
    with httpx.Client(base_url=server.staff_url, timeout=60) as ended:
        answer = ended.post("/account/email", data={"csrf": "stale", "email": ""})
        assert answer.status_code == 401
        assert "Your session has ended, so this was not done." in answer.text
        assert "did not come from this site" not in answer.text
