"""The staff workspace in Debian's Chromium with JavaScript off: the case page puts the
conversation first (messages, documents, replies and the reply box as one timeline) and the
case work beside it on a wide screen, below it in collapsible sections on a narrow one; form
controls share one style; the audit table never breaks a word. Screenshots land in
``$MAILSLOT_TEST_ARTIFACTS/workspace/``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.conftest import Account, LiveServer
from tests.functional.helpers import find_case, new_source, submit
from tests.functional.test_browser import browser  # noqa: F401 - the same Chromium fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve() / "workspace"
DESKTOP, PHONE = 1280, 390
TOLERANCE = 2.0  # CSS pixels
WORK_SECTIONS = ["Status", "Labels", "Assigned to", "Who has access", "Notes", "Retention"]


@dataclass
class Workspace:
    case_path: str
    states: dict[str, Any]  # the logged-in browser state of each account, by role
    contexts: list[BrowserContext]
    browser: Browser
    staff_url: str

    def open(self, role: str, path: str, width: int, name: str) -> Page:
        context = self.browser.new_context(
            java_script_enabled=False,
            locale="en-US",
            viewport={"width": width, "height": 900},
            storage_state=self.states[role],
        )
        self.contexts.append(context)
        page = context.new_page()
        response = page.goto(self.staff_url + path)
        assert response is not None, path
        assert response.status == 200, path
        assert page.locator("script").count() == 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        return page


def log_in(browser: Browser, server: LiveServer, account: Account) -> Any:  # noqa: F811
    """Log in once through the form; later pages reuse the session (TOTP codes are single-use)."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(server.staff_url + "/login")
        page.locator("#username").fill(account.username)
        page.locator("#password").fill(account.password)
        page.locator("#totp").fill(server.totp.code(account.totp_secret))
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        assert not page.url.endswith("/login"), page.url
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture(scope="module")
def workspace(browser: Browser, server: LiveServer) -> Iterator[Workspace]:  # noqa: F811
    recipient = server.add_user("recipient")
    admin = server.add_user("admin")
    marker = os.urandom(6).hex()
    message = f"Workspace layout check {marker}: the tender was split in three."
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        sent = submit(source, message, files=[("minutes.txt", b"minutes", "text/plain")])
        assert sent.status_code == 303, sent.text
    with server.api_client(recipient) as api:
        case = find_case(api, message)
        replied = api.post(f"/cases/{case['id']}/replies", json={"text": "Thank you."})
        assert replied.status_code == 201, replied.text
    states = {
        "recipient": log_in(browser, server, recipient),
        "admin": log_in(browser, server, admin),
    }
    found = Workspace(f"/cases/{case['id']}", states, [], browser, server.staff_url)
    yield found
    for context in found.contexts:
        context.close()


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    x, y, width, height = found["x"], found["y"], found["width"], found["height"]
    return {"x": x, "y": y, "width": width, "right": x + width, "bottom": y + height}


def no_sideways_scrolling(page: Page) -> bool:
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    return bool(width <= viewport)


def section_titles(page: Page) -> list[str]:
    """Each section's heading, without the count that some carry ("Labels 2")."""
    headings = page.locator(".case-side details.work-section > summary :is(h2, h3)")
    return [re.sub(r"\s+\d+$", "", text.strip()) for text in headings.all_inner_texts()]


def assert_reply_box_in_the_timeline(page: Page) -> None:
    entries = page.locator("ol.timeline > li")
    last = entries.last
    assert "compose" in (last.get_attribute("class") or "")
    assert last.locator("form.reply-form textarea#text").count() == 1
    # Below the message, the document and the reply, in the same column.
    assert page.locator("ol.timeline > li.entry.mine").count() == 2
    assert page.locator("ol.timeline > li.entry.reply").count() == 1
    previous = box(page, "ol.timeline > li:nth-last-child(2)")
    reply_box = box(page, "ol.timeline > li.compose")
    assert reply_box["y"] >= previous["bottom"]
    assert abs(reply_box["x"] - previous["x"]) <= TOLERANCE


