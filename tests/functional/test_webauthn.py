"""Security keys (WebAuthn) as a second factor: Debian's Chromium with JavaScript on (staff
side only) and a CDP virtual authenticator, against a live server; httpx for what a browser
would not do (replays, forged answers, a pre-login cookie used as a session).

WebAuthn refuses IP addresses as relying-party ids, so the browser uses ``localhost``.
Screenshots land in ``$MAILSLOT_TEST_ARTIFACTS/browser/webauthn/``.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import delete, func, select

from mailslot.limits.models import LoginThrottle
from mailslot.limits.services import login_key
from mailslot.recipients.models import WebauthnCredential
from mailslot.sessions.models import Session
from mailslot.web.webauthn import PRE_LOGIN
from tests.conftest import Account, LiveServer
from tests.functional.helpers import find_case, new_source, submit
from tests.functional.test_browser import CHROMIUM, _unavailable
from tests.functional.test_staff import query

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Request, Route

STAFF_COOKIE = "mailslot_staff"
GENERIC = "The username, password or code is wrong."
SHOTS = (
    Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve()
    / "browser"
    / "webauthn"
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Only the server's own name resolves (localhost: WebAuthn needs a domain, not an IP).
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
]


def local(server: LiveServer) -> str:
    """The staff URL with ``localhost`` for a host, as the browser sees it."""
    return server.staff_url.replace("127.0.0.1", "localhost")


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
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def shots() -> Any:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    count = [0]

    def take(page: Page, name: str) -> None:
        count[0] += 1
        path = SHOTS / f"{count[0]:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    return take


@dataclass
class KeyBrowser:
    """A JavaScript-enabled browser context on the staff origin, with a virtual key."""

    context: BrowserContext
    page: Page
    cdp: CDPSession
    origin: str
    authenticator: str = ""
    blocked: list[str] = field(default_factory=list)
    finishes: list[dict[str, Any]] = field(default_factory=list)

    def add_authenticator(self) -> None:
        answer = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "usb",
                    "hasResidentKey": False,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                }
            },
        )
        self.authenticator = answer["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        answer = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator})
        return list(answer["credentials"])

    def cookie(self) -> str:
        values = [c["value"] for c in self.context.cookies() if c["name"] == STAFF_COOKIE]
        return values[0] if values else ""

    def login_with_code(self, server: LiveServer, account: Account) -> None:
        page = self.page
        page.goto(self.origin + "/login")
        page.locator("#username").fill(account.username)
        page.locator("#password").fill(account.password)
        page.locator("#totp").fill(server.totp.code(account.totp_secret))
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(self.origin + "/")

    def try_key(self, account: Account, password: str) -> None:
        """Log in with the password and the key, up to the page the finish step answers."""
        page = self.page
        page.goto(self.origin + "/login")
        page.locator("#username").fill(account.username)
        page.locator("#password").fill(password)
        with page.expect_response(lambda r: r.url.endswith("/login/webauthn/finish")):
            page.get_by_role("button", name="Use a security key instead of a code").click()
        page.wait_for_load_state()

    def log_out(self) -> None:
        self.page.locator("header").get_by_role("button", name="Log out").click()
        self.page.wait_for_url(self.origin + "/login?bye=1")


@pytest.fixture
def key_browser(browser: Browser, server: LiveServer) -> Iterator[KeyBrowser]:
    origin = local(server)
    context = browser.new_context(
        java_script_enabled=True, locale="en-US", viewport={"width": 1100, "height": 800}
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    session = KeyBrowser(context, page, context.new_cdp_session(page), origin)

    def route(route: Route) -> None:
        url = route.request.url
        if url == origin or url.startswith(origin + "/"):
            route.continue_()
        else:
            session.blocked.append(url)
            route.abort()

    def on_request(request: Request) -> None:
        if request.url.endswith("/login/webauthn/finish") and request.method == "POST":
            fields = parse_qs(request.post_data or "")
            session.finishes.append(
                {"fields": {k: v[0] for k, v in fields.items()}, "cookie": session.cookie()}
            )

    context.route("**/*", route)
    context.on("request", on_request)
    session.cdp.send("WebAuthn.enable")
    session.add_authenticator()
    yield session
    assert session.blocked == [], f"requests to other origins: {session.blocked}"
    context.close()


def failures(server: LiveServer, username: str) -> int:
    row = query(
        server, select(LoginThrottle.failures).where(LoginThrottle.key == login_key(username))
    )
    return int(row or 0)


def key_count(server: LiveServer, account: Account) -> int:
    statement = select(func.count()).where(WebauthnCredential.user_id == account.id)
    return int(query(server, statement))


def register(key_browser: KeyBrowser, name: str) -> None:
    page = key_browser.page
    page.goto(key_browser.origin + "/account")
    page.get_by_role("link", name="Manage your security keys").click()
    page.wait_for_url(key_browser.origin + "/account/keys")
    page.locator("#name").fill(name)
    page.get_by_role("button", name="Add a security key").click()
    page.wait_for_url(key_browser.origin + "/account/keys?added=1")


@pytest.mark.browser
def test_register_a_key_log_in_with_it_and_remove_it(
    server: LiveServer, key_browser: KeyBrowser, shots: Any
) -> None:
    account = server.add_user()
    page = key_browser.page
    key_browser.login_with_code(server, account)

    page.goto(key_browser.origin + "/account")
    shots(page, "account")
    with page.expect_response(key_browser.origin + "/account/keys") as answer:
        page.get_by_role("link", name="Manage your security keys").click()
    policy = answer.value.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'none'" in policy
    assert page.get_by_text("You have no security keys yet.").is_visible()
    assert page.locator("noscript").count() == 1  # the no-JS notice exists but is not shown
    assert not page.get_by_role("alert").is_visible()
    shots(page, "keys-empty")
    page.locator("#name").fill("Blue key")
    page.get_by_role("button", name="Add a security key").click()
    page.wait_for_url(key_browser.origin + "/account/keys?added=1")
    assert page.get_by_role("status").filter(has_text="The security key was added.").is_visible()
    row = page.locator("table.keys tbody tr")
    assert row.count() == 1
    assert "Blue key" in row.inner_text()
    assert "Never" in row.inner_text()
    assert len(key_browser.credentials()) == 1
    assert key_count(server, account) == 1
    shots(page, "keys-added")

    # Log out, then log in with the password and the key: no code.
    key_browser.log_out()
    shots(page, "login")
    key_browser.try_key(account, account.password)
    page.wait_for_url(key_browser.origin + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Inbox"
    assert page.locator("header .whoami").inner_text() == account.username
    assert [c["name"] for c in key_browser.context.cookies()] == [STAFF_COOKIE]
    shots(page, "inbox-after-key-login")
    page.goto(key_browser.origin + "/account/keys")
    assert "Never" not in page.locator("table.keys tbody tr").inner_text()

    # A wrong password with the right key: the same words as any failed login, and counted.
    key_browser.log_out()
    assert failures(server, account.username) == 0
    key_browser.try_key(account, "not the password at all")
    page.wait_for_url(key_browser.origin + "/login/webauthn/finish")
    assert GENERIC in page.get_by_role("alert").inner_text()
    assert key_browser.cookie() == ""
    assert failures(server, account.username) == 1
    shots(page, "wrong-password-with-key")

    # Removing the key needs the current password.
    key_browser.try_key(account, account.password)
    page.wait_for_url(key_browser.origin + "/")
    page.goto(key_browser.origin + "/account/keys")
    page.locator("#current").fill("not the password at all")
    page.get_by_role("button", name="Remove the key").click()
    assert "The current password is wrong." in page.get_by_role("alert").inner_text()
    assert key_count(server, account) == 1
    page.locator("#current").fill(account.password)
    page.get_by_role("button", name="Remove the key").click()
    page.wait_for_url(key_browser.origin + "/account/keys?removed=1")
    assert page.get_by_text("You have no security keys yet.").is_visible()
    assert key_count(server, account) == 0
    shots(page, "keys-removed")

    # The removed key no longer logs in: the browser finds no matching key and says so.
    key_browser.log_out()
    page.goto(key_browser.origin + "/login")
    page.locator("#username").fill(account.username)
    page.locator("#password").fill(account.password)
    page.get_by_role("button", name="Use a security key instead of a code").click()
    page.wait_for_url(key_browser.origin + "/login/webauthn/begin")
    failed = page.locator("#webauthn-failed")
    failed.wait_for(state="visible")
    assert "did not answer" in failed.inner_text()
    assert page.get_by_role("button", name="Use my security key").is_visible()
    shots(page, "key-not-found")


@pytest.mark.browser
def test_replayed_forged_and_cloned_answers_are_refused(
    server: LiveServer, key_browser: KeyBrowser
) -> None:
    account = server.add_user()
    page = key_browser.page
    key_browser.login_with_code(server, account)
    register(key_browser, "Grey key")
    key_browser.log_out()
    key_browser.try_key(account, account.password)
    page.wait_for_url(key_browser.origin + "/")
    captured = key_browser.finishes[-1]
    assertion = captured["fields"]["credential"]
    assert json.loads(assertion)["type"] == "public-key"
    before = failures(server, account.username)

    with httpx.Client(base_url=key_browser.origin, timeout=60) as client:
        # The exact request again, with its (now spent) pre-login cookie.
        client.cookies.set(STAFF_COOKIE, captured["cookie"])
        replay = client.post("/login/webauthn/finish", data=captured["fields"])
        assert replay.status_code == 401
        assert GENERIC in replay.text
        assert STAFF_COOKIE not in replay.cookies
        client.cookies.clear()

        # The captured answer under a new challenge: a fresh, valid first step.
        begin = client.post(
            "/login/webauthn/begin",
            data={"username": account.username, "password": account.password},
        )
        assert begin.status_code == 200
        token = re.search(r'name="csrf" value="([^"]+)"', begin.text)
        assert token is not None
        forged = client.post(
            "/login/webauthn/finish", data={"csrf": token[1], "credential": assertion}
        )
        assert forged.status_code == 401
        assert GENERIC in forged.text
        assert client.get("/").status_code == 303  # still not logged in

        # A made-up answer and a malformed one.
        for credential in (json.dumps({"rawId": "AAAA", "type": "public-key"}), "{", ""):
            client.cookies.clear()
            begin = client.post(
                "/login/webauthn/begin",
                data={"username": account.username, "password": account.password},
            )
            token = re.search(r'name="csrf" value="([^"]+)"', begin.text)
            assert token is not None
            answer = client.post(
                "/login/webauthn/finish", data={"csrf": token[1], "credential": credential}
            )
            assert answer.status_code == 401
            assert GENERIC in answer.text
    # Each refused answer after a right password counts; the spent replay had nothing to count.
    assert failures(server, account.username) == before + 4

    # A clone of the key (same private key, its counter back at zero) is refused.
    original = key_browser.credentials()[0]
    assert original["signCount"] >= 1
    key_browser.cdp.send(
        "WebAuthn.removeVirtualAuthenticator", {"authenticatorId": key_browser.authenticator}
    )
    key_browser.add_authenticator()
    clone = {k: original[k] for k in ("credentialId", "isResidentCredential", "privateKey")}
    clone.update(rpId="localhost", signCount=0)
    key_browser.cdp.send(
        "WebAuthn.addCredential",
        {"authenticatorId": key_browser.authenticator, "credential": clone},
    )
    key_browser.page.goto(key_browser.origin + "/")
    key_browser.log_out()
    key_browser.try_key(account, account.password)
    page.wait_for_url(key_browser.origin + "/login/webauthn/finish")
    assert GENERIC in page.get_by_role("alert").inner_text()
    assert key_browser.cookie() == ""


@pytest.mark.browser
def test_a_code_still_works_without_javascript_for_an_account_with_a_key(
    server: LiveServer, key_browser: KeyBrowser
) -> None:
    account = server.add_user()
    key_browser.login_with_code(server, account)
    register(key_browser, "Spare key")
    assert key_count(server, account) == 1
    # The code login (httpx: no JavaScript at all) is unchanged.
    with closing(server.staff_client(account)) as client:
        inbox = client.get("/")
        assert inbox.status_code == 200
        assert "Inbox" in inbox.text
        keys_page = client.get("/account/keys")
        assert "Spare key" in keys_page.text


def begin(client: httpx.Client, account: Account, password: str) -> httpx.Response:
    return client.post(
        "/login/webauthn/begin", data={"username": account.username, "password": password}
    )


def test_the_pre_login_session_is_not_a_session(server: LiveServer, recipient: Account) -> None:
    with httpx.Client(base_url=server.staff_url, timeout=60) as client:
        answer = begin(client, recipient, recipient.password)
        assert answer.status_code == 200
        token = client.cookies[STAFF_COOKIE]
        for path in ("/", "/account", "/account/keys"):
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login"), path
        api = httpx.get(
            f"{server.staff_url}/api/v1/cases", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.status_code == 401
        # It belongs to no account (so it is not listed among anyone's sessions) and its data
        # is sealed like every session's.
        rows = query(
            server,
            select(func.count()).where(Session.kind == PRE_LOGIN, Session.user_id.is_not(None)),
        )
        assert rows == 0
        assert query(server, select(func.count()).where(Session.kind == PRE_LOGIN)) >= 1
        sealed = query(server, select(Session.data).where(Session.kind == PRE_LOGIN).limit(1))
        assert recipient.username.encode() not in sealed
        assert b"challenge" not in sealed


def test_the_first_step_does_not_reveal_the_password_or_the_account(
    server: LiveServer, recipient: Account
) -> None:
    def options(username: str, password: str) -> dict[str, Any]:
        with httpx.Client(base_url=server.staff_url, timeout=60) as client:
            answer = client.post(
                "/login/webauthn/begin", data={"username": username, "password": password}
            )
            assert answer.status_code == 200
            policy = answer.headers["content-security-policy"]
            assert "script-src 'self';" in policy
            found = re.search(r'data-options="([^"]+)"', answer.text)
            assert found is not None
            return dict(json.loads(html.unescape(found[1])))

    right = options(recipient.username, recipient.password)
    wrong = options(recipient.username, "wrong password, surely")
    assert right["challenge"] != wrong["challenge"]
    assert right["allowCredentials"] == wrong["allowCredentials"]
    nobody = options("nobody-" + os.urandom(3).hex(), "whatever it is")
    assert len(nobody["allowCredentials"]) == 1
    assert len(right["allowCredentials"]) == 1


def test_cross_site_and_tokenless_posts_are_refused(server: LiveServer, recipient: Account) -> None:
    before = failures(server, recipient.username)
    cross = httpx.post(
        f"{server.staff_url}/login/webauthn/begin",
        data={"username": recipient.username, "password": recipient.password},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403
    assert STAFF_COOKIE not in cross.cookies
    with httpx.Client(base_url=server.staff_url, timeout=60) as client:
        assert begin(client, recipient, recipient.password).status_code == 200
        no_token = client.post("/login/webauthn/finish", data={"credential": "{}"})
        assert no_token.status_code == 403
        # The pre-login session was used up by that attempt.
        again = client.post("/login/webauthn/finish", data={"credential": "{}"})
        assert again.status_code == 401
    assert failures(server, recipient.username) == before


def test_only_the_staff_key_pages_allow_script(server: LiveServer, recipient: Account) -> None:
    for url in (server.source_url + "/", server.source_url + "/new", server.staff_url + "/login"):
        policy = httpx.get(url).headers["content-security-policy"]
        assert "script-src 'none'" in policy, url
        assert "'self'" not in policy.split("script-src", 1)[1].split(";", 1)[0], url
    static = httpx.get(server.staff_url + "/static/webauthn.js")
    assert static.status_code == 200
    assert static.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    with closing(server.staff_client(recipient)) as client:
        page = client.get("/account/keys")
        assert page.status_code == 200
        assert '<script src="/static/webauthn.js"></script>' in page.text
        assert page.text.count("<script") == 1  # no inline script
        assert "script-src 'self';" in page.headers["content-security-policy"]
        assert "script-src 'none'" in client.get("/account").headers["content-security-policy"]


@pytest.mark.browser
def test_a_reply_kept_from_an_ended_session_survives_a_key_login(
    server: LiveServer, key_browser: KeyBrowser
) -> None:
    """The staff session ends while a reply is being written: the login page keeps the reply,
    and logging in with the password and the security key (not a code) opens it again in
    its case's reply box, as the code login does."""
    account = server.add_user()
    marker = os.urandom(6).hex()
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        assert submit(source, f"A case for a key login ({marker}).").status_code == 303
    with server.api_client(account) as api:
        case = find_case(api, f"A case for a key login ({marker}).")
    page = key_browser.page
    key_browser.login_with_code(server, account)
    register(key_browser, "Green key")
    page.goto(f"{key_browser.origin}/cases/{case['id']}")
    reply = f"Written while the session ran out <{marker}>.\nLine two."
    page.locator("#text").fill(reply)
    runtime = server.runtime()  # the session ends on the server (expiry, another tab)
    try:
        runtime.default.transact(
            lambda db: db.execute(delete(Session).where(Session.user_id == account.id))
        )
    finally:
        runtime.close()
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_url(f"{key_browser.origin}/cases/{case['id']}/replies")
    assert "your reply was not sent" in page.get_by_role("alert").inner_text()
    page.locator("#username").fill(account.username)
    page.locator("#password").fill(account.password)
    with page.expect_response(lambda r: r.url.endswith("/login/webauthn/finish")):
        page.get_by_role("button", name="Use a security key instead of a code").click()
    page.wait_for_load_state()
    assert key_browser.finishes[-1]["fields"]["draft_case"] == case["id"]
    assert page.locator("#text").input_value() == reply
    assert page.get_by_role("heading", level=1).inner_text() == case["pseudonym"]
    with server.api_client(account) as api:  # kept, not sent: the recipient sends it
        items = api.get(f"/cases/{case['id']}").json()["items"]
    assert [i for i in items if i["kind"] == "reply"] == []
