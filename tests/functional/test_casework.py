"""Case work over HTTP: status and deadlines, labels, assignees, the important mark, internal
notes and access grants, through the staff pages (forms, no JavaScript) and the JSON API,
checked against the database the live server writes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mailslot.audit.models import AuditEvent
from mailslot.cases.models import (
    Case,
    CaseAccess,
    CaseAssignee,
    CaseKeyWrap,
    CaseLabel,
    CaseRead,
    Item,
    ItemKeyWrap,
    Label,
)
from mailslot.channels.models import Channel
from mailslot.runtime import Runtime
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, login, new_source, submit

NOTE = "Internal marker: the lawyer says wait until Friday."
REASON = "Reason marker: referred to the regulator."
WORK_ACTIONS = (
    "case.status",
    "case.important",
    "case.label.add",
    "case.label.remove",
    "case.assign",
    "case.unassign",
    "case.note",
    "case.access.grant",
    "case.access.revoke",
)


@dataclass
class Team:
    server: LiveServer
    runtime: Runtime
    alice: Account  # recipient of the channel: holds the key to every case
    bob: Account  # recipient of the channel too
    carol: Account  # recipient of another channel: no access until granted
    admin: Account
    web: dict[str, httpx.Client]
    api: dict[str, httpx.Client]
    channel_id: str  # the default channel, which alice and bob receive

    def token(self, who: str, case_id: str) -> str:
        return csrf(self.web[who].get(f"/cases/{case_id}").text)

    def post(self, who: str, path: str, **data: str) -> httpx.Response:
        token = csrf(self.web[who].get("/account").text)
        return self.web[who].post(path, data={"csrf": token, **data})

    def case(self, case_id: str) -> Case:
        with self.runtime.default.db() as db:
            case = db.get(Case, case_id)
            assert case is not None
            return case

    def events(self, case_id: str) -> list[tuple[str, str, dict[str, Any]]]:
        with self.runtime.default.db() as db:
            rows = db.execute(
                select(AuditEvent.action, AuditEvent.actor, AuditEvent.detail)
                .where(AuditEvent.case_id == case_id, AuditEvent.action.in_(WORK_ACTIONS))
                .order_by(AuditEvent.seq)
            ).all()
        return [(a, actor, json.loads(d)) for a, actor, d in rows]


@pytest.fixture(scope="module")
def team(server: LiveServer) -> Iterator[Team]:
    server.add_channel("side", ())
    accounts = {
        "alice": server.add_user("recipient"),
        "bob": server.add_user("recipient"),
        "carol": server.add_user("recipient", channels=("side",)),
        "admin": server.add_user("admin"),
    }
    runtime = server.runtime()
    with runtime.default.db() as db:
        channel_id = str(db.scalar(select(Channel.id).where(Channel.name == "default")))
    web = {name: server.staff_client(a) for name, a in accounts.items()}
    api = {name: server.api_client(a) for name, a in accounts.items()}
    try:
        yield Team(server, runtime, web=web, api=api, channel_id=channel_id, **accounts)
    finally:
        for client in (*web.values(), *api.values()):
            client.close()
        runtime.close()


def new_case(team: Team, message: str | None = None) -> tuple[str, str]:
    """A case from a new source; returns its id and the source's codename."""
    message = message or team.server.unique("Case work case ")
    with httpx.Client(base_url=team.server.source_url, timeout=60) as source:
        codename = new_source(source)
        sent = submit(source, message, channel=team.channel_id)
        assert sent.status_code == 303, sent.text
    return str(find_case(team.api["alice"], message)["id"]), codename


def snapshot(team: Team, case_id: str) -> dict[str, Any]:
    """The rows case work touches, for "a refusal changed nothing"."""
    with team.runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        columns = {c.key: getattr(case, c.key) for c in Case.__table__.columns}
        tables: dict[str, Any] = {"case": columns}
        for model in (CaseLabel, CaseAssignee, CaseKeyWrap, CaseAccess, Item):
            rows = db.scalars(select(model).where(model.case_id == case_id)).all()  # type: ignore[attr-defined]
            tables[model.__name__] = sorted(
                repr({c.key: getattr(r, c.key) for c in model.__table__.columns})
                for r in rows  # type: ignore[attr-defined]
            )
        tables["labels"] = sorted(db.scalars(select(Label.name)))
        tables["audit"] = db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        return tables