def test_wide_screen_puts_the_case_work_beside_the_conversation(workspace: Workspace) -> None:
    page = workspace.open("recipient", workspace.case_path, DESKTOP, "case")
    conversation, side = box(page, ".conversation"), box(page, ".case-side")
    # The conversation comes first, on the left, and the case work beside it at the same height.
    assert side["x"] >= conversation["right"]
    assert abs(side["y"] - conversation["y"]) <= 20
    assert conversation["width"] > side["width"]
    assert side["right"] <= DESKTOP
    assert no_sideways_scrolling(page)
    assert_reply_box_in_the_timeline(page)
    # Every case-work section is shown beside the conversation without being opened.
    assert section_titles(page) == WORK_SECTIONS
    assert page.locator(".case-side details.work-section[open]").count() == 0
    for control in ("#work-status", "#work-label", "#work-note", "#keep-until"):
        assert page.locator(control).is_visible(), control
        assert box(page, control)["x"] >= conversation["right"]


def test_narrow_screen_puts_the_case_work_below_in_collapsible_sections(
    workspace: Workspace,
) -> None:
    page = workspace.open("recipient", workspace.case_path, PHONE, "case")
    conversation, side = box(page, ".conversation"), box(page, ".case-side")
    assert side["y"] >= conversation["bottom"]
    assert abs(side["x"] - conversation["x"]) <= TOLERANCE
    assert no_sideways_scrolling(page)
    assert_reply_box_in_the_timeline(page)
    assert page.locator("#text").is_visible()
    # The sections start closed and open with a tap, without JavaScript.
    assert section_titles(page) == WORK_SECTIONS
    assert page.locator(".case-side details.work-section[open]").count() == 0
    assert not page.locator("#work-status").is_visible()
    page.locator(".case-side details.work-section > summary").filter(has_text="Status").click()
    assert page.locator("#work-status").is_visible()
    assert page.locator(".case-side details.work-section[open]").count() == 1
    page.locator(".case-side details.work-section > summary").filter(has_text="Status").click()
    assert not page.locator("#work-status").is_visible()


def test_the_section_just_used_stays_open_on_a_narrow_screen(workspace: Workspace) -> None:
    page = workspace.open("recipient", workspace.case_path + "?done=label", PHONE, "case-done")
    assert page.get_by_role("status").filter(has_text="The labels were changed.").is_visible()
    assert page.locator("#work-label").is_visible()
    assert not page.locator("#work-status").is_visible()


def computed(page: Page, selector: str, names: list[str]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = page.evaluate(
        """([selector, names]) => [...document.querySelectorAll(selector)].map((el) => {
            const style = getComputedStyle(el);
            return Object.fromEntries(names.map((name) => [name, style.getPropertyValue(name)]));
        })""",
        [selector, names],
    )
    assert found, f"nothing matches {selector}"
    return found


def test_the_audit_table_never_breaks_a_word(workspace: Workspace) -> None:
    for width in (DESKTOP, PHONE):
        page = workspace.open("admin", "/admin/audit", width, "audit")
        assert page.locator("table.audit tbody tr").count() > 0
        styles = computed(
            page, "table.audit :is(th, td, td *)", ["word-break", "overflow-wrap", "hyphens"]
        )
        for style in styles:
            assert style["word-break"] in ("normal", "keep-all"), style
            assert style["overflow-wrap"] == "normal", style
            assert style["hyphens"] != "auto", style
        # Actions and case ids stay on one line each (an inline box split over two
        # lines has two rectangles).
        lines = page.evaluate(
            """(selector) => [...document.querySelectorAll(selector)].map(
                (el) => el.getClientRects().length)""",
            ", ".join(
                f"table.audit td:nth-child({column}) {inline}"
                for column, inline in ((4, "code"), (5, "code"))
            ),
        )
        assert lines, "no actions or case ids in the table"
        assert set(lines) == {1}, lines
        # The page itself does not scroll sideways: a wide table scrolls in its own box.
        assert no_sideways_scrolling(page)


def test_form_controls_share_one_style(workspace: Workspace) -> None:
    names = ["border-top-style", "border-top-color", "border-top-left-radius", "padding-top",
             "font-size", "font-family", "background-color"]  # fmt: skip
    page = workspace.open("admin", "/admin/audit", DESKTOP, "audit-form")
    kinds = ["input[name=actor]", "select[name=action]", "input[type=date]"]
    looks = [computed(page, f"form.filters {kind}", names)[0] for kind in kinds]
    recipient_page = workspace.open("recipient", "/", DESKTOP, "inbox")
    looks.append(computed(recipient_page, "form.inbox-filters input[type=search]", names)[0])
    assert all(look == looks[0] for look in looks), looks
    assert looks[0]["border-top-style"] == "solid"
