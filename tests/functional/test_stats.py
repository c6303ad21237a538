"""Statistics over HTTP: the dashboard, its CSV export and the API, for administrators and
analysts only; the analyst role end to end (enrolled by the CLI or an invitation, lands on
/stats, reaches no case); and the dashboard in Chromium with JavaScript off."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mailslot.audit.models import AuditEvent
from mailslot.recipients.models import Enrollment
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, new_source, submit
from tests.unit.test_stats import build_known_cases

RANGE = {"from": "2026-01", "to": "2026-03"}
MESSAGE = "Stats check: the case content must never show on a statistics page."
SHOTS = Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve() / "browser"


class World:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.analyst = server.add_user("analyst")
        self.admin = server.add_user("admin")
        self.member = server.add_user("recipient")
        runtime = server.runtime()
        try:
            with runtime.default.db() as db:
                self.channel_ids = build_known_cases(db)
        finally:
            runtime.close()
        with httpx.Client(base_url=server.source_url, timeout=60) as source:
            new_source(source)
            assert submit(source, MESSAGE, channel=self.channel_ids["default"]).status_code == 303
        with server.api_client(self.member) as api:
            case = find_case(api, MESSAGE)
        self.case_id = str(case["id"])
        self.item_id = str(case["items"][0]["id"])


@pytest.fixture(scope="module")
def world(server: LiveServer) -> World:
    return World(server)


@pytest.fixture(scope="module")
def analyst_web(world: World) -> Iterator[httpx.Client]:
    with closing(world.server.staff_client(world.analyst)) as client:
        yield client


def table_value(html: str, label: str) -> str:
    match = re.search(rf'<th scope="row">{re.escape(label)}</th>\s*<td>(.*?)</td>', html)
    assert match, label
    return re.sub(r"<[^>]+>", "", match[1])


def test_cli_makes_an_analyst_who_joins_no_channel(world: World) -> None:
    pw_file = world.server.data_dir.parent / "analyst.pw"
    pw_file.write_text("correct horse battery analyst\n")
    base = [sys.executable, "-m", "mailslot.cli.main", "users", "add", "--role", "analyst"]
    args = [*base, "--username", "ana-json", "--password-file", str(pw_file), "--json"]
    made = subprocess.run(args, env=world.server.env, capture_output=True, timeout=60, check=True)
    assert json.loads(made.stdout)["role"] == "analyst"
    assert json.loads(made.stdout)["channels"] == []
    refused = subprocess.run(
        [*base, "--username", "ana-2", "--password-file", str(pw_file), "--channel", "default"],
        env=world.server.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert b"Only recipients can be members of a channel." in refused.stderr


def test_an_analyst_logs_in_to_the_statistics(world: World) -> None:
    with httpx.Client(base_url=world.server.staff_url, timeout=60) as client:
        login = client.post(
            "/login",
            data={
                "username": world.analyst.username,
                "password": world.analyst.password,
                "totp": world.server.totp.code(world.analyst.totp_secret),
            },
        )
        assert (login.status_code, login.headers["location"]) == (303, "/stats")
        home = client.get("/")
        assert (home.status_code, home.headers["location"]) == (303, "/stats")
        page = client.get("/stats")
        assert page.status_code == 200
        assert '<a href="/stats">Statistics</a>' in page.text
        assert ">Inbox<" not in page.text
        assert ">Administration<" not in page.text


def test_the_dashboard_shows_protected_numbers(world: World, analyst_web: httpx.Client) -> None:
    page = analyst_web.get("/stats", params=RANGE)
    assert page.status_code == 200
    html = page.text
    assert html.count("<svg ") == 4
    assert html.count('role="img"') == 4
    assert "style=" not in html
    assert table_value(html, "Cases opened") == "20"
    assert table_value(html, "default") == "12"
    assert table_value(html, "legal") == "hidden"
    assert table_value(html, "tiny") == "hidden"
    assert table_value(html, "New") == "6"
    assert table_value(html, "Acknowledged") == "7"
    assert table_value(html, "In progress") == "hidden"
    assert table_value(html, "Closed") == "hidden"
    assert table_value(html, "2026-01") == "12"
    assert table_value(html, "2026-02") == "hidden"
    assert table_value(html, "Acknowledgement overdue now") == "6"
    # Six of default's past their 30 days, and tiny's two past their 90: but 2 < 5 alone
    # does not matter here, the count is 8.
    assert table_value(html, "Feedback overdue now") == "8"
    assert table_value(html, "Feedback given by the deadline") == "100.0% of 6 cases"
    assert table_value(html, "Acknowledged by the deadline") == "withheld"
    assert MESSAGE not in html
    # The selection is kept in the form and in the CSV link.
    assert 'value="2026-01"' in html
    assert 'href="/stats.csv?from=2026-01&amp;to=2026-03"' in html


def test_one_channel_and_bad_selections(world: World, analyst_web: httpx.Client) -> None:
    legal = world.channel_ids["legal"]
    page = analyst_web.get("/stats", params={**RANGE, "channel": legal})
    assert page.status_code == 200
    assert table_value(page.text, "Cases opened") == "6"
    assert f'<option value="{legal}" selected>' in page.text
    bad = analyst_web.get("/stats", params={"from": "2026-13"})
    assert bad.status_code == 400
    assert "A month looks like 2026-01." in bad.text
    backwards = analyst_web.get("/stats", params={"from": "2026-03", "to": "2026-01"})
    assert backwards.status_code == 400
    unknown = analyst_web.get("/stats", params={"channel": "0" * 32})
    assert unknown.status_code == 404


def test_csv_export_is_a_download_and_is_audited(world: World, analyst_web: httpx.Client) -> None:
    def exports() -> list[AuditEvent]:
        runtime = world.server.runtime()
        try:
            with runtime.default.db() as db:
                query = select(AuditEvent).where(AuditEvent.action == "stats.export")
                events = list(db.scalars(query))
                db.expunge_all()
                return events
        finally:
            runtime.close()

    before = len(exports())
    response = analyst_web.get("/stats.csv", params=RANGE)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="mailslot-stats-2026-01-2026-03.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    table = {(section, item): value for section, item, value in rows[1:]}
    assert table["cases", "total"] == "20"
    assert table["channel", "tiny"] == "hidden"
    assert table["status", "new"] == "6"
    assert table["time_to_acknowledge", "median_days"] == "1.0"
    events = exports()
    assert len(events) == before + 1
    event = events[-1]
    assert (event.actor_id, event.actor) == (world.analyst.id, world.analyst.username)
    detail = json.loads(event.detail)
    assert detail == {"channel_id": None, "first": "2026-01", "last": "2026-03"}
    assert event.case_id is None


def test_the_api_gives_the_same_figures(world: World) -> None:
    with world.server.api_client(world.analyst) as api:
        response = api.get("/stats", params=RANGE)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["min_count"] == 5
        assert body["total"] == {"value": 20, "suppressed": False}
        channels = {c["label"]: c for c in body["channels"]}
        assert channels["default"]["value"] == 12
        assert channels["tiny"] == {
            "key": world.channel_ids["tiny"],
            "label": "tiny",
            "value": None,
            "suppressed": True,
        }
        statuses = {c["key"]: (c["value"], c["suppressed"]) for c in body["statuses"]}
        assert statuses == {
            "new": (6, False),
            "acknowledged": (7, False),
            "in_progress": (None, True),
            "closed": (None, True),
        }
        ack = body["durations"][0]
        assert (ack["measure"], ack["median_days"], ack["p90_days"]) == ("acknowledge", 1.0, 2.0)
        on_ack = body["on_time"][0]
        assert (on_ack["percent"], on_ack["suppressed"]) == (None, True)
        assert api.get("/stats", params={"from": "2026-13"}).status_code == 400
        assert api.get("/stats", params={"from": "January"}).status_code == 422
        # Analysts see no case list and no case.
        assert api.get("/cases").status_code == 403
        assert api.get(f"/cases/{world.case_id}").status_code == 404
        content = api.get(f"/cases/{world.case_id}/items/{world.item_id}/content")
        assert content.status_code == 404
        assert MESSAGE.encode() not in content.content
    with world.server.api_client(world.admin) as api:
        assert api.get("/stats", params=RANGE).json()["total"]["value"] == 20
    with world.server.api_client(world.member) as api:
        refused = api.get("/stats")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "Only administrators and analysts can see statistics."}
    anonymous = httpx.get(f"{world.server.staff_url}/api/v1/stats", timeout=60)
    assert anonymous.status_code == 401
    described = httpx.get(f"{world.server.staff_url}/api/v1/openapi.json", timeout=60).json()
    operation = described["paths"]["/stats"]["get"]
    assert {"401", "403", "400"} <= set(operation["responses"])
    count = described["components"]["schemas"]["CountOut"]["properties"]
    assert "suppressed" in count
    assert "single out" in count["suppressed"]["description"]


def test_analysts_reach_no_case_and_no_admin_page(world: World, analyst_web: httpx.Client) -> None:
    for path in (
        f"/cases/{world.case_id}",
        f"/cases/{world.case_id}/items/{world.item_id}/download",
        f"/cases/{world.case_id}/download-all",
        f"/cases/{world.case_id}/delete",
    ):
        response = analyst_web.get(path)
        assert response.status_code == 404, path
        assert MESSAGE not in response.text
    for path in ("/admin", "/admin/invite", "/admin/settings"):
        assert analyst_web.get(path).status_code == 403, path


def test_recipients_do_not_see_statistics_and_admins_do(world: World) -> None:
    with closing(world.server.staff_client(world.member)) as member:
        for path in ("/stats", "/stats.csv"):
            refused = member.get(path)
            assert refused.status_code == 403, path
            assert "Only administrators and analysts can see statistics." in refused.text
        assert ">Statistics<" not in member.get("/").text
    with closing(world.server.staff_client(world.admin)) as admin:
        page = admin.get("/stats", params=RANGE)
        assert page.status_code == 200
        assert table_value(page.text, "Cases opened") == "20"
        assert '<a href="/stats">Statistics</a>' in admin.get("/admin").text
    with httpx.Client(base_url=world.server.staff_url, timeout=60) as anonymous:
        for path in ("/stats", "/stats.csv"):
            response = anonymous.get(path)
            assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_an_admin_invites_an_analyst(world: World) -> None:
    with closing(world.server.staff_client(world.admin)) as admin:
        form = admin.get("/admin/invite")
        assert 'value="analyst"' in form.text
        invited = admin.post(
            "/admin/invite",
            data={
                "csrf": csrf(form.text),
                "role": "analyst",
                "username": "invited-analyst",
                "channels": world.channel_ids["default"],
            },
        )
        assert invited.status_code == 200
        assert "/setup/" in invited.text
    runtime = world.server.runtime()
    try:
        with runtime.default.db() as db:
            enrollment = db.scalar(
                select(Enrollment).where(Enrollment.username == "invited-analyst")
            )
            assert enrollment is not None
            assert (enrollment.role, enrollment.channel_ids) == ("analyst", "")
    finally:
        runtime.close()


# The dashboard in a real browser, JavaScript off.


@pytest.mark.browser
def test_dashboard_in_chromium_without_javascript(world: World) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.fail("Debian's chromium is needed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    console: list[str] = []
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            context = browser.new_context(java_script_enabled=False)
            page = context.new_page()

            def on_console(message: Any) -> None:
                console.append(f"{message.type}: {message.text}")

            def on_response(response: Any) -> None:
                if response.status >= 400:
                    failed.append(response.url)

            page.on("console", on_console)
            page.on("response", on_response)
            page.goto(world.server.staff_url + "/login")
            analyst: Account = world.analyst
            page.locator("#username").fill(analyst.username)
            page.locator("#password").fill(analyst.password)
            page.locator("#totp").fill(world.server.totp.code(analyst.totp_secret))
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(world.server.staff_url + "/stats")
            assert page.get_by_role("heading", level=1).inner_text() == "Statistics"
            # Choose the months with the form, as a person would.
            page.locator("#from").fill("2026-01")
            page.locator("#to").fill("2026-03")
            page.get_by_role("button", name="Show").click()
            page.wait_for_url(re.compile(r".*/stats\?from=2026-01&to=2026-03&channel=$"))
            charts = page.locator("svg.chart")
            assert charts.count() == 4
            assert page.get_by_role("img", name="Cases opened per month").count() == 1
            assert page.locator("svg.chart rect").count() >= 8
            box = charts.first.bounding_box()
            assert box is not None
            assert box["width"] > 200
            assert box["height"] > 50
            assert page.locator("script").count() == 0
            page.screenshot(path=str(SHOTS / "stats-dashboard.png"), full_page=True)
            page.set_viewport_size({"width": 400, "height": 800})
            page.screenshot(path=str(SHOTS / "stats-dashboard-narrow.png"), full_page=True)
            context.close()
        finally:
            browser.close()
    # No policy violation and no failed load: every response the pages asked for was fine.
    # The one message allowed is Chromium's own favicon request (there is no favicon), which
    # Playwright does not see as a response of the page.
    assert failed == []
    favicon = "error: Failed to load resource: the server responded with a status of 404"
    assert [m for m in console if not m.startswith(favicon)] == [], console
    assert len(console) <= 1, console
