"""HTTP headers on every kind of response of both interfaces and of the API.

One module-scoped fixture makes a real request of each kind (pages, admin, JSON, JSON errors,
404, 405, CSRF refusals, redirects, static files, file and zip downloads) against a live
``mailslot serve``; each test then checks one header rule on every one of them. The
Content-Security-Policy is parsed into directives and source lists, never matched as a
substring.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, find_case, new_source, submit

MESSAGE = "Headers test message."
FILE_BYTES = b"<html><script>alert(1)</script></html>"
# The only pages allowed script: a security key needs the browser's WebAuthn API, and the
# script is our own static file.
SCRIPTED = frozenset({"staff security keys", "staff key login"})
# Kinds of response whose body is not a dynamic page, and so may be cached.
STATIC = frozenset({"source static file", "staff static file"})
DOWNLOADS = frozenset({"staff file download", "staff zip download", "api item content"})
HTML_PAGES_WITH_FORMS = frozenset(
    {
        "source submit form",
        "source conversation",
        "source login page",
        "staff login",
        "staff case page",
        "staff account",
        "admin settings",
    }
)
BANNERS = ("uvicorn", "starlette", "fastapi", "python", "hypercorn", "gunicorn", "werkzeug")
# Features a tip line never needs: each must be denied outright.
DENIED_FEATURES = ("camera", "microphone", "geolocation", "usb", "payment")


@dataclass(frozen=True)
class Csp:
    directives: dict[str, list[str]]

    @classmethod
    def parse(cls, header: str) -> Csp:
        directives: dict[str, list[str]] = {}
        for part in header.split(";"):
            tokens = part.split()
            if not tokens:
                continue
            name = tokens[0].lower()
            assert name not in directives, f"directive {name} given twice in {header!r}"
            directives[name] = tokens[1:]
        return cls(directives)

    def sources(self) -> list[str]:
        return [s for values in self.directives.values() for s in values]


@pytest.fixture(scope="module")
def member(server: LiveServer) -> Account:
    return server.add_user("recipient")


@pytest.fixture(scope="module")
def responses(server: LiveServer, member: Account) -> Iterator[dict[str, httpx.Response]]:
    """One real response of every kind, by name."""
    admin = server.add_user("admin")
    found: dict[str, httpx.Response] = {}
    with ExitStack() as stack:
        source = stack.enter_context(httpx.Client(base_url=server.source_url, timeout=60))
        stranger = stack.enter_context(httpx.Client(base_url=server.source_url, timeout=60))
        anonymous = stack.enter_context(httpx.Client(base_url=server.staff_url, timeout=60))
        staff = stack.enter_context(closing(server.staff_client(member)))
        admin_web = stack.enter_context(closing(server.staff_client(admin)))
        api = stack.enter_context(server.api_client(member))
        bare_api = stack.enter_context(
            httpx.Client(base_url=f"{server.staff_url}/api/v1", timeout=60)
        )

        # The source interface.
        found["source home"] = source.get("/")
        found["source new intro"] = source.get("/new")
        found["source codename"] = source.post("/new")
        new_source(source)
        found["source submit form"] = source.get("/submit")
        sent = submit(source, MESSAGE, files=[("page.html", FILE_BYTES, "text/html")])
        assert sent.status_code == 303
        found["source redirect after submit"] = sent
        found["source conversation"] = source.get("/conversation")
        found["source csrf refusal"] = source.post(
            "/logout", headers={"Origin": "http://evil.example"}
        )
        found["source login page"] = stranger.get("/login")
        found["source login failure"] = stranger.post("/login", data={"codename": "no such"})
        found["source login error 400"] = stranger.post("/login", data={"codename": " "})
        found["source redirect to login"] = stranger.get("/conversation")
        found["source quick exit"] = stranger.get("/exit")
        found["source 404"] = stranger.get("/no/such/page")
        found["source 405"] = stranger.delete("/")
        found["source static file"] = stranger.get("/static/mailslot.css")
        found["source static 404"] = stranger.get("/static/nothing-here.css")

        # The staff interface.
        case = find_case(api, MESSAGE)
        file_item = next(i for i in case["items"] if i["kind"] == "file")
        case_url = f"/cases/{case['id']}"
        found["staff login"] = anonymous.get("/login")
        found["staff login failure"] = anonymous.post(
            "/login", data={"username": "nobody", "password": "x", "totp": "1"}
        )
        found["staff redirect to login"] = anonymous.get("/")
        found["staff 404"] = anonymous.get("/no/such/page")
        found["staff 405"] = anonymous.delete("/login")
        found["staff static file"] = anonymous.get("/static/mailslot.css")
        found["staff recover page"] = anonymous.get("/recover")
        found["staff dead setup link"] = anonymous.get("/setup/" + "x" * 43)
        found["staff inbox"] = staff.get("/")
        found["staff case page"] = staff.get(case_url)
        found["staff case 404"] = staff.get("/cases/" + "0" * 32)
        found["staff account"] = staff.get("/account")
        found["staff csrf refusal"] = staff.post(
            f"{case_url}/replies", data={"csrf": "forged", "text": "x"}
        )
        token = csrf(found["staff case page"].text)
        found["staff redirect after reply"] = staff.post(
            f"{case_url}/replies", data={"csrf": token, "text": "A reply."}
        )
        found["staff file download"] = staff.get(f"{case_url}/items/{file_item['id']}/download")
        found["staff zip download"] = staff.get(f"{case_url}/download-all")
        found["staff security keys"] = staff.get("/account/keys")
        found["staff key login"] = anonymous.post(
            "/login/webauthn/begin", data={"username": member.username, "password": "wrong"}
        )
        found["admin overview"] = admin_web.get("/admin")
        found["admin settings"] = admin_web.get("/admin/settings")
        found["admin refusal"] = staff.get("/admin")

        # The API.
        found["api openapi"] = bare_api.get("/openapi.json")
        found["api case list"] = api.get("/cases")
        found["api case"] = api.get(f"/cases/{case['id']}")
        found["api item content"] = api.get(f"/cases/{case['id']}/items/{file_item['id']}/content")
        found["api 401"] = bare_api.get("/cases")
        found["api 401 bad token"] = bare_api.get(
            "/cases", headers={"Authorization": "Bearer nope"}
        )
        found["api 404 case"] = api.get("/cases/" + "0" * 32)
        found["api 404 path"] = api.get("/no/such/endpoint")
        found["api 405"] = api.put("/cases")
        found["api 422"] = api.post(f"/cases/{case['id']}/replies", json={"wrong": 1})
        found["api 422 bad json"] = api.post(
            f"/cases/{case['id']}/replies",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        found["api token failure"] = bare_api.post(
            "/auth/token", json={"username": "nobody", "password": "x", "totp": "1"}
        )
        yield found


KINDS = [
    "source home",
    "source new intro",
    "source codename",
    "source submit form",
    "source redirect after submit",
    "source conversation",
    "source csrf refusal",
    "source login page",
    "source login failure",
    "source login error 400",
    "source redirect to login",
    "source quick exit",
    "source 404",
    "source 405",
    "source static file",
    "source static 404",
    "staff login",
    "staff login failure",
    "staff redirect to login",
    "staff 404",
    "staff 405",
    "staff static file",
    "staff recover page",
    "staff dead setup link",
    "staff inbox",
    "staff case page",
    "staff case 404",
    "staff account",
    "staff csrf refusal",
    "staff redirect after reply",
    "staff file download",
    "staff zip download",
    "staff security keys",
    "staff key login",
    "admin overview",
    "admin settings",
    "admin refusal",
    "api openapi",
    "api case list",
    "api case",
    "api item content",
    "api 401",
    "api 401 bad token",
    "api 404 case",
    "api 404 path",
    "api 405",
    "api 422",
    "api 422 bad json",
    "api token failure",
]


def test_every_kind_was_really_produced(responses: dict[str, httpx.Response]) -> None:
    assert sorted(responses) == sorted(KINDS)
    expected = {
        "source 404": 404,
        "source 405": 405,
        "source csrf refusal": 403,
        "source login failure": 401,
        "source login error 400": 400,
        "source quick exit": 303,
        "source static 404": 404,
        "staff 404": 404,
        "staff 405": 405,
        "staff login failure": 401,
        "staff csrf refusal": 403,
        "staff case 404": 404,
        "staff dead setup link": 404,
        "staff redirect to login": 303,
        "staff redirect after reply": 303,
        "staff file download": 200,
        "staff zip download": 200,
        "admin overview": 200,
        "api 401": 401,
        "api 404 case": 404,
        "api 404 path": 404,
        "api 405": 405,
        "api 422": 422,
        "api 422 bad json": 422,
        "api item content": 200,
    }
    got = {kind: responses[kind].status_code for kind in expected}
    assert got == expected


@pytest.mark.parametrize("kind", KINDS)
def test_csp_is_strict(responses: dict[str, httpx.Response], kind: str) -> None:
    headers = responses[kind].headers
    assert len(headers.get_list("content-security-policy")) == 1, kind
    csp = Csp.parse(headers["content-security-policy"])
    sources = csp.sources()
    for weak in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'"):
        assert weak not in sources, (kind, weak)
    # Nothing from anywhere else: no schemes, hosts or wildcards (data: only for images).
    for directive, values in csp.directives.items():
        for value in values:
            third_party = "*" in value or "." in value or value.endswith(":")
            allowed = directive == "img-src" and value == "data:"
            assert not third_party or allowed, (kind, directive, value)
    assert csp.directives.get("default-src") == ["'none'"], kind
    assert csp.directives.get("frame-ancestors") == ["'none'"], kind
    # form-action does not fall back to default-src: every response must set it.
    assert csp.directives.get("form-action") in (["'self'"], ["'none'"]), kind
    script = csp.directives.get("script-src", csp.directives["default-src"])
    assert script == (["'self'"] if kind in SCRIPTED else ["'none'"]), kind
    assert csp.directives.get("connect-src", ["'none'"]) == ["'none'"], kind


@pytest.mark.parametrize("kind", sorted(SCRIPTED))
def test_scripted_pages_load_only_our_own_script_file(
    responses: dict[str, httpx.Response], kind: str
) -> None:
    response = responses[kind]
    assert response.status_code == 200, response.text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", response.text, re.S | re.I)
    assert scripts, "the page should load its script"
    for attributes, body in scripts:
        assert body.strip() == "", "inline script"
        source = re.search(r'src="([^"]+)"', attributes)
        assert source, attributes
        assert source[1].startswith("/static/"), source[1]


@pytest.mark.parametrize("kind", sorted(HTML_PAGES_WITH_FORMS))
def test_pages_with_forms_post_only_to_themselves(
    responses: dict[str, httpx.Response], kind: str
) -> None:
    response = responses[kind]
    assert response.headers["content-type"].startswith("text/html")
    assert "<form" in response.text
    csp = Csp.parse(response.headers["content-security-policy"])
    assert csp.directives["form-action"] == ["'self'"]
    assert csp.directives.get("base-uri") == ["'none'"]
    assert csp.directives.get("object-src", csp.directives["default-src"]) == ["'none'"]


@pytest.mark.parametrize("kind", KINDS)
def test_no_sniffing_no_referrer_no_framing(
    responses: dict[str, httpx.Response], kind: str
) -> None:
    headers = responses[kind].headers
    assert headers.get("x-content-type-options") == "nosniff", kind
    assert headers.get("referrer-policy") == "no-referrer", kind
    assert headers.get("x-frame-options") == "DENY", kind
    assert headers.get("cross-origin-opener-policy") == "same-origin", kind
    assert headers.get("cross-origin-resource-policy") == "same-origin", kind


@pytest.mark.parametrize("kind", KINDS)
def test_permissions_policy_denies_powerful_features(
    responses: dict[str, httpx.Response], kind: str
) -> None:
    header = responses[kind].headers.get("permissions-policy")
    assert header, kind
    policy = {}
    for entry in header.split(","):
        name, _, allow = entry.strip().partition("=")
        policy[name] = allow
    for feature in DENIED_FEATURES:
        assert policy.get(feature) == "()", (kind, feature)
    # Nothing is granted to anyone: every listed feature has an empty allow list.
    assert set(policy.values()) == {"()"}, (kind, policy)


@pytest.mark.parametrize("kind", KINDS)
def test_dynamic_responses_are_never_cached(
    responses: dict[str, httpx.Response], kind: str
) -> None:
    cache = [v.strip() for v in responses[kind].headers.get("cache-control", "").split(",")]
    if kind in STATIC:
        assert "no-store" not in cache  # the style sheet may be cached; it says nothing
        assert "public" in cache or any(v.startswith("max-age") for v in cache)
    else:
        assert "no-store" in cache, (kind, cache)


@pytest.mark.parametrize("kind", KINDS)
def test_no_server_banner(responses: dict[str, httpx.Response], kind: str) -> None:
    response = responses[kind]
    assert "server" not in response.headers, kind
    assert "x-powered-by" not in response.headers, kind
    assert "date" not in response.headers, kind  # the threat model promises no Date header
    for name, value in response.headers.items():
        for banner in BANNERS:
            assert banner not in value.lower(), (kind, name, value)
    if response.status_code >= 400 or response.headers.get("content-type", "").startswith("text/"):
        body = response.text.lower()
        for banner in BANNERS:
            assert banner not in body, (kind, banner)
        assert "traceback" not in body, kind


@pytest.mark.parametrize("kind", sorted(DOWNLOADS))
def test_downloads_are_sandboxed_attachments(
    responses: dict[str, httpx.Response], kind: str
) -> None:
    response = responses[kind]
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.split(";")[0].strip() == "attachment", disposition
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = Csp.parse(response.headers["content-security-policy"])
    assert "sandbox" in csp.directives, kind
    assert csp.directives["sandbox"] == [], kind  # no allow-scripts or anything else
    assert csp.directives.get("default-src") == ["'none'"]


def test_a_hostile_html_file_is_not_served_as_a_page(responses: dict[str, httpx.Response]) -> None:
    for kind in ("staff file download", "api item content"):
        response = responses[kind]
        assert response.content == FILE_BYTES
        assert response.headers["content-disposition"].startswith("attachment;")


def test_api_errors_are_json_without_internals(responses: dict[str, httpx.Response]) -> None:
    for kind in KINDS:
        if not kind.startswith("api ") or responses[kind].status_code < 400:
            continue
        response = responses[kind]
        assert response.headers["content-type"].startswith("application/json"), kind
        assert "detail" in response.json(), kind


def test_the_http_server_itself_shows_no_banner(server: LiveServer) -> None:
    """A request too broken for the application is answered by the HTTP server alone."""
    for url in (server.source_url, server.staff_url):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nno colon in this header\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        head = reply.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 4"), reply
        assert b"\r\nserver:" not in head
        assert b"\r\ndate:" not in head
        for banner in BANNERS:
            assert banner.encode() not in reply.lower(), banner


ONION = "http://" + "abcdefghijklmnopqrstuvwxyz234567" + "abcdefghijklmnopqrstuvwx" + ".onion"


def test_no_onion_location_unless_configured(responses: dict[str, httpx.Response]) -> None:
    assert [kind for kind in KINDS if "onion-location" in responses[kind].headers] == []


def test_onion_location_points_the_source_interface_to_its_onion(tmp_path: Path) -> None:
    assert len(ONION.removeprefix("http://").removesuffix(".onion")) == 56
    live = start_server(tmp_path, extra_env={"MAILSLOT_SOURCE_ONION": ONION})
    try:
        with httpx.Client(base_url=live.source_url, timeout=60) as source:
            for path in ("/", "/login?lang=ko", "/no/such/page"):
                response = source.get(path)
                assert response.headers.get_list("onion-location") == [ONION + path], path
        with httpx.Client(base_url=live.staff_url, timeout=60) as staff:
            for path in ("/login", "/api/v1/openapi.json", "/no/such/page"):
                # The staff interface is its own onion service, behind client authorisation.
                assert "onion-location" not in staff.get(path).headers, path
    finally:
        stop_server(live)
