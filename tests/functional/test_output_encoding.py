"""Hostile text is inert and legible in every view, and downloads name files safely.

Hostile values go in through the real interfaces: the instance name and guidance and a
channel's name and description through the admin pages, a message and files from a source,
a reply from a recipient. Every page that shows them is then parsed (``html.parser``): no
script element, no event-handler attribute, no ``javascript:`` link, no NUL character, and
the escaped text is there for a person to read. Downloads are checked header by header.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import select

from mailslot.channels.models import Channel
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, login, new_source, submit

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEXTAREA = "</textarea><script>alert(3)</script>"
RTL = "invoice\u202egpj.exe"
NUL = "before\x00after"
TEMPLATE = "{{ 7*7 }}{% raw %}"
JS_URL = "javascript:alert(1)"
LONG_WORD = "W" * 10_000
HOSTILE = [SCRIPT, IMG, TEXTAREA, RTL, NUL, TEMPLATE, JS_URL]

INSTANCE_NAME = f"{SCRIPT}{IMG} {RTL} {TEMPLATE}"
GUIDANCE = "\n".join([TEXTAREA, JS_URL, NUL, TEMPLATE, "G" * 5_000])
CHANNEL_NAME = f"{IMG}{SCRIPT} {RTL} {TEMPLATE}"
CHANNEL_DESCRIPTION = "\n".join([TEXTAREA, JS_URL, NUL, "D" * 1_500])
MESSAGE = "\n".join([*HOSTILE, LONG_WORD])
REPLY = "\n".join([*reversed(HOSTILE), "R" * 10_000])
# (name sent in the multipart form, content)
FILES = [
    ('"><img src=x onerror=alert(1)>.html', b"<script>alert(5)</script>"),
    ("invoice\u202egpj.exe", b"not really an exe"),
    ("{{ 7*7 }}.txt", b"template"),
    ("javascript:alert(1).txt", b"js"),
    ('quote" semi; back\\slash.txt', b"quoting"),
    ("line\r\nX-Injected: yes.txt", b"header injection"),
    ("nul\x00byte.txt", b"nul"),
    ("보고서 — ünïcode.pdf", b"%PDF-1.4"),
    # Longer part headers are refused as unreadable (see test_a_ten_thousand_character_name).
    ("W" * 1_000 + ".txt", b"long name"),
]

CHROMIUM = Path("/usr/bin/chromium")


class Inspector(HTMLParser):
    """Collects what would make a page active: script elements, handlers, script URLs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "base", "meta") and not (
            tag == "meta" and all(name in ("charset", "name", "content") for name, _ in attrs)
        ):
            self.problems.append(f"<{tag}> element: {attrs}")
        if tag == "img" and dict(attrs).get("src", "").startswith("x"):
            self.problems.append(f"injected <img>: {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            link = (value or "").strip().lower()
            if name in ("href", "src", "action", "formaction") and link.startswith(
                ("javascript:", "data:text", "vbscript:")
            ):
                self.problems.append(f"script URL in {name} of <{tag}>: {value}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(page: httpx.Response, *, shows: list[str]) -> None:
    """No markup came from the hostile text, and the text itself is there to read."""
    assert page.status_code == 200, page.text[:2000]
    html = page.text
    assert "<script" not in html.lower()
    inspector = Inspector()
    inspector.feed(html)
    inspector.close()
    assert inspector.problems == []
    for value in shows:
        # NUL may be dropped or replaced (test_no_nul_character_reaches_any_page checks it).
        forms = {str(escape(value.replace("\x00", r))) for r in ("\x00", "", "\ufffd")}
        assert any(form in html for form in forms), f"{value[:60]!r} is not shown"


@dataclass
class Scene:
    server: LiveServer
    member: Account
    admin_web: httpx.Client
    staff: httpx.Client
    api: httpx.Client
    source: httpx.Client
    newcomer: httpx.Client
    case_id: str
    channel_id: str
    items: list[dict[str, object]] = field(default_factory=list)


@pytest.fixture(scope="module")
def scene(server: LiveServer) -> Iterator[Scene]:
    member = server.add_user("recipient")
    admin = server.add_user("admin")
    with ExitStack() as stack:
        admin_web = stack.enter_context(closing(server.staff_client(admin)))
        token = csrf(admin_web.get("/admin/settings").text)
        saved = admin_web.post(
            "/admin/settings",
            data={
                "csrf": token,
                "name": INSTANCE_NAME,
                "guidance": GUIDANCE,
                "show_source_submissions": "1",
            },
        )
        assert saved.status_code == 303, saved.text
        made = admin_web.post(
            "/admin/channels/new",
            data={
                "csrf": token,
                "name": CHANNEL_NAME,
                "description": CHANNEL_DESCRIPTION,
                "members": [member.username],
            },
        )
        assert made.status_code == 303, made.text
        runtime = server.runtime()
        try:
            with runtime.default.db() as db:
                channel_id = db.scalar(select(Channel.id).where(Channel.name != "default"))
        finally:
            runtime.close()
        assert channel_id

        source = stack.enter_context(httpx.Client(base_url=server.source_url, timeout=60))
        codename = new_source(source)
        sent = submit(
            source,
            MESSAGE,
            files=[(name, content, "text/html") for name, content in FILES],
            channel=channel_id,
        )
        assert sent.status_code == 303, sent.text
        api = stack.enter_context(server.api_client(member))
        case = find_case(api, MESSAGE)
        staff = stack.enter_context(closing(server.staff_client(member)))
        page = staff.get(f"/cases/{case['id']}")
        replied = staff.post(
            f"/cases/{case['id']}/replies", data={"csrf": csrf(page.text), "text": REPLY}
        )
        assert replied.status_code == 303, replied.text
        # The source comes back with the codename, as they would to read the reply.
        source.post("/logout")
        assert login(source, codename).status_code == 303
        newcomer = stack.enter_context(httpx.Client(base_url=server.source_url, timeout=60))
        new_source(newcomer)
        items = api.get(f"/cases/{case['id']}").json()["items"]
        yield Scene(
            server=server,
            member=member,
            admin_web=admin_web,
            staff=staff,
            api=api,
            source=source,
            newcomer=newcomer,
            case_id=case["id"],
            channel_id=str(channel_id),
            items=items,
        )


def test_values_are_stored_as_given(scene: Scene) -> None:
    """The API returns text exactly, so the pages below really had hostile input to show."""
    texts = [i["text"] for i in scene.items if i["kind"] in ("message", "reply")]
    assert texts == [MESSAGE, REPLY]
    names = [i["filename"] for i in scene.items if i["kind"] == "file"]
    assert len(names) == len(FILES)
    # A browser (and httpx) sends '"' in a file name as %22, CR and LF as %0D and %0A: the
    # server undoes that, so the name is stored as typed (control characters dropped).
    assert names[0] == FILES[0][0]
    assert names[4] == "slash.txt"  # a backslash is a path separator on Windows
    assert names[5] == FILES[5][0].replace("\r\n", "")
    assert "\x00" not in "".join(str(n) for n in names)
    assert not any("\r" in str(n) or "\n" in str(n) for n in names)


def test_source_home(scene: Scene) -> None:
    page = scene.newcomer.get("/")
    assert_inert(page, shows=[INSTANCE_NAME, *GUIDANCE.split("\n")])


def test_source_submit_page_lists_the_channel(scene: Scene) -> None:
    page = scene.newcomer.get("/submit")
    assert_inert(page, shows=[INSTANCE_NAME, " ".join(CHANNEL_NAME.split())])
    for line in CHANNEL_DESCRIPTION.split("\n"):
        assert_inert(page, shows=[line])


def test_source_conversation(scene: Scene) -> None:
    page = scene.source.get("/conversation")
    names = [str(i["filename"]) for i in scene.items if i["kind"] == "file"]
    assert_inert(page, shows=[INSTANCE_NAME, *MESSAGE.split("\n"), *REPLY.split("\n"), *names])


def test_staff_inbox(scene: Scene) -> None:
    page = scene.staff.get("/")
    assert_inert(page, shows=[INSTANCE_NAME, " ".join(CHANNEL_NAME.split())])


def test_staff_case_page(scene: Scene) -> None:
    page = scene.staff.get(f"/cases/{scene.case_id}")
    names = [str(i["filename"]) for i in scene.items if i["kind"] == "file"]
    assert_inert(
        page,
        shows=[
            INSTANCE_NAME,
            " ".join(CHANNEL_NAME.split()),
            *MESSAGE.split("\n"),
            *REPLY.split("\n"),
            *names,
        ],
    )
    # The RTL override is shown as a character inside the name, not applied to the page.
    assert "\u202e" in page.text


def test_admin_overview(scene: Scene) -> None:
    page = scene.admin_web.get("/admin")
    assert_inert(
        page,
        shows=[INSTANCE_NAME, " ".join(CHANNEL_NAME.split()), *CHANNEL_DESCRIPTION.split("\n")],
    )


def test_admin_channel_and_settings_forms(scene: Scene) -> None:
    channel = scene.admin_web.get(f"/admin/channels/{scene.channel_id}")
    assert_inert(channel, shows=[" ".join(CHANNEL_NAME.split()), *CHANNEL_DESCRIPTION.split("\n")])
    # The description sits inside a textarea (one per language): it must not close it, so
    # each textarea the page opens is closed once and no text adds a closing tag.
    assert channel.text.count("</textarea>") == channel.text.count("<textarea") > 0
    settings = scene.admin_web.get("/admin/settings")
    assert_inert(settings, shows=[INSTANCE_NAME, *GUIDANCE.split("\n")])
    assert settings.text.count("</textarea>") == settings.text.count("<textarea") > 0


def test_source_error_echo_is_inert(scene: Scene) -> None:
    """A refused submission gives the text back in the form, escaped."""
    form = scene.newcomer.get("/submit")
    refused = scene.newcomer.post(
        "/submit",
        data={"csrf": csrf(form.text), "message": MESSAGE.ljust(100_001, "."), "channel": ""},
        files=[("files", ("", b"", "application/octet-stream"))],
    )
    assert refused.status_code == 400
    assert "<script" not in refused.text.lower()
    assert refused.text.count("</textarea>") == 1


def test_no_nul_character_reaches_any_page(scene: Scene) -> None:
    """NUL is no text: it must be dropped or replaced before it reaches HTML (and a
    PostgreSQL text column refuses it outright)."""
    form = scene.newcomer.get("/submit")
    echo = scene.newcomer.post(
        "/submit",
        data={"csrf": csrf(form.text), "message": NUL.ljust(100_001, "."), "channel": ""},
        files=[("files", ("", b"", "application/octet-stream"))],
    )
    views = {
        "source home": scene.newcomer.get("/"),
        "source submit": scene.newcomer.get("/submit"),
        "source error echo": echo,
        "source conversation": scene.source.get("/conversation"),
        "staff inbox": scene.staff.get("/"),
        "staff case": scene.staff.get(f"/cases/{scene.case_id}"),
        "admin overview": scene.admin_web.get("/admin"),
        "admin channel": scene.admin_web.get(f"/admin/channels/{scene.channel_id}"),
        "admin settings": scene.admin_web.get("/admin/settings"),
    }
    with_nul = sorted(name for name, page in views.items() if "\x00" in page.text)
    assert with_nul == []


def test_a_ten_thousand_character_name_is_refused_cleanly(scene: Scene) -> None:
    with httpx.Client(base_url=scene.server.source_url, timeout=60) as client:
        new_source(client)
        form = client.get("/submit")
        refused = client.post(
            "/submit",
            data={"csrf": csrf(form.text), "message": SCRIPT, "channel": scene.channel_id},
            files=[("files", (IMG + "W" * 10_000, b"x", "text/html"))],
        )
    assert refused.status_code == 400
    assert "<script" not in refused.text.lower()
    assert "<img src=x" not in refused.text


RFC5987 = re.compile(r"filename\*=UTF-8''([A-Za-z0-9%!#$&+\-.^_`|~]*)$")
FALLBACK = re.compile(r'filename="([^"\\]*)"')


@pytest.mark.parametrize("index", range(len(FILES)))
def test_download_names_are_safe(scene: Scene, index: int) -> None:
    files = [i for i in scene.items if i["kind"] == "file"]
    item = files[index]
    for response in (
        scene.staff.get(f"/cases/{scene.case_id}/items/{item['id']}/download"),
        scene.api.get(f"/cases/{scene.case_id}/items/{item['id']}/content"),
    ):
        assert response.status_code == 200
        assert response.content == FILES[index][1]
        for name, value in response.headers.raw:
            assert all(32 <= b < 127 for b in name + value), (name, value)
        assert "x-injected" not in response.headers
        disposition = response.headers["content-disposition"]
        parts = [p.strip() for p in disposition.split(";")]
        assert parts[0] == "attachment"
        assert len(parts) == 3, disposition
        fallback = FALLBACK.fullmatch(parts[1])
        assert fallback, disposition
        assert fallback[1].isascii()
        assert fallback[1].isprintable()
        encoded = RFC5987.match(parts[2])
        assert encoded, disposition
        assert unquote(encoded[1], errors="strict") == item["filename"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]


def test_zip_entry_names_are_safe(scene: Scene) -> None:
    response = scene.staff.get(f"/cases/{scene.case_id}/download-all")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        contents = sorted(archive.read(name) for name in names)
    assert contents == sorted([MESSAGE.encode(), REPLY.encode(), *(c for _, c in FILES)])
    for name in names:
        assert "/" not in name
        assert "\\" not in name
        assert not name.startswith(".")
        assert all(ch.isprintable() for ch in name), repr(name)
        assert "\u202e" not in name
        assert not set(name) & set('<>:"|?*'), name
        assert len(name.encode()) <= 255


@pytest.mark.browser
def test_no_dialog_fires_in_a_real_browser_with_javascript_on(scene: Scene) -> None:
    """Defence in depth: even with scripts allowed by the browser, nothing hostile runs."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    cookie = scene.staff.cookies["mailslot_staff"]
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        )
        try:
            context = browser.new_context(java_script_enabled=True)
            context.add_cookies(
                [{"name": "mailslot_staff", "value": cookie, "url": scene.server.staff_url}]
            )
            page = context.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            for url in (
                f"{scene.server.staff_url}/cases/{scene.case_id}",
                f"{scene.server.source_url}/",
            ):
                response = page.goto(url)
                assert response is not None
                assert response.status == 200
                page.wait_for_timeout(300)
        finally:
            browser.close()
    assert dialogs == []