# Status and deadlines.


def test_status_changes_move_the_deadlines(team: Team) -> None:
    case_id, _ = new_case(team)
    fresh = team.case(case_id)
    assert (fresh.status, fresh.due_at) == ("new", fresh.acknowledge_by)
    page = team.web["alice"].get(f"/cases/{case_id}")
    assert 'id="case-work-title"' in page.text
    assert "Acknowledge receipt by" in page.text
    done = team.post("alice", f"/cases/{case_id}/status", status="acknowledged")
    assert (done.status_code, done.headers["location"]) == (303, f"/cases/{case_id}?done=status")
    acknowledged = team.case(case_id)
    assert acknowledged.acknowledged_at is not None
    assert acknowledged.feedback_by == acknowledged.acknowledged_at + 90 * 86400
    assert acknowledged.due_at == acknowledged.feedback_by
    assert "The status was changed." in team.web["alice"].get(done.headers["location"]).text
    # A reply after the acknowledgement is the feedback: nothing is due any more.
    replied = team.api["bob"].post(f"/cases/{case_id}/replies", json={"text": "Thank you."})
    assert replied.status_code == 201
    answered = team.case(case_id)
    assert answered.feedback_at is not None
    assert answered.due_at is None
    assert answered.status == "acknowledged"
    assert [(a, d) for a, _, d in team.events(case_id) if a == "case.status"] == [
        ("case.status", {"status": "acknowledged"})
    ]


def test_closing_needs_a_reason_kept_as_a_sealed_note(team: Team) -> None:
    case_id, _ = new_case(team)
    before = snapshot(team, case_id)
    refused = team.post("alice", f"/cases/{case_id}/status", status="closed", reason="  ")
    assert refused.status_code == 400
    assert "Give a reason for closing the case." in refused.text
    api_refused = team.api["alice"].post(f"/cases/{case_id}/status", json={"status": "closed"})
    assert api_refused.status_code == 400
    assert api_refused.json()["detail"] == "Give a reason for closing the case."
    assert snapshot(team, case_id) == before
    closed = team.api["alice"].post(
        f"/cases/{case_id}/status", json={"status": "closed", "reason": REASON}
    )
    assert closed.status_code == 200, closed.text
    state = closed.json()
    assert state["status"] == "closed"
    assert state["closed_at"] is not None
    assert state["feedback_at"] is not None  # closing counts as feedback
    assert state["due_at"] is None
    page = team.web["alice"].get(f"/cases/{case_id}").text
    assert f"Closed: {REASON}" in page
    assert "Internal note from " + team.alice.username + " — not visible to the source" in page
    reopened = team.api["bob"].post(f"/cases/{case_id}/status", json={"status": "in_progress"})
    assert reopened.status_code == 200
    assert reopened.json()["closed_at"] is None
    trail = team.events(case_id)
    assert [d for a, _, d in trail if a == "case.status"] == [
        {"status": "closed"},
        {"status": "in_progress"},
    ]
    assert REASON not in repr(trail)
    # The reason is sealed: not in the database in clear.
    with team.runtime.default.db() as db:
        notes = db.scalars(select(Item).where(Item.case_id == case_id, Item.kind == "note")).all()
        assert len(notes) == 1
        assert REASON.encode() not in notes[0].sealed_meta


def test_bad_statuses_are_refused(team: Team) -> None:
    case_id, _ = new_case(team)
    before = snapshot(team, case_id)
    assert team.post("alice", f"/cases/{case_id}/status", status="archived").status_code == 400
    assert (
        team.post("alice", f"/cases/{case_id}/status", status="closed:" + "0" * 32).status_code
        == 400
    )
    bad = team.api["alice"].post(f"/cases/{case_id}/status", json={"status": "archived"})
    assert bad.status_code == 422
    assert snapshot(team, case_id) == before


# Labels, assignees, the important mark.


