"""The inbox over HTTP: ``mailslot demo-data`` fills a real server; the API's filters and
sorts agree with a plain reading of every case; the staff page filters, paginates and
reports bad filters calmly; a demo case opens for a recipient like any other; a browser with
JavaScript off shows it all (screenshots in test-artifacts/browser/inbox-*.png)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from html import unescape
from typing import Any

import httpx
import pytest

from tests.conftest import Account, LiveServer
from tests.functional.test_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, _unavailable

DAY = 86400


def cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", *args],
        env=server.env,
        capture_output=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def world(server: LiveServer) -> dict[str, Any]:
    """Channel inbox-x (ann, bob) with 45 demo cases; inbox-y (bob only) with 10."""
    ann = server.add_user("recipient", channels=())
    bob = server.add_user("recipient", channels=())
    x = server.add_channel("inbox-x", (ann.username, bob.username))
    y = server.add_channel("inbox-y", (bob.username,))
    for channel, count in (("inbox-x", 45), ("inbox-y", 10)):
        done = cli(server, "demo-data", "--cases", str(count), "--channel", channel)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["cases"] == count
        assert b"demo-data: " in done.stderr  # progress
    return {"ann": ann, "bob": bob, "x": x, "y": y}


def all_cases(api: httpx.Client) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    while True:
        page = api.get("/cases", params={"limit": 20, "offset": len(cases)})
        assert page.status_code == 200, page.text
        cases += page.json()["cases"]
        if len(cases) >= page.json()["total"]:
            return cases


def test_demo_data_needs_a_channel_with_recipients(server: LiveServer) -> None:
    done = cli(server, "demo-data", "--cases", "3", "--channel", "no-such-channel")
    assert done.returncode != 0
    assert b"No channel named 'no-such-channel' with recipients" in done.stderr
    assert b"cannot log in" in cli(server, "demo-data", "--help").stdout


def test_a_demo_case_opens_like_a_real_one(
    server: LiveServer, world: dict[str, Any], ann_api: httpx.Client
) -> None:
    api = ann_api
    cases = all_cases(api)
    assert len(cases) == 45
    kinds: set[str] = set()
    for summary in cases[:15]:
        detail = api.get(f"/cases/{summary['id']}").json()
        for item in detail["items"]:
            kinds.add(item["kind"])
            assert not item["sealed"]
            if item["kind"] in ("message", "reply", "note"):
                assert item["text"]
            if item["kind"] == "file":
                content = api.get(f"/cases/{summary['id']}/items/{item['id']}/content")
                assert content.status_code == 200
                assert content.content.startswith(b"demo document")
        assert detail["created_at"] <= detail["last_activity_at"]
    assert {"message", "reply"} <= kinds
    # Nothing of it is in the database in clear: the subject lines are sealed.
    if server.database is None:
        raw = b"".join(p.read_bytes() for p in server.data_dir.glob("*.db*"))
        assert b"purchasing department" not in raw
        assert b"demo document" not in raw


def test_api_filters_agree_with_a_plain_reading(
    server: LiveServer, world: dict[str, Any], ann_api: httpx.Client
) -> None:
    now = int(time.time())
    api = ann_api
    cases = all_cases(api)
    with server.api_client(world["bob"]) as bob_api:
        bob_cases = all_cases(bob_api)
    hidden = {c["id"] for c in bob_cases if c["channel"] == "inbox-y"}
    assert len(hidden) == 10
    assert not hidden & {c["id"] for c in cases}
    labels = sorted({label["id"] for c in cases for label in c["labels"]})
    assert labels
    ann_id = world["ann"].id
    checks: list[tuple[dict[str, Any], Any]] = [
        ({"status": "closed"}, lambda c: c["status"] == "closed"),
        ({"status": "new"}, lambda c: c["status"] == "new"),
        ({"label": labels[0]}, lambda c: labels[0] in [x["id"] for x in c["labels"]]),
        ({"assignee": "me"}, lambda c: ann_id in [a["id"] for a in c["assignees"]]),
        ({"assignee": "none"}, lambda c: not c["assignees"]),
        ({"channel": world["x"]}, lambda c: c["channel"] == "inbox-x"),
        ({"channel": world["y"]}, lambda c: False),
        ({"overdue": "true"}, lambda c: c["overdue"]),
        ({"important": "true"}, lambda c: c["important"]),
        ({"unread": "true"}, lambda c: c["unread"]),
        (
            {"created_after": now - 300 * DAY, "created_before": now - 30 * DAY},
            lambda c: now - 300 * DAY <= c["created_at"] < now - 30 * DAY,
        ),
        ({"q": cases[0]["pseudonym"]}, lambda c: c["pseudonym"] == cases[0]["pseudonym"]),
    ]
    for params, keep in checks:
        listing = api.get("/cases", params={**params, "limit": 200})
        assert listing.status_code == 200, (params, listing.text)
        got = [c["id"] for c in listing.json()["cases"]]
        assert got == [c["id"] for c in cases if keep(c)], params
        assert listing.json()["total"] == len(got)
        assert not set(got) & hidden
    # Sorts.
    deadline = api.get("/cases", params={"sort": "deadline", "limit": 200}).json()["cases"]
    due = [c["due_at"] for c in deadline if c["due_at"] is not None]
    assert due == sorted(due)
    assert all(c["due_at"] is None for c in deadline[len(due) :])
    created = api.get("/cases", params={"sort": "created", "order": "asc", "limit": 200})
    times = [c["created_at"] for c in created.json()["cases"]]
    assert times == sorted(times)
    assert len(times) == 45
    # Every case carries its case-work fields.
    first = cases[0]
    for field in ("status", "custom_status", "labels", "assignees", "acknowledge_by",
                  "feedback_by", "due_at", "overdue", "closed_at", "important"):  # fmt: skip
        assert field in first
    detail = api.get(f"/cases/{first['id']}").json()
    for field in ("status", "labels", "assignees", "due_at", "overdue"):
        assert detail[field] == first[field], field


@pytest.fixture(scope="module")
def ann_api(server: LiveServer, world: dict[str, Any]) -> Iterator[httpx.Client]:
    """One API token for the module's refusals (each new token needs an unused TOTP code,
    and a fresh one per case would wait for the next 30-second step)."""
    with server.api_client(world["ann"]) as api:
        yield api


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"status": "bogus"}, 422, ""),
        ({"sort": "size"}, 422, ""),
        ({"label": "not-an-id"}, 400, "label"),
        ({"assignee": "someone"}, 400, "assignee"),
        ({"limit": 0}, 422, ""),
    ],
)
def test_api_refuses_bad_filters(
    ann_api: httpx.Client, params: dict[str, Any], status: int, words: str
) -> None:
    response = ann_api.get("/cases", params=params)
    assert response.status_code == status, response.text
    assert words in json.dumps(response.json()["detail"])


def test_openapi_documents_the_filters(server: LiveServer) -> None:
    spec = httpx.get(f"{server.staff_url}/api/v1/openapi.json").json()
    names = {p["name"] for p in spec["paths"]["/cases"]["get"]["parameters"]}
    assert {"status", "label", "assignee", "channel", "overdue", "sort", "order", "q"} <= names
    assert "due_at" in spec["components"]["schemas"]["CaseOut"]["properties"]


def rows(html: str) -> list[str]:
    return re.findall(r'<a href="/cases/([0-9a-f]{32})">', html)


def test_staff_inbox_filters_paginates_and_counts(
    server: LiveServer, world: dict[str, Any], ann_api: httpx.Client
) -> None:
    client = server.staff_client(world["ann"])
    try:
        # Demo deadlines are spread over time, so one may pass while this test runs: each
        # count is checked against a reading of the cases at the start and at the end of the
        # request that shows it.
        cases = all_cases(ann_api)

        def late_at(moment: float) -> int:
            return sum(1 for c in cases if c["due_at"] is not None and c["due_at"] < moment)

        def soon_at(moment: float) -> set[str]:
            return {
                c["id"] for c in cases if c["due_at"] and moment <= c["due_at"] < moment + 3 * DAY
            }

        start = time.time()
        page = client.get("/")
        end = time.time()
        assert page.status_code == 200
        text = unescape(page.text)
        shown = re.search(r"(\d+) cases? overdue", text)
        if late_at(end + 1) or soon_at(start - 1) | soon_at(end + 1):
            assert shown is not None
            assert late_at(start - 1) <= int(shown[1]) <= late_at(end + 1)
            due = re.search(r"(\d+) due within 3 days", text)
            assert due is not None
            assert len(soon_at(start - 1) & soon_at(end + 1)) <= int(due[1])
            assert int(due[1]) <= len(soon_at(start - 1) | soon_at(end + 1))
        assert len(rows(page.text)) == min(25, len(cases))
        assert "search finds cases by pseudonym or case id only" in text
        # Page 2 keeps the filters; pages put together list each case once.
        closed = [c["id"] for c in cases if c["status"] == "closed"]
        first = client.get("/", params={"status": "closed", "sort": "activity"})
        found = rows(first.text)
        next_link = re.search(r'href="([^"]+)" rel="next"', first.text)
        if len(closed) > 25:
            assert next_link is not None
            url = unescape(next_link[1])
            assert "status=closed" in url
            assert "page=2" in url
            found += rows(client.get(url).text)
        assert found == closed
        # Overdue rows say so in words, not only in colour.
        start = time.time()
        late = client.get("/", params={"overdue": "1"})
        end = time.time()
        marks = late.text.count('<strong class="overdue-mark">Overdue</strong>')
        assert marks == len(rows(late.text))
        assert min(late_at(start - 1), 25) <= marks <= min(late_at(end + 1), 25)
        # The filter form offers the custom statuses of the channel.
        assert 'value="custom:' in page.text
        # A bad filter is explained on the page, with the form still there.
        bad = client.get("/", params={"created_from": "2026-02-31", "q": "kept"})
        assert bad.status_code == 400
        assert "That date is not valid: created_from (use YYYY-MM-DD)." in unescape(bad.text)
        assert 'value="kept"' in bad.text
        nobody = client.get("/", params={"label": "x" * 32})
        assert nobody.status_code == 400
        # None of bob's other channel appears, whatever the filter.
        other = client.get("/", params={"channel": world["y"]})
        assert rows(other.text) == []
        assert "No cases match these filters." in other.text
    finally:
        client.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


def test_inbox_in_a_browser_without_javascript(
    server: LiveServer, world: dict[str, Any], browser: Any
) -> None:
    account: Account = world["ann"]
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1400, "height": 900}
    )
    page = context.new_page()
    page.goto(server.staff_url + "/login")
    page.locator("#username").fill(account.username)
    page.locator("#password").fill(account.password)
    page.locator("#totp").fill(server.totp.code(account.totp_secret))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server.staff_url + "/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "inbox-default.png"), full_page=True)
    # Filter with the form (a plain GET, no script), then sort with a link.
    page.locator("select[name=status]").select_option("in_progress")
    page.locator("input[name=unread]").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*status=in_progress.*"))
    assert page.locator("select[name=status]").input_value() == "in_progress"
    page.get_by_role("link", name="Deadline").click()
    page.wait_for_url(re.compile(r".*sort=deadline.*"))
    assert "status=in_progress" in page.url
    assert "unread=1" in page.url
    page.screenshot(path=str(SHOTS / "inbox-filtered.png"), full_page=True)
    page.goto(server.staff_url + "/?overdue=1&sort=deadline")
    page.screenshot(path=str(SHOTS / "inbox-overdue.png"), full_page=True)
    context.close()
