"""A channel's case settings through the real server: the admin form (days, automatic
acknowledgement per language, custom statuses), the automatic acknowledgement a new source
gets in their language, and the phase the source sees (also in Chromium, JavaScript off)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

import mailslot.db.models  # noqa: F401 - every table, for the foreign keys
from mailslot.audit.models import AuditEvent
from mailslot.cases.models import Case, CustomStatus, Item, ItemKeyWrap
from mailslot.channels.models import AutoReply, Channel
from mailslot.db.base import coarse
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, new_source, submit

ACK_EN = "Thank you. We received your report and will read it within a week."
ACK_KO = "제보해 주셔서 감사합니다. 일주일 안에 읽겠습니다."
DAY = 86400


@pytest.fixture
def recipient(server: LiveServer) -> Account:
    """A recipient of their own for each test: each login needs an unused TOTP code, and
    one account shared by every test here would wait for the next 30-second step."""
    return server.add_user("recipient")


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Account:
    return server.add_user("admin")


@pytest.fixture(scope="module")
def channel_id(server: LiveServer) -> str:
    runtime = server.runtime()
    try:
        return str(
            runtime.default.transact(
                lambda db: db.scalar(select(Channel.id).where(Channel.name == "default"))
            )
        )
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def admin_web(server: LiveServer, admin: Account) -> Iterator[httpx.Client]:
    """The admin's one session for the module (another login would need an unused TOTP
    code, and there are only a few a minute)."""
    with closing(server.staff_client(admin)) as client:
        yield client


def db_value(server: LiveServer, query: Any) -> Any:
    runtime = server.runtime()
    try:
        return runtime.default.transact(lambda db: db.execute(query).all())
    finally:
        runtime.close()


def db_do(server: LiveServer, statement: Any) -> None:
    runtime = server.runtime()
    try:
        runtime.default.transact(lambda db: db.execute(statement))
    finally:
        runtime.close()


def audit_events(server: LiveServer, prefix: str) -> list[dict[str, Any]]:
    rows = db_value(
        server,
        select(AuditEvent.action, AuditEvent.detail, AuditEvent.actor).where(
            AuditEvent.action.like(prefix + "%")
        ),
    )
    return [{"action": a, "detail": json.loads(d), "actor": actor} for a, d, actor in rows]


def save_settings(
    web: httpx.Client, channel_id: str, lang: str = "en", **values: str
) -> httpx.Response:
    path = f"/admin/channels/{channel_id}/settings"
    page = web.get(path, params={"lang": lang})
    assert page.status_code == 200, page.text
    form = {
        "csrf": csrf(page.text),
        "acknowledge_days": "7",
        "feedback_days": "90",
        "retention_days": "90",
        "closed_retention_days": "30",
        "auto_reply_en": "",
        "auto_reply_ko": "",
    }
    form.update(values)
    return web.post(path, data=form, params={"lang": lang})


# The admin form.


def test_admin_changes_days_and_auto_replies_with_audit(
    server: LiveServer,
    admin: Account,
    admin_web: httpx.Client,
    channel_id: str,
    recipient: Account,
) -> None:
    # The channel page links to its case settings.
    channel_page = admin_web.get(f"/admin/channels/{channel_id}")
    assert f"/admin/channels/{channel_id}/settings" in channel_page.text
    page = admin_web.get(f"/admin/channels/{channel_id}/settings")
    assert "Existing cases keep the deadlines they were given" in page.text

    saved = save_settings(
        admin_web,
        channel_id,
        acknowledge_days="5",
        retention_days="120",
        closed_retention_days="0",
        auto_reply_en=ACK_EN,
        auto_reply_ko=ACK_KO + "\x07",
    )
    assert (saved.status_code, saved.headers["location"]) == (
        303,
        f"/admin/channels/{channel_id}/settings?saved=1",
    )
    page = admin_web.get(saved.headers["location"])
    assert "The settings were saved." in page.text
    assert ACK_KO in page.text
    assert 'value="120"' in page.text
    ((ack, feedback, retention, closed),) = db_value(
        server,
        select(
            Channel.acknowledge_days,
            Channel.feedback_days,
            Channel.retention_days,
            Channel.closed_retention_days,
        ).where(Channel.id == channel_id),
    )
    assert (ack, feedback, retention, closed) == (5, 90, 120, 0)
    replies = dict(db_value(server, select(AutoReply.locale, AutoReply.text)))
    assert replies == {"en": ACK_EN, "ko": ACK_KO}  # the control character was dropped
    (event,) = audit_events(server, "channel.settings")
    assert event["actor"] == admin.username
    assert event["detail"] == {
        "channel_id": channel_id,
        "changed": {"acknowledge_days": 5, "retention_days": 120, "closed_retention_days": 0},
        "auto_reply_languages": ["en", "ko"],
    }
    raw = json.dumps(audit_events(server, ""), ensure_ascii=False)
    assert "감사합니다" not in raw
    assert "Thank you" not in raw

    # Out of range: a clear error, nothing saved.
    for field, value, message in (
        (
            "acknowledge_days",
            "0",
            "Days to acknowledge receipt must be a whole number from 1 to 365.",
        ),
        ("feedback_days", "731", "Days to give feedback must be a whole number from 1 to 730."),
        ("retention_days", "many", "from 1 to 3650"),
        ("closed_retention_days", "-1", "from 0 to 3650"),
    ):
        refused = save_settings(admin_web, channel_id, **{field: value})
        assert refused.status_code == 400, refused.text
        assert message in refused.text
    assert len(audit_events(server, "channel.settings")) == 1

    # A recipient cannot see or change the settings.
    with closing(server.staff_client(recipient)) as web:
        assert web.get(f"/admin/channels/{channel_id}/settings").status_code == 403
        token = csrf(web.get("/account").text)
        refused = web.post(
            f"/admin/channels/{channel_id}/settings",
            data={"csrf": token, "acknowledge_days": "1"},
        )
        assert refused.status_code == 403
    assert db_value(server, select(Channel.acknowledge_days).where(Channel.id == channel_id)) == [
        (5,)
    ]


def test_admin_manages_custom_statuses(
    server: LiveServer, admin_web: httpx.Client, channel_id: str
) -> None:
    path = f"/admin/channels/{channel_id}/settings"

    def post(url: str, **data: str) -> httpx.Response:
        token = csrf(admin_web.get(path).text)
        return admin_web.post(url, data={"csrf": token, **data})

    for phase, name in (
        ("in_progress", "Legal review"),
        ("in_progress", "With HR"),
        ("new", "Triage"),
    ):
        added = post(path + "/statuses", phase=phase, name=name)
        assert added.status_code == 303, added.text
    duplicate = post(path + "/statuses", phase="closed", name="Triage")
    assert duplicate.status_code == 409
    assert "already has a status with this name" in duplicate.text

    def names() -> list[tuple[str, str]]:
        rows = db_value(
            server,
            select(CustomStatus.phase, CustomStatus.name, CustomStatus.position).where(
                CustomStatus.channel_id == channel_id
            ),
        )
        return [(p, n) for p, n, _ in sorted(rows, key=lambda r: (r[0], r[2]))]

    assert names() == [
        ("in_progress", "Legal review"),
        ("in_progress", "With HR"),
        ("new", "Triage"),
    ]
    ids = dict(
        db_value(
            server,
            select(CustomStatus.name, CustomStatus.id).where(CustomStatus.channel_id == channel_id),
        )
    )
    assert post(f"{path}/statuses/{ids['With HR']}", action="up").status_code == 303
    assert names()[:2] == [("in_progress", "With HR"), ("in_progress", "Legal review")]
    assert (
        post(f"{path}/statuses/{ids['Legal review']}", action="rename", name="Legal").status_code
        == 303
    )
    assert post(f"{path}/statuses/{ids['Triage']}", action="remove").status_code == 303
    assert names() == [("in_progress", "With HR"), ("in_progress", "Legal")]
    page = admin_web.get(path).text
    assert "With HR" in page
    assert "Legal" in page
    assert "Triage" not in page
    actions = [e["action"] for e in audit_events(server, "channel.status.")]
    assert actions == [
        "channel.status.add",
        "channel.status.add",
        "channel.status.add",
        "channel.status.move",
        "channel.status.rename",
        "channel.status.remove",
    ]


def test_cli_updates_the_day_settings(server: LiveServer) -> None:
    args = [sys.executable, "-m", "mailslot.cli.main", "channels", "update", "--name"]
    name = server.unique("cli-channel-")
    added = subprocess.run(
        [*args[:4], "add", "--name", name, "--acknowledge-days", "14", "--json"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(added.stdout)["name"] == name
    done = subprocess.run(
        [*args, name, "--feedback-days", "60", "--closed-retention-days", "10", "--json"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout)
    assert (result["feedback_days"], result["closed_retention_days"]) == (60, 10)
    assert result["acknowledge_days"] == 14  # as created, untouched by the update
    refused = subprocess.run(
        [*args, name, "--acknowledge-days", "400"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "from 1 to 365" in refused.stderr


# The automatic acknowledgement and what the source sees.


def korean_source(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.source_url, timeout=60, headers={"Accept-Language": "ko-KR,ko;q=0.9"}
    )


def test_a_new_case_gets_the_auto_reply_in_the_sources_language(
    server: LiveServer, admin_web: httpx.Client, channel_id: str, recipient: Account
) -> None:
    assert (
        save_settings(admin_web, channel_id, auto_reply_en=ACK_EN, auto_reply_ko=ACK_KO).status_code
        == 303
    )
    message = server.unique("A report in Korean ")
    with korean_source(server) as source:
        new_source(source)
        assert submit(source, message).status_code == 303
        conversation = source.get("/conversation")
        assert conversation.status_code == 200
        assert ACK_KO in conversation.text
        assert ACK_EN not in conversation.text
        assert 'class="case-status"' in conversation.text
        # More from the same source: no second acknowledgement.
        assert submit(source, "and one more thing").status_code == 303
    with server.api_client(recipient) as api:
        case = find_case(api, message)
    kinds = [(i["kind"], i["author"]) for i in case["items"]]
    assert kinds == [("message", None), ("reply", None), ("message", None)]
    assert case["items"][1]["text"] == ACK_KO
    with closing(server.staff_client(recipient)) as web:
        page = web.get(f"/cases/{case['id']}").text
        assert "Automatic acknowledgement" in page
        assert ACK_KO in page
    ((status, acknowledged_at, feedback_by, due_at),) = db_value(
        server,
        select(Case.status, Case.acknowledged_at, Case.feedback_by, Case.due_at).where(
            Case.id == case["id"]
        ),
    )
    assert status == "new"  # acknowledged, but still waiting for triage
    assert acknowledged_at is not None
    assert feedback_by == acknowledged_at + 90 * DAY
    assert due_at == feedback_by
    # Wrapped to the case key and to the source's key, like a staff reply.
    holders = db_value(
        server,
        select(ItemKeyWrap.holder).where(ItemKeyWrap.item_id == case["items"][1]["id"]),
    )
    assert sorted(h for (h,) in holders) == ["case", "source"]

    # A source writing in English gets the English text; with no text for a language the
    # default language's is sent; with none at all, nothing.
    english = server.unique("An English report ")
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        assert submit(source, english).status_code == 303
        assert ACK_EN in source.get("/conversation").text
    assert save_settings(admin_web, channel_id, auto_reply_en=ACK_EN).status_code == 303
    fallback = server.unique("Korean, falling back ")
    with korean_source(server) as source:
        new_source(source)
        assert submit(source, fallback).status_code == 303
        assert ACK_EN in source.get("/conversation").text
    assert save_settings(admin_web, channel_id).status_code == 303
    silent = server.unique("No acknowledgement ")
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        assert submit(source, silent).status_code == 303
        assert ACK_EN not in source.get("/conversation").text
    with server.api_client(recipient) as api:
        quiet = find_case(api, silent)
    assert [i["kind"] for i in quiet["items"]] == ["message"]
    (acked,) = db_value(server, select(Case.acknowledged_at).where(Case.id == quiet["id"]))
    assert acked == (None,)
    replies = db_value(
        server,
        select(Item.id).where(Item.case_id == case["id"], Item.kind == "reply"),
    )
    assert len(replies) == 1


PHASES = {
    "new": "Received",
    "acknowledged": "Acknowledged",
    "in_progress": "In progress",
    "closed": "Closed",
}


def test_the_source_sees_the_phase_never_the_custom_status(
    server: LiveServer, channel_id: str, recipient: Account
) -> None:
    message = server.unique("Which phase ")
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        assert submit(source, message).status_code == 303
        with server.api_client(recipient) as api:
            case_id = find_case(api, message)["id"]
        secret_status = server.unique("Internal step ")
        runtime = server.runtime()
        try:
            with runtime.default.db() as db:
                custom = CustomStatus(
                    channel_id=channel_id, phase="in_progress", name=secret_status, position=99
                )
                db.add(custom)
                db.flush()
                custom_id = custom.id
        finally:
            runtime.close()
        for phase, label in PHASES.items():
            values: dict[str, Any] = {"status": phase}
            if phase == "in_progress":
                values["custom_status_id"] = custom_id
            if phase == "closed":
                values["closed_at"] = coarse(int(time.time()))
            db_do(server, update(Case).where(Case.id == case_id).values(**values))
            page = source.get("/conversation").text
            assert f"<strong>{label}</strong>" in page, phase
            assert secret_status not in page
            others = [v for k, v in PHASES.items() if k != phase]
            assert all(f"<strong>{other}</strong>" not in page for other in others)


# In a real browser, JavaScript off.


CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve() / "browser"


@pytest.mark.browser
def test_the_source_sees_the_status_in_chromium(
    server: LiveServer, admin_web: httpx.Client, channel_id: str, recipient: Account
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    assert save_settings(admin_web, channel_id, auto_reply_en=ACK_EN).status_code == 303
    SHOTS.mkdir(parents=True, exist_ok=True)
    message = server.unique("Browser status check ")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        )
        try:
            context = browser.new_context(java_script_enabled=False, locale="en-US")
            page = context.new_page()
            page.goto(server.source_url + "/new")
            page.get_by_role("button", name="Show my codename").click()
            page.wait_for_load_state()
            page.get_by_role("link", name="I have written it down. Continue").click()
            page.wait_for_url(server.source_url + "/submit")
            page.locator("#message").fill(message)
            page.get_by_role("button", name="Send").click()
            page.wait_for_url(server.source_url + "/submitted")
            page.goto(server.source_url + "/conversation")
            assert page.locator("script").count() == 0
            status = page.locator(".case-status")
            assert status.inner_text() == "Status: Received"
            assert ACK_EN in page.locator("li.entry.reply").inner_text()
            page.screenshot(path=str(SHOTS / "source-status-received.png"), full_page=True)

            with server.api_client(recipient) as api:
                case_id = find_case(api, message)["id"]
            db_do(
                server,
                update(Case).where(Case.id == case_id).values(status="in_progress"),
            )
            page.reload()
            assert status.inner_text() == "Status: In progress"
            page.screenshot(path=str(SHOTS / "source-status-in-progress.png"), full_page=True)
            page.goto(server.source_url + "/conversation?lang=ko")
            assert page.locator("html").get_attribute("lang") == "ko"
            assert page.locator(".case-status").count() == 1
            page.screenshot(path=str(SHOTS / "source-status-korean.png"), full_page=True)
            context.close()
        finally:
            browser.close()
    for name in ("received", "in-progress", "korean"):
        assert (SHOTS / f"source-status-{name}.png").stat().st_size > 1000
