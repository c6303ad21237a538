"""A real browser with JavaScript disabled (Debian's Chromium via Playwright) against a live server.

Every request the browser makes is routed: anything not aimed at the server's own origin is
aborted and recorded, and the tests assert that nothing was. A full-page screenshot of every
step lands in ``$MAILSLOT_TEST_ARTIFACTS/browser/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
import pytest

from mailslot.sources.codenames import CODENAME_WORDS, generate_codename
from tests.conftest import Account, LiveServer
from tests.functional.helpers import find_case, new_source, submit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Request, Route

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Defence in depth: routing does not see redirect hops, so no name may resolve at all.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
SHOTS = Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve() / "browser"
SOURCE_COOKIE = "mailslot_source"
STAFF_COOKIE = "mailslot_staff"
KOREAN_NAME = "보고서 ünïcode.txt"
QUICK_EXIT_URL = "https://en.wikipedia.org/wiki/Special:Random"


def _unavailable(reason: str) -> NoReturn:
    """Skip on a developer machine, but never let CI silently skip the browser tests."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium (never a downloaded one)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


class Shots:
    """Numbered full-page screenshots, in the order the steps happen across the module."""

    def __init__(self) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob("*.png"):
            old.unlink()
        self.count = 0
        self.taken: list[Path] = []

    def take(self, page: Page, name: str) -> Path:
        self.count += 1
        path = SHOTS / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        assert len(data) > 1000, f"empty screenshot {path}"
        self.taken.append(path)
        return path


@pytest.fixture(scope="module")
def shots() -> Shots:
    return Shots()


@dataclass
class Session:
    """One browser context (JS off) confined to one origin."""

    context: BrowserContext
    page: Page
    origin: str
    blocked: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)

    def same_origin(self, url: str) -> bool:
        return url == self.origin or url.startswith(self.origin + "/")

    def assert_no_third_party(self) -> None:
        assert self.blocked == [], f"requests to other origins: {self.blocked}"
        foreign = [url for url in self.requested if not self.same_origin(url)]
        assert foreign == [], f"requests to other origins: {foreign}"

    def cookies(self, name: str) -> list[Any]:
        return [c for c in self.context.cookies() if c["name"] == name]


@pytest.fixture
def open_session(browser: Browser) -> Iterator[Any]:
    contexts: list[BrowserContext] = []

    def make(origin: str) -> Session:
        context = browser.new_context(
            java_script_enabled=False, locale="en-US", viewport={"width": 1100, "height": 800}
        )
        contexts.append(context)
        context.set_default_timeout(30_000)
        session = Session(context=context, page=context.new_page(), origin=origin)

        def route(route: Route) -> None:
            url = route.request.url
            if session.same_origin(url):
                route.continue_()
            else:
                session.blocked.append(url)
                route.abort()

        def on_request(request: Request) -> None:
            session.requested.append(request.url)

        context.route("**/*", route)
        context.on("request", on_request)
        return session

    yield make
    for context in contexts:
        context.close()


def source_step(session: Session, shots: Shots, name: str, lang: str = "en") -> None:
    """Checks every source page must pass, then a screenshot."""
    page = session.page
    assert page.locator("html").get_attribute("lang") == lang
    exit_link = page.locator("header a.quick-exit")
    assert exit_link.count() == 1, f"no quick exit on {page.url}"
    assert exit_link.get_attribute("href") == "/exit"
    assert exit_link.is_visible()
    assert page.locator("script").count() == 0
    session.assert_no_third_party()
    shots.take(page, name)