def test_labels_round_trip_via_web_and_api(team: Team) -> None:
    case_id, _ = new_case(team)
    name = team.server.unique("Follow-up ")
    added = team.post("alice", f"/cases/{case_id}/labels", name=f"  {name}\x07 ")
    assert added.status_code == 303
    page = team.web["alice"].get(f"/cases/{case_id}").text
    assert f'<span class="tag label">{name}</span>' in page
    listed = team.api["alice"].get("/labels").json()["labels"]
    label_id = next(label["id"] for label in listed if label["name"] == name)
    # The same name through the API reuses the label.
    state = team.api["bob"].post(f"/cases/{case_id}/labels", json={"name": name}).json()
    assert state["labels"] == [{"id": label_id, "name": name}]
    other = team.api["bob"].post(f"/cases/{case_id}/labels", json={"name": "Legal"}).json()
    assert [label["name"] for label in other["labels"]] == sorted(["Legal", name])
    too_long = team.api["bob"].post(f"/cases/{case_id}/labels", json={"name": "x" * 65})
    assert too_long.status_code == 422
    removed = team.post("alice", f"/cases/{case_id}/labels/{label_id}/remove")
    assert removed.status_code == 303
    assert team.api["alice"].delete(f"/cases/{case_id}/labels/{label_id}").status_code == 404
    legal = next(label["id"] for label in other["labels"] if label["name"] == "Legal")
    assert team.api["alice"].delete(f"/cases/{case_id}/labels/{legal}").status_code == 204
    with team.runtime.default.db() as db:
        assert db.scalars(select(CaseLabel).where(CaseLabel.case_id == case_id)).all() == []
        assert db.scalar(select(Label.id).where(Label.name == name)) == label_id  # kept
    assert [a for a, _, _ in team.events(case_id)] == [
        "case.label.add",
        "case.label.add",
        "case.label.remove",
        "case.label.remove",
    ]


def test_assignees_and_the_important_mark_round_trip(team: Team) -> None:
    case_id, _ = new_case(team)
    recipients = team.api["alice"].get("/recipients").json()["recipients"]
    names = {r["username"] for r in recipients}
    assert {team.alice.username, team.bob.username, team.carol.username} <= names
    assert team.admin.username not in names
    assert team.post("alice", f"/cases/{case_id}/assignees", user_id=team.bob.id).status_code == 303
    state = team.api["alice"].post(f"/cases/{case_id}/assignees", json={"user_id": team.alice.id})
    assert [p["username"] for p in state.json()["assignees"]] == sorted(
        [team.alice.username, team.bob.username]
    )
    # Carol holds no key to this case: she cannot be assigned.
    refused = team.api["alice"].post(f"/cases/{case_id}/assignees", json={"user_id": team.carol.id})
    assert refused.status_code == 400
    page = team.web["alice"].get(f"/cases/{case_id}").text
    assert f'<span class="assignee">{team.bob.username}</span>' in page
    removed = team.post("alice", f"/cases/{case_id}/assignees/{team.bob.id}/remove")
    assert removed.status_code == 303
    assert (
        team.api["alice"].delete(f"/cases/{case_id}/assignees/{team.alice.id}").status_code == 204
    )
    assert (
        team.api["alice"].delete(f"/cases/{case_id}/assignees/{team.alice.id}").status_code == 404
    )
    assert team.post("alice", f"/cases/{case_id}/important", important="1").status_code == 303
    assert team.case(case_id).important
    assert 'class="tag important"' in team.web["bob"].get(f"/cases/{case_id}").text
    unmarked = team.api["bob"].put(f"/cases/{case_id}/important", json={"important": False})
    assert unmarked.json()["important"] is False
    assert not team.case(case_id).important
    trail = team.events(case_id)
    assert [(a, d) for a, _, d in trail if a.startswith(("case.assign", "case.unassign"))] == [
        ("case.assign", {"user_id": team.bob.id, "username": team.bob.username}),
        ("case.assign", {"user_id": team.alice.id, "username": team.alice.username}),
        ("case.unassign", {"user_id": team.bob.id, "username": team.bob.username}),
        ("case.unassign", {"user_id": team.alice.id, "username": team.alice.username}),
    ]
    assert [d for a, _, d in trail if a == "case.important"] == [
        {"important": True},
        {"important": False},
    ]


# Notes.


