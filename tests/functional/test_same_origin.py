"""What a hostile request path, a cookie's deletion, a header-less form post and a stored
session's length could give away, on both interfaces (issue 18).

- The language links of every page, 404 included, stay on the site: a same-origin path that
  starts with exactly one "/", whatever the request's path was.
- Deleting a cookie sends a fixed date in the past, never the server's clock.
- A form POST with neither ``Origin`` nor ``Sec-Fetch-Site`` is refused (every browser sends
  ``Origin`` on a POST); the JSON API, which uses no cookies, does not need them.
- Every stored session has one length, whatever its kind.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import select

from mailslot import i18n
from mailslot.recipients.models import User
from mailslot.sessions.models import Session
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, new_source, submit

CSRF_REFUSED = (
    "This form has expired or did not come from this site. Go back, reload and try again."
)
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"
SEAL_LENGTH = 5 + 12 + 1024 + 16


@dataclass
class Raw:
    """A response read off the wire, from a request sent exactly as written."""

    status: int
    headers: list[tuple[str, str]]
    body: str

    def cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


def raw(
    base: str,
    method: str,
    target: str,
    body: str = "",
    *,
    headers: dict[str, str] | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> Raw:
    """Send ``target`` byte for byte (httpx would resolve ``//host/x`` to another host)."""
    netloc = urlsplit(base).netloc
    connection = http.client.HTTPConnection(netloc, timeout=60)
    with closing(connection):
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", netloc)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body or method == "POST":
            connection.putheader("Content-Type", content_type)
            connection.putheader("Content-Length", str(len(body.encode())))
        connection.endheaders(body.encode() if body else None)
        response = connection.getresponse()
        return Raw(response.status, response.getheaders(), response.read().decode())


class Links(HTMLParser):
    """Every URL a page points to, and its language links by language."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.languages: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("href", "action", "src", "formaction"):
            value = found.get(name)
            if value is not None:
                self.urls.append(value)
        if tag == "a" and found.get("hreflang") and found.get("href") is not None:
            self.languages[str(found["hreflang"])] = str(found["href"])


def links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    parser.close()
    return parser


def assert_same_origin(base: str, url: str) -> None:
    """A path on this site: one "/", then nothing a browser would read as another host."""
    assert url.startswith("/"), url
    assert url[1:2] not in ("/", "\\"), url
    assert "\\" not in url, url
    assert all(0x20 < ord(c) < 0x7F for c in url), url
    assert urlsplit(urljoin(base + "/", url)).netloc == urlsplit(base).netloc, url


HOSTILE_PATHS = [
    "//evil.example/x",
    "//evil.example/x?lang=ko",
    "///evil.example/x",
    "/%2F%2Fevil.example/x",
    "/%2f%2fevil.example/x?lang=en",
    "/%2F/evil.example",
    "/\\evil.example/x",
    "/\\\\evil.example/x",
    "/%5Cevil.example/x",
    "/%5C%5Cevil.example/x",
    "/%5c/evil.example",
    "/\\/evil.example",
    "/%0A/evil.example",
    "/%0D%0A//evil.example",
    "/%0d%0aLocation:%20//evil.example",
    "/%09//evil.example",
    "/%00//evil.example",
    "/%20//evil.example",
    "/%E2%80%AE//evil.example",
    "/%252F%252Fevil.example",
    "/a/..//evil.example",
    "/static//evil.example",
    "/static/%2F%2Fevil.example",
    "/cases/%2F%2Fevil.example",
    "/no-such-page",
    "http://evil.example//evil.example/x",
]


@pytest.mark.parametrize("interface", ["source", "staff"])
@pytest.mark.parametrize("target", HOSTILE_PATHS)
def test_language_links_never_leave_the_site(
    server: LiveServer, interface: str, target: str
) -> None:
    base = server.source_url if interface == "source" else server.staff_url
    page = raw(base, "GET", target)
    assert page.body.lower().startswith("<!doctype html>"), (page.status, page.body)
    found = links(page.body)
    assert found.languages, page.body
    for url in found.urls:
        if not url.startswith("#"):  # the skip link
            assert_same_origin(base, url)
    if page.status == 404:
        # A page with no route links to the site's root in the other languages.
        roots = {f"/?lang={i18n.language(code).tag}" for code in i18n.SUPPORTED_LOCALES}
        assert set(found.languages.values()) <= roots, found.languages


@pytest.mark.parametrize("interface", ["source", "staff"])
def test_a_known_pages_language_links_keep_its_path(server: LiveServer, interface: str) -> None:
    base = server.source_url if interface == "source" else server.staff_url
    found = links(raw(base, "GET", "/login?lang=ko").body)
    # Korean is this page: no link to it; every other language links to the same path.
    tags = [i18n.language(code).tag for code in i18n.SUPPORTED_LOCALES if code != "ko"]
    assert found.languages == {tag: f"/login?lang={tag}" for tag in tags}


# -- deleted cookies ------------------------------------------------------------------------------


def assert_deleted_at_the_epoch(response: httpx.Response, name: str) -> None:
    """The cookie is deleted with a fixed date and Max-Age=0, and no header tells the time."""
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    cookie = SimpleCookie()
    cookie.load(headers[0])
    morsel = cookie[name]
    assert morsel.value in ("", '""')
    assert morsel["expires"] == EPOCH, headers[0]
    assert morsel["max-age"] == "0", headers[0]
    assert "date" not in response.headers


def source_with_a_conversation(server: LiveServer, recipient: Account) -> httpx.Client:
    """A source who has sent (to ``recipient``, who makes the default channel open)."""
    client = httpx.Client(base_url=server.source_url, timeout=60)
    new_source(client)
    assert submit(client, "Hello from the cookie test").status_code == 303
    return client


@pytest.mark.parametrize("way", ["logout", "quick-exit", "forget"])
def test_a_source_cookie_is_deleted_with_a_fixed_date(
    server: LiveServer, recipient: Account, way: str
) -> None:
    with closing(source_with_a_conversation(server, recipient)) as client:
        if way == "logout":
            response = client.post("/logout")
        elif way == "quick-exit":
            response = client.get("/exit")
        else:
            token = csrf(client.get("/forget").text)
            response = client.post("/forget", data={"csrf": token, "confirm": "yes"})
        assert response.status_code == 303, response.text
        assert_deleted_at_the_epoch(response, "mailslot_source")


@pytest.mark.parametrize("way", ["logout", "end-this-session", "spent-key-login"])
def test_a_staff_cookie_is_deleted_with_a_fixed_date(server: LiveServer, way: str) -> None:
    account = server.add_user("recipient")
    with closing(server.staff_client(account)) as client:
        if way == "logout":
            response = client.post("/logout")
        elif way == "end-this-session":
            token = csrf(client.get("/account").text)
            (current,) = server_session_ids(server, account)
            response = client.post(
                "/account/sessions/end", data={"csrf": token, "session": current}
            )
        else:
            # A security-key login's last step always spends the pre-login cookie.
            response = client.post("/login/webauthn/finish", data={"credential": "{}"})
        assert response.status_code in (303, 401, 403), response.text
        assert_deleted_at_the_epoch(response, "mailslot_staff")


def server_session_ids(server: LiveServer, account: Account) -> list[str]:
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            user_id = db.scalar(select(User.id).where(User.username == account.username))
            return list(db.scalars(select(Session.id).where(Session.user_id == user_id)))
    finally:
        runtime.close()


# -- form posts with neither Origin nor Sec-Fetch-Site --------------------------------------------

FORMS = [
    ("source", "/new", ""),
    ("source", "/login", "codename=a+b+c+d+e+f+g"),
    ("source", "/logout", ""),
    ("staff", "/login", "username=nobody&password=x&totp=000000"),
    ("staff", "/logout", ""),
    ("staff", "/login/webauthn/begin", "username=nobody&password=x"),
]


def session_count(server: LiveServer) -> int:
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            return len(list(db.scalars(select(Session.id))))
    finally:
        runtime.close()


@pytest.mark.parametrize(("interface", "path", "body"), FORMS)
def test_a_form_post_with_neither_origin_nor_fetch_site_is_refused(
    server: LiveServer, interface: str, path: str, body: str
) -> None:
    base = server.source_url if interface == "source" else server.staff_url
    before = session_count(server)
    refused = raw(base, "POST", path, body)
    assert refused.status == 403, refused.body
    assert CSRF_REFUSED in refused.body
    assert refused.cookies() == []
    assert session_count(server) == before
    # Positive controls: what browsers send passes the check (and reaches the form).
    netloc = urlsplit(base).netloc
    for headers in (
        {"Origin": f"http://{netloc}"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    ):
        answered = raw(base, "POST", path, body, headers=headers)
        assert CSRF_REFUSED not in answered.body, (headers, answered.body)


def test_a_source_login_with_neither_header_does_not_log_in(
    server: LiveServer, recipient: Account
) -> None:
    """Login CSRF: a page that makes a header-less client log in with the attacker's codename."""
    with httpx.Client(base_url=server.source_url, timeout=60) as attacker:
        codename = new_source(attacker)
        assert submit(attacker, "The attacker's conversation").status_code == 303
    forged = raw(server.source_url, "POST", "/login", "codename=" + codename.replace(" ", "+"))
    assert forged.status == 403
    assert forged.cookies() == []


def test_the_api_needs_neither_header(server: LiveServer) -> None:
    """Bearer tokens, no cookies: nothing for a forged request to ride on, and the CLI and
    scripts that use the API send no Origin."""
    account = server.add_user("recipient")
    body = json.dumps(
        {
            "username": account.username,
            "password": account.password,
            "totp": server.totp.code(account.totp_secret),
        }
    )
    issued = raw(
        server.staff_url, "POST", "/api/v1/auth/token", body, content_type="application/json"
    )
    assert issued.status == 200, issued.body
    bearer = {"Authorization": f"Bearer {json.loads(issued.body)['token']}"}
    assert raw(server.staff_url, "GET", "/api/v1/labels", headers=bearer).status == 200
    assert raw(server.staff_url, "DELETE", "/api/v1/auth/token", headers=bearer).status == 204


# -- stored session lengths -----------------------------------------------------------------------


def stored_lengths(server: LiveServer) -> dict[str, set[int]]:
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            lengths: dict[str, set[int]] = {}
            for kind, data in db.execute(select(Session.kind, Session.data)):
                lengths.setdefault(kind, set()).add(len(data))
            return lengths
    finally:
        runtime.close()


@pytest.fixture
def sessions_of_every_kind(server: LiveServer, recipient: Account) -> Iterator[None]:
    account = server.add_user("recipient")
    with (
        httpx.Client(base_url=server.source_url, timeout=60) as before_sending,
        closing(source_with_a_conversation(server, recipient)),
        closing(server.staff_client(account)),
        closing(server.api_client(account)),
    ):
        new_source(before_sending)
        yield


@pytest.mark.usefixtures("sessions_of_every_kind")
def test_every_stored_session_has_one_length(server: LiveServer) -> None:
    lengths = stored_lengths(server)
    assert {"source", "staff", "api"} <= set(lengths), lengths
    assert set().union(*lengths.values()) == {SEAL_LENGTH}, lengths