def test_source_journey_without_javascript(
    server: LiveServer,
    recipient: Account,
    open_session: Any,
    shots: Shots,
    tmp_path: Path,
) -> None:
    browser_session: Session = open_session(server.source_url)
    page = browser_session.page

    page.goto(server.source_url + "/")
    assert page.get_by_role("heading", level=1).is_visible()
    source_step(browser_session, shots, "source-home")

    page.get_by_role("link", name="Submit for the first time").click()
    page.wait_for_url(server.source_url + "/new")
    source_step(browser_session, shots, "source-new-intro")

    page.get_by_role("button", name="Show my codename").click()
    page.wait_for_load_state()
    codename = page.locator("#codename").inner_text().strip()
    words = codename.split(" ")
    assert len(words) == CODENAME_WORDS, codename
    assert all(re.fullmatch(r"[a-z-]+", word) for word in words), codename
    assert [c["name"] for c in browser_session.context.cookies()] == [SOURCE_COOKIE]
    source_step(browser_session, shots, "source-codename")

    page.get_by_role("link", name="I have written it down. Continue").click()
    page.wait_for_url(server.source_url + "/submit")
    marker = os.urandom(6).hex()
    message = f"Browser tip {marker}: the contract was signed twice."
    first = tmp_path / "evidence.txt"
    first.write_bytes(b"plain ascii evidence " + marker.encode())
    second = tmp_path / KOREAN_NAME
    second.write_bytes("내부 문서 ünïcode ".encode() + marker.encode())
    page.locator("#message").fill(message)
    page.locator("#files").set_input_files([first, second])
    source_step(browser_session, shots, "source-submit-form-filled")

    page.get_by_role("button", name="Send").click()
    page.wait_for_url(server.source_url + "/submitted")
    assert page.get_by_role("heading", name="Thank you. Your submission was received.").is_visible()
    assert codename not in page.content()
    assert all(codename not in c["value"] for c in browser_session.context.cookies())
    source_step(browser_session, shots, "source-submitted")

    # The recipient sees exactly what the browser sent, non-ASCII file name included, and replies.
    reply_text = f"Thank you ({marker}). Which office signed it?"
    with server.api_client(recipient) as api:
        case = find_case(api, message)
        files = {item["filename"]: item for item in case["items"] if item["kind"] == "file"}
        assert set(files) == {"evidence.txt", KOREAN_NAME}
        for name, path in (("evidence.txt", first), (KOREAN_NAME, second)):
            content = api.get(f"/cases/{case['id']}/items/{files[name]['id']}/content")
            assert content.status_code == 200
            assert content.content == path.read_bytes()
        reply = api.post(f"/cases/{case['id']}/replies", json={"text": reply_text})
        assert reply.status_code == 201, reply.text
        reply_id = reply.json()["id"]

        # Log out, then come back with the codename.
        page.locator("header").get_by_role("button", name="Log out").click()
        page.wait_for_url(server.source_url + "/?bye=1")
        assert browser_session.cookies(SOURCE_COOKIE) == []
        assert page.get_by_role("status").filter(has_text="You are logged out").is_visible()
        source_step(browser_session, shots, "source-logged-out")

        page.get_by_role("link", name="Log in with a codename").click()
        page.wait_for_url(server.source_url + "/login")
        page.locator("#codename").fill(codename)
        source_step(browser_session, shots, "source-login")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(server.source_url + "/conversation")
        reply_entry = page.locator("li.entry.reply")
        assert reply_entry.count() == 1
        assert reply_text in reply_entry.inner_text()
        # What the source sent is not readable with the codename (SecureDrop's rule).
        assert message not in page.content()
        assert KOREAN_NAME not in page.content()
        assert page.locator("li.entry.mine").count() == 3  # one message, two files
        source_step(browser_session, shots, "source-conversation-with-reply")

        reply_entry.get_by_role("link", name="Delete this reply (around").click()
        page.wait_for_url(server.source_url + f"/replies/{reply_id}/delete")
        assert reply_text not in page.content()  # asked first, on a page of its own
        source_step(browser_session, shots, "source-delete-reply-confirm")
        page.get_by_role("button", name="Delete the reply").click()
        page.wait_for_url(server.source_url + "/conversation?deleted=1")
        assert page.get_by_role("status").filter(has_text="The reply was deleted.").is_visible()
        assert page.locator("li.entry.reply").count() == 0
        assert reply_text not in page.content()
        source_step(browser_session, shots, "source-reply-deleted")

        # The recipient still has the reply, marked as read by the source.
        detail = api.get(f"/cases/{case['id']}").json()
        kept = [item for item in detail["items"] if item["id"] == reply_id]
        assert len(kept) == 1
        assert kept[0]["text"] == reply_text
        assert kept[0]["seen_by_source"] is True

    # The language menu at the top. On a page with the send form, each language is a button
    # of that form, so what was being typed comes back in the new language.
    page.locator("#message").fill("반쯤 쓴 글 half written")
    page.locator("header .lang-menu summary").click()
    source_step(browser_session, shots, "source-language-menu")
    page.locator('header .lang-menu button[lang="ko"]').click()
    page.wait_for_url(server.source_url + "/conversation/language")
    assert page.get_by_role("heading", level=1).inner_text() == "내 대화"
    assert page.locator("#message").input_value() == "반쯤 쓴 글 half written"
    menu = page.locator('header .lang-menu strong[aria-current="true"]')
    assert menu.get_attribute("lang") == "ko"
    # The choice is kept (a cookie with the code only), without ?lang= in any link.
    page.get_by_role("link", name="대화", exact=True).click()
    page.wait_for_url(server.source_url + "/conversation")
    assert page.get_by_role("heading", level=1).inner_text() == "내 대화"
    assert [c["value"] for c in browser_session.cookies("mailslot_source_lang")] == ["ko"]
    source_step(browser_session, shots, "source-conversation-korean", lang="ko")

    token = browser_session.cookies(SOURCE_COOKIE)[0]["value"]
    page.locator("header").get_by_role("button", name="로그아웃").click()
    page.wait_for_url(server.source_url + "/?bye=1&lang=ko")
    assert page.get_by_role("status").count() == 1  # the logged-out notice, in Korean
    assert "You are logged out" not in page.content()
    source_step(browser_session, shots, "source-logged-out-korean", lang="ko")
    assert browser_session.cookies(SOURCE_COOKIE) == []
    assert browser_session.context.cookies() == []
    # The old cookie is dead on the server too, not just forgotten by the browser.
    with httpx.Client(base_url=server.source_url, cookies={SOURCE_COOKIE: token}) as replay:
        response = replay.get("/conversation")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
    browser_session.assert_no_third_party()