def test_notes_are_for_staff_only(team: Team) -> None:
    case_id, codename = new_case(team)
    saved = team.post("alice", f"/cases/{case_id}/notes", text=NOTE)
    assert (saved.status_code, saved.headers["location"]) == (303, f"/cases/{case_id}?done=note")
    by_api = team.api["bob"].post(f"/cases/{case_id}/notes", json={"text": "Second note."})
    assert by_api.status_code == 201
    note_id = by_api.json()["id"]
    page = team.web["bob"].get(f"/cases/{case_id}").text
    assert NOTE in page
    assert f"Internal note from {team.alice.username} — not visible to the source" in page
    items = team.api["bob"].get(f"/cases/{case_id}").json()["items"]
    assert [(i["kind"], i["text"]) for i in items if i["kind"] == "note"] == [
        ("note", NOTE),
        ("note", "Second note."),
    ]
    assert team.api["bob"].post(f"/cases/{case_id}/notes", json={"text": ""}).status_code == 422
    assert team.post("bob", f"/cases/{case_id}/notes", text="   ").status_code == 400
    # Never wrapped to the source's key: only the case key holds a note's data key.
    with team.runtime.default.db() as db:
        note_ids = db.scalars(select(Item.id).where(Item.case_id == case_id, Item.kind == "note"))
        for item_id in note_ids:
            holders = db.scalars(select(ItemKeyWrap.holder).where(ItemKeyWrap.item_id == item_id))
            assert list(holders) == ["case"]
    assert [d for a, _, d in team.events(case_id) if a == "case.note"][-1] == {"item_id": note_id}
    assert NOTE not in repr(team.events(case_id))
    # The source, logged in with the codename, sees neither the notes nor that they exist.
    with httpx.Client(base_url=team.server.source_url, timeout=60) as source:
        assert login(source, codename).status_code == 303
        conversation = source.get("/conversation")
        assert conversation.status_code == 200
        assert "Your conversation" in conversation.text
        assert NOTE not in conversation.text
        assert "Second note." not in conversation.text
        assert "note" not in conversation.text.lower().replace("notes", "")


# Access.


def test_grant_and_revoke_access(team: Team) -> None:
    message = team.server.unique("Granted content ")
    case_id, _ = new_case(team, message)
    assert team.api["carol"].get(f"/cases/{case_id}").status_code == 404
    page = team.web["alice"].get(f"/cases/{case_id}").text
    assert f'<option value="{team.carol.id}">{team.carol.username}</option>' in page
    granted = team.post("alice", f"/cases/{case_id}/access", user_id=team.carol.id)
    assert (granted.status_code, granted.headers["location"]) == (
        303,
        f"/cases/{case_id}?done=access",
    )
    # Carol now opens and decrypts the case.
    detail = team.api["carol"].get(f"/cases/{case_id}")
    assert detail.status_code == 200
    assert [i["text"] for i in detail.json()["items"] if i["kind"] == "message"] == [message]
    assert message in team.web["carol"].get(f"/cases/{case_id}").text
    again = team.api["bob"].post(f"/cases/{case_id}/access", json={"user_id": team.carol.id})
    assert again.status_code == 409
    admin_target = team.api["bob"].post(f"/cases/{case_id}/access", json={"user_id": team.admin.id})
    assert admin_target.status_code == 400
    access = team.api["carol"].get(f"/cases/{case_id}/access").json()
    assert {h["username"] for h in access["holders"]} == {
        team.alice.username,
        team.bob.username,
        team.carol.username,
    }
    carol_rows = [e for e in access["history"] if e["user_id"] == team.carol.id]
    assert len(carol_rows) == 1
    assert carol_rows[0]["granted_by"] == team.alice.username
    assert carol_rows[0]["revoked_at"] is None
    # Carol is assigned and has read the case; revoking takes all of that away.
    assert (
        team.api["carol"]
        .post(f"/cases/{case_id}/assignees", json={"user_id": team.carol.id})
        .status_code
        == 200
    )
    revoked = team.post("bob", f"/cases/{case_id}/access/{team.carol.id}/revoke")
    assert (revoked.status_code, revoked.headers["location"]) == (
        303,
        f"/cases/{case_id}?done=revoked",
    )
    assert team.api["carol"].get(f"/cases/{case_id}").status_code == 404
    assert team.web["carol"].get(f"/cases/{case_id}").status_code == 404
    with team.runtime.default.db() as db:
        assert db.get(CaseKeyWrap, (case_id, team.carol.id)) is None
        assert db.get(CaseAssignee, (case_id, team.carol.id)) is None
        assert db.get(CaseRead, (case_id, team.carol.id)) is None
    history = team.api["alice"].get(f"/cases/{case_id}/access").json()["history"]
    carol_rows = [e for e in history if e["user_id"] == team.carol.id]
    assert [(e["granted_by"], e["revoked_by"]) for e in carol_rows] == [
        (team.alice.username, team.bob.username)
    ]
    assert carol_rows[0]["revoked_at"] is not None
    page = team.web["alice"].get(f"/cases/{case_id}").text
    assert f"granted by {team.alice.username}" in page
    assert f"by {team.bob.username}" in page
    # Through the API too, and a second grant gets a second history row.
    assert (
        team.api["alice"]
        .post(f"/cases/{case_id}/access", json={"user_id": team.carol.id})
        .status_code
        == 200
    )
    assert team.api["alice"].delete(f"/cases/{case_id}/access/{team.carol.id}").status_code == 204
    assert team.api["alice"].delete(f"/cases/{case_id}/access/{team.carol.id}").status_code == 404
    trail = [(a, d) for a, _, d in team.events(case_id) if a.startswith("case.access")]
    carol = {"user_id": team.carol.id, "username": team.carol.username}
    assert trail == [
        ("case.access.grant", carol),
        ("case.access.revoke", carol),
        ("case.access.grant", carol),
        ("case.access.revoke", carol),
    ]


