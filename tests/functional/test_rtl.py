"""Right-to-left pages (Arabic, Persian) and the script rules of Korean, Chinese and Japanese,
measured in Debian's Chromium with JavaScript off.

The stylesheet uses logical properties only (margin-inline-start, not margin-left), so a page
with dir="rtl" is the left-to-right page mirrored: these tests compare element boxes of the
same page in English and in Arabic or Persian, on a wide and a narrow screen. Screenshots land
in ``$MAILSLOT_TEST_ARTIFACTS/rtl/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mailslot import i18n
from tests.conftest import LiveServer
from tests.functional.test_browser import browser  # noqa: F401 - the same Chromium fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve() / "rtl"
WIDTHS = (1100, 360)  # a desktop and a phone
TOLERANCE = 2.0  # CSS pixels


@pytest.fixture(scope="module")
def pages(browser: Browser, server: LiveServer) -> Iterator[Any]:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    contexts = []

    def open_page(path: str, locale: str, width: int, name: str) -> Page:
        context = browser.new_context(
            java_script_enabled=False, viewport={"width": width, "height": 900}
        )
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{server.source_url}{path}?lang={i18n.language(locale).tag}")
        page.screenshot(path=str(SHOTS / f"{name}-{locale}-{width}.png"), full_page=True)
        return page

    yield open_page
    for context in contexts:
        context.close()


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return {**found, "right": found["x"] + found["width"]}


def text_edges(page: Page, selector: str) -> tuple[float, float]:
    """Where the text of an element starts and ends on screen (not its block's box)."""
    edges: list[float] = page.evaluate(
        """(selector) => {
            const range = document.createRange();
            range.selectNodeContents(document.querySelector(selector));
            const found = range.getBoundingClientRect();
            return [found.left, found.right];
        }""",
        selector,
    )
    return edges[0], edges[1]


def style(page: Page, selector: str, name: str) -> str:
    return str(
        page.evaluate(
            "([s, n]) => getComputedStyle(document.querySelector(s)).getPropertyValue(n)",
            [selector, name],
        )
    )


def no_sideways_scrolling(page: Page) -> bool:
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    return bool(width <= viewport)


@pytest.mark.parametrize("locale", ["ar", "fa"])
@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_is_mirrored(pages: Any, locale: str, width: int) -> None:
    ltr = pages("/", "en", width, "home")
    rtl = pages("/", locale, width, "home")
    assert rtl.locator("html").get_attribute("dir") == "rtl"
    assert ltr.locator("html").get_attribute("dir") == "ltr"
    for page in (ltr, rtl):
        assert no_sideways_scrolling(page)
    # The header's start-aligned item, the site's name, is on the right, as far from the edge
    # as in English; the quick exit and the language menu are on the left.
    ltr_brand, rtl_brand = box(ltr, ".brand"), box(rtl, ".brand")
    ltr_exit, rtl_exit = box(ltr, ".quick-exit"), box(rtl, ".quick-exit")
    ltr_menu, rtl_menu = box(ltr, ".lang-menu summary"), box(rtl, ".lang-menu summary")
    assert abs(ltr_brand["x"] - (width - rtl_brand["right"])) <= TOLERANCE
    assert ltr_brand["x"] < ltr_exit["x"]
    assert rtl_brand["x"] > rtl_exit["x"]
    if width > 600:  # one line: the quick exit, then the menu, end the header
        assert abs((width - ltr_menu["right"]) - rtl_menu["x"]) <= TOLERANCE
        assert rtl_menu["right"] < width / 2 < ltr_menu["x"]
        assert ltr_exit["right"] < ltr_menu["x"]
        assert rtl_exit["x"] > rtl_menu["right"]
    for menu in (ltr_menu, rtl_menu):
        assert 0 <= menu["x"] < menu["right"] <= width
    # The heading's text starts at the right edge of its box, as in English at the left.
    rtl_heading, ltr_heading = box(rtl, "main h1"), box(ltr, "main h1")
    assert abs(text_edges(rtl, "main h1")[1] - rtl_heading["right"]) <= TOLERANCE
    assert abs(text_edges(ltr, "main h1")[0] - ltr_heading["x"]) <= TOLERANCE
    assert abs(ltr_heading["x"] - (width - rtl_heading["right"])) <= TOLERANCE
    # Lists are indented from the right.
    assert style(rtl, ".safety ul", "padding-right") == style(ltr, ".safety ul", "padding-left")
    assert style(rtl, ".safety ul", "padding-left") == "0px"


@pytest.mark.parametrize("locale", ["ar", "fa"])
@pytest.mark.parametrize("width", WIDTHS)
def test_the_language_menu_opens_inside_the_screen(pages: Any, locale: str, width: int) -> None:
    page = pages("/", locale, width, "menu-closed")
    page.locator(".lang-menu summary").click()
    listed = box(page, ".lang-list")
    summary = box(page, ".lang-menu summary")
    assert page.locator(".lang-list li").count() == len(i18n.SUPPORTED_LOCALES)
    assert listed["x"] >= 0
    assert listed["right"] <= width
    # Anchored at the header's end: its left edge in a right-to-left page.
    header = box(page, ".top-inner")
    assert abs(listed["x"] - (header["x"] + 20)) <= TOLERANCE
    assert listed["y"] >= summary["y"]
    assert no_sideways_scrolling(page)
    page.screenshot(path=str(SHOTS / f"menu-open-{locale}-{width}.png"), full_page=True)


def test_the_codename_page_keeps_a_left_to_right_codename_in_order(pages: Any) -> None:
    page = pages("/new", "ar", 1100, "new")
    with page.expect_navigation():
        page.get_by_role("button", name=i18n.translate("ar", "Show my codename")).click()
    codename = page.locator("#codename")
    words = codename.inner_text().split()
    # Measured once the page is painted with its fonts (right after the navigation, the
    # words can all still sit at one place).
    page.evaluate("document.fonts.ready.then(() => true)")
    page.screenshot(path=str(SHOTS / "codename-ar-1100.png"), full_page=True)
    assert len(words) == 7
    # The words keep their own left-to-right order inside the right-to-left page.
    assert style(page, "#codename", "unicode-bidi") == "plaintext"
    lefts: list[list[float]] = []
    for _ in range(20):  # until laid out: right after a navigation all can read the same
        lefts = page.evaluate(
            """() => {
                const node = document.querySelector('#codename').firstChild;
                let at = 0;
                return node.textContent.split(' ').map((word) => {
                    const range = document.createRange();
                    range.setStart(node, at);
                    range.setEnd(node, at + word.length);
                    at += word.length + 1;
                    const box = range.getBoundingClientRect();
                    return [Math.round(box.top), box.left];
                });
            }"""
        )
        if len({tuple(box) for box in lefts}) == len(lefts):
            break
        page.wait_for_timeout(100)
    # In reading order: line by line from the top, and left to right on each line.
    assert [tuple(box) for box in lefts] == sorted(tuple(box) for box in lefts)
    assert len({tuple(box) for box in lefts}) == len(lefts)


@pytest.mark.parametrize(
    ("locale", "property_name", "value"),
    [
        ("ko", "word-break", "keep-all"),  # Korean breaks between words only
        ("ja", "line-break", "strict"),  # no line starts with a small kana or a closing mark
        ("zh_Hans", "line-break", "strict"),
        ("zh_Hant", "line-break", "strict"),
        ("en", "word-break", "normal"),
    ],
)
def test_script_rules(pages: Any, locale: str, property_name: str, value: str) -> None:
    page = pages("/", locale, 360, "script")
    assert style(page, "main p", property_name) == value
    assert no_sideways_scrolling(page)


def test_the_stylesheet_has_no_physical_left_or_right() -> None:
    css = (resources.files("mailslot.web") / "static" / "mailslot.css").read_text()
    physical = re.findall(r"[\w-]*(?:left|right)[\w-]*\s*:", css)
    assert physical == []
    assert not re.search(r"text-align:\s*(left|right)", css)
    assert not re.search(r"float:\s*(left|right)", css)


def test_no_screenshot_is_blank() -> None:
    shots = sorted(SHOTS.glob("*.png"))
    assert shots
    for shot in shots:
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 5000, shot