def test_wrong_codename_shows_an_error(server: LiveServer, open_session: Any, shots: Shots) -> None:
    browser_session: Session = open_session(server.source_url)
    page = browser_session.page
    page.goto(server.source_url + "/login")
    page.locator("#codename").fill(generate_codename())
    with page.expect_response(
        lambda r: r.url == server.source_url + "/login" and r.request.method == "POST"
    ) as answer:
        page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert answer.value.status == 401
    alert = page.get_by_role("alert")
    assert alert.count() == 1
    assert alert.is_visible()
    assert alert.inner_text().startswith("Problem:")
    assert len(alert.inner_text()) > len("Problem:") + 10
    assert browser_session.cookies(SOURCE_COOKIE) == []
    # The form is shown again, ready for another try.
    assert page.locator("#codename").is_visible()
    source_step(browser_session, shots, "source-wrong-codename")


def test_quick_exit_ends_the_session_and_leaves(
    server: LiveServer, open_session: Any, shots: Shots
) -> None:
    browser_session: Session = open_session(server.source_url)
    page = browser_session.page
    page.goto(server.source_url + "/new")
    page.get_by_role("button", name="Show my codename").click()
    page.wait_for_load_state()
    assert page.locator("#codename").is_visible()
    token = browser_session.cookies(SOURCE_COOKIE)[0]["value"]
    source_step(browser_session, shots, "source-before-quick-exit")

    with page.expect_event("requestfailed", lambda r: r.url == QUICK_EXIT_URL) as failed:
        page.locator("header a.quick-exit").click(no_wait_after=True)
    # The exit is a redirect from /exit. Playwright routing does not reliably see redirect hops,
    # so the request listener records it and the host resolver rules keep it off the network.
    assert failed.value.redirected_from is not None
    assert failed.value.redirected_from.url == server.source_url + "/exit"
    assert failed.value.failure in ("net::ERR_NAME_NOT_RESOLVED", "net::ERR_FAILED")
    foreign = [url for url in browser_session.requested if not browser_session.same_origin(url)]
    assert foreign == [QUICK_EXIT_URL]
    assert set(browser_session.blocked) <= {QUICK_EXIT_URL}
    assert browser_session.cookies(SOURCE_COOKIE) == []
    with httpx.Client(base_url=server.source_url, cookies={SOURCE_COOKIE: token}) as replay:
        assert replay.get("/submit").status_code == 303


def test_staff_login_inbox_and_case_without_javascript(
    server: LiveServer, open_session: Any, shots: Shots
) -> None:
    staff_member = server.add_user("recipient")
    marker = os.urandom(6).hex()
    message = f"Staff-side browser check {marker}."
    document = "회의록 " + marker + ".txt"
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        sent = submit(
            source,
            message,
            files=[(document, f"minutes {marker}".encode(), "text/plain")],
        )
        assert sent.status_code == 303, sent.text
    with server.api_client(staff_member) as api:
        case = find_case(api, message)

    browser_session: Session = open_session(server.staff_url)
    page = browser_session.page
    page.goto(server.staff_url + "/")
    page.wait_for_url(server.staff_url + "/login")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("script").count() == 0
    shots.take(page, "staff-login")

    page.locator("#username").fill(staff_member.username)
    page.locator("#password").fill(staff_member.password)
    page.locator("#totp").fill(server.totp.code(staff_member.totp_secret))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.staff_url + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Inbox"
    assert page.locator("header .whoami").inner_text() == staff_member.username
    row = page.locator("table.cases tbody tr").filter(has_text=case["pseudonym"])
    assert row.count() == 1
    assert [c["name"] for c in browser_session.context.cookies()] == [STAFF_COOKIE]
    browser_session.assert_no_third_party()
    shots.take(page, "staff-inbox")

    row.get_by_role("link", name=case["pseudonym"]).click()
    page.wait_for_url(server.staff_url + f"/cases/{case['id']}")
    assert page.get_by_role("heading", level=1).inner_text() == case["pseudonym"]
    assert page.locator("li.entry .text").first.inner_text() == message
    link = page.get_by_role("link", name=document)
    assert link.count() == 1
    browser_session.assert_no_third_party()
    shots.take(page, "staff-case")

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == document
    assert Path(download.path()).read_bytes() == f"minutes {marker}".encode()

    page.locator("#text").fill(f"Received, thank you ({marker}).")
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_url(server.staff_url + f"/cases/{case['id']}?sent=1")
    assert page.get_by_role("status").filter(has_text="Your reply was sent.").is_visible()
    assert f"Received, thank you ({marker})." in page.locator("li.entry.reply").inner_text()
    shots.take(page, "staff-case-replied")

    page.locator("header").get_by_role("button", name="Log out").click()
    page.wait_for_url(server.staff_url + "/login?bye=1")
    assert browser_session.cookies(STAFF_COOKIE) == []
    browser_session.assert_no_third_party()
    shots.take(page, "staff-logged-out")