def test_the_last_holder_cannot_be_revoked(team: Team) -> None:
    case_id, _ = new_case(team)
    assert team.api["alice"].delete(f"/cases/{case_id}/access/{team.bob.id}").status_code == 204
    before = snapshot(team, case_id)
    last = team.api["alice"].delete(f"/cases/{case_id}/access/{team.alice.id}")
    assert last.status_code == 409
    assert "last person with access" in last.json()["detail"]
    web = team.post("alice", f"/cases/{case_id}/access/{team.alice.id}/revoke")
    assert web.status_code == 409
    assert snapshot(team, case_id) == before
    # Revoking oneself (not the last) leads back to the inbox.
    assert (
        team.api["alice"]
        .post(f"/cases/{case_id}/access", json={"user_id": team.bob.id})
        .status_code
        == 200
    )
    gone = team.post("alice", f"/cases/{case_id}/access/{team.alice.id}/revoke")
    assert (gone.status_code, gone.headers["location"]) == (303, "/?revoked=1")
    assert team.api["alice"].get(f"/cases/{case_id}").status_code == 404


def test_a_recipient_added_later_does_not_gain_old_cases(team: Team) -> None:
    old, _ = new_case(team)
    newcomer = team.server.add_user("recipient")  # joins the channel now
    fresh, _ = new_case(team)
    with team.server.api_client(newcomer) as api:
        listed = {c["id"] for c in api.get("/cases", params={"limit": 200}).json()["cases"]}
        assert fresh in listed
        assert old not in listed
        assert api.get(f"/cases/{old}").status_code == 404
    with team.runtime.default.db() as db:
        assert db.get(CaseKeyWrap, (old, newcomer.id)) is None


# Refusals.

WEB_ACTIONS = [
    ("status", {"status": "acknowledged"}),
    ("important", {"important": "1"}),
    ("labels", {"name": "Refused"}),
    ("labels/{label_id}/remove", {}),
    ("assignees", {"user_id": "{alice}"}),
    ("assignees/{alice}/remove", {}),
    ("notes", {"text": "Refused note"}),
    ("access", {"user_id": "{carol}"}),
    ("access/{alice}/revoke", {}),
]
API_ACTIONS = [
    ("POST", "status", {"status": "acknowledged"}),
    ("PUT", "important", {"important": True}),
    ("POST", "labels", {"name": "Refused"}),
    ("DELETE", "labels/{label_id}", None),
    ("POST", "assignees", {"user_id": "{alice}"}),
    ("DELETE", "assignees/{alice}", None),
    ("POST", "notes", {"text": "Refused note"}),
    ("GET", "access", None),
    ("POST", "access", {"user_id": "{carol}"}),
    ("DELETE", "access/{alice}", None),
]


def fill(team: Team, text: str, label_id: str) -> str:
    return text.format(alice=team.alice.id, carol=team.carol.id, label_id=label_id)


def prepared_case(team: Team) -> tuple[str, str]:
    """A case with a label and an assignee, so that removals have something to remove."""
    case_id, _ = new_case(team)
    label = team.api["alice"].post(f"/cases/{case_id}/labels", json={"name": "Kept"}).json()
    team.api["alice"].post(f"/cases/{case_id}/assignees", json={"user_id": team.alice.id})
    return case_id, label["labels"][0]["id"]


def test_no_access_no_action(team: Team) -> None:
    """Carol (another channel) and the admin get nowhere, and nothing changes."""
    case_id, label_id = prepared_case(team)
    before = snapshot(team, case_id)
    for who in ("carol", "admin"):
        for path, data in WEB_ACTIONS:
            url = f"/cases/{case_id}/" + fill(team, path, label_id)
            response = team.post(who, url, **{k: fill(team, v, label_id) for k, v in data.items()})
            expected = 404 if who == "carol" else 403
            assert response.status_code == expected, (who, path, response.status_code)
        for method, path, body in API_ACTIONS:
            url = f"/cases/{case_id}/" + fill(team, path, label_id)
            filled = (
                {k: fill(team, v, label_id) if isinstance(v, str) else v for k, v in body.items()}
                if body
                else None
            )
            response = team.api[who].request(method, url, json=filled)
            expected = 404 if who == "carol" else 403
            assert response.status_code == expected, (who, method, path, response.text)
    for path in ("/labels", "/recipients"):
        assert team.api["admin"].get(path).status_code == 403
        assert team.api["carol"].get(path).status_code == 200
    assert snapshot(team, case_id) == before


def test_forms_need_csrf(team: Team) -> None:
    case_id, label_id = prepared_case(team)
    page = team.web["alice"].get(f"/cases/{case_id}")
    before = snapshot(team, case_id)
    for path, data in WEB_ACTIONS:
        url = f"/cases/{case_id}/" + fill(team, path, label_id)
        form = {k: fill(team, v, label_id) for k, v in data.items()}
        assert team.web["alice"].post(url, data=form).status_code == 403, path
        forged = team.web["alice"].post(url, data={**form, "csrf": "forged"})
        assert forged.status_code == 403, path
        cross = team.web["alice"].post(
            url,
            data={**form, "csrf": csrf(page.text)},
            headers={"Origin": "http://evil.example"},
        )
        assert cross.status_code == 403, path
    assert snapshot(team, case_id) == before


# The page in a real browser (JavaScript off).


def test_case_page_with_work_panel_in_chromium(team: Team) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():  # pragma: no cover - the test machine has it
        pytest.fail(f"{chromium} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    case_id, _ = new_case(team, team.server.unique("Screenshot case "))
    team.api["alice"].post(f"/cases/{case_id}/labels", json={"name": "Follow-up"})
    team.api["alice"].post(f"/cases/{case_id}/assignees", json={"user_id": team.bob.id})
    team.api["alice"].put(f"/cases/{case_id}/important", json={"important": True})
    team.api["alice"].post(f"/cases/{case_id}/notes", json={"text": NOTE})
    shots = Path(os.environ.get("MAILSLOT_TEST_ARTIFACTS", "test-artifacts")).resolve()
    shots = shots / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    staff = team.server.staff_url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        with closing(browser):
            context = browser.new_context(
                java_script_enabled=False, locale="en-US", viewport={"width": 1100, "height": 800}
            )
            page = context.new_page()
            page.goto(staff + "/login")
            page.locator("#username").fill(team.alice.username)
            page.locator("#password").fill(team.alice.password)
            page.locator("#totp").fill(team.server.totp.code(team.alice.totp_secret))
            page.locator("button[type=submit]").first.click()
            page.wait_for_url(staff + "/")
            page.goto(f"{staff}/cases/{case_id}")
            page.locator("#work-status").select_option("acknowledged")
            page.locator(".work-form button[type=submit]").first.click()
            page.wait_for_url(f"{staff}/cases/{case_id}?done=status")
            assert page.locator(".status-badge").inner_text() == "Acknowledged"
            page.locator("#work-note").fill("Checked the documents.")
            page.locator(".note-form button[type=submit]").click()
            page.wait_for_url(f"{staff}/cases/{case_id}?done=note")
            assert page.locator(".entry.note").count() == 2
            page.locator(".access-history summary").click()
            path = shots / "casework-case-page.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            context.close()
