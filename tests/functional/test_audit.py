"""The audit trail over real HTTP and the real CLI: a staff session lands in the log with the
right actor, action and case; `mailslot audit verify` passes on it and catches every way of
tampering; the admin page and the API list and filter it for admins only; the JSON Lines
export re-verifies; two processes appending at once keep one chain; nothing about a source
is ever written to it."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from mailslot.audit import services as audit
from mailslot.audit.models import AuditEvent, AuditHead
from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, find_case, new_source, submit

pytestmark = pytest.mark.timeout(600)

MESSAGE = "Audit marker: the deputy moved the files on Friday night."
FILE_NAME = "ledger-audit.pdf"
FILE_BYTES = b"%PDF-1.4 audit ledger " * 100
OTHER_MESSAGE = "Audit marker: a second case, to be deleted."
REPLY = "Thank you, we are looking into it."
USER_AGENT = "Mozilla/5.0 (AuditProbe; rv:115.0) Gecko/20100101 Firefox/115.0"
PASSPHRASE = "a calm passphrase for the audit laptop"
IP_LIKE = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def cli(
    server: LiveServer, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", *args],
        input=stdin,
        env=env or server.env,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,  # no terminal: hidden prompts read stdin
        check=False,
    )


def in_db(server: LiveServer, work: Callable[[Session], Any]) -> Any:
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            return work(db)
    finally:
        runtime.close()


def all_events(server: LiveServer) -> list[AuditEvent]:
    return list(in_db(server, lambda db: list(audit.events(db))))


def since(server: LiveServer, seq: int) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(actor, action, case id, detail) of every event after ``seq``."""
    return [
        (e.actor, e.action, e.case_id, json.loads(e.detail))
        for e in all_events(server)
        if e.seq > seq
    ]


def head_seq(server: LiveServer) -> int:
    return int(in_db(server, lambda db: audit.head(db)[0]))


def send(server: LiveServer, message: str, files: list[tuple[str, bytes, str]]) -> str:
    with httpx.Client(
        base_url=server.source_url, timeout=60, headers={"User-Agent": USER_AGENT}
    ) as client:
        codename = new_source(client)
        assert submit(client, message, files=files).status_code == 303
    return codename


def staff(server: LiveServer, account: Account) -> httpx.Client:
    client = httpx.Client(base_url=server.staff_url, timeout=60, headers={"User-Agent": USER_AGENT})
    response = client.post(
        "/login",
        data={
            "username": account.username,
            "password": account.password,
            "totp": server.totp.code(account.totp_secret),
        },
    )
    assert response.status_code == 303, response.text
    return client


@dataclass
class Session_:
    admin: Account
    member: Account
    # A second recipient of the same cases, for the tests that need another login of one:
    # each account's TOTP codes are good once, so its logins are limited to a few a minute.
    reader: Account
    case: dict[str, Any]
    deleted_case: str
    codenames: list[str]
    channel_id: str
    start: int  # the head before the session


@pytest.fixture(scope="module")
def session(server: LiveServer) -> Session_:
    """One realistic session: CLI set-up, two sources, a recipient working a case over the
    web and the API, an admin managing the instance. Each step's events are checked here."""
    start = head_seq(server)
    admin = server.add_user("admin")
    member = server.add_user("recipient")
    reader = server.add_user("recipient")
    codenames = [
        send(server, MESSAGE, [(FILE_NAME, FILE_BYTES, "application/pdf")]),
        send(server, OTHER_MESSAGE, []),
    ]
    assert head_seq(server) == start + 3  # sources leave nothing in the log
    channel_id = server.add_channel(server.unique("desk"), (member.username,))
    log = since(server, start)
    assert [(a, action) for a, action, _, _ in log] == [
        ("", "admin.user_created"),
        ("", "admin.user_created"),
        ("", "admin.user_created"),
        ("", "admin.channel_created"),
    ]
    assert log[0][3] == {
        "channels": [],
        "role": "admin",
        "user_id": admin.id,
        "username": admin.username,
        "via": "cli",
    }
    assert log[3][3]["added"] == [member.username]

    with server.api_client(member) as api:
        case = find_case(api, MESSAGE)
        other = find_case(api, OTHER_MESSAGE)
    file_id = next(i["id"] for i in case["items"] if i["kind"] == "file")
    mark = head_seq(server)

    # The recipient, over the web.
    with closing(staff(server, member)) as web:
        page = web.get(f"/cases/{case['id']}")
        assert page.status_code == 200
        assert web.get(f"/cases/{case['id']}/items/{file_id}/download").content == FILE_BYTES
        assert web.get(f"/cases/{case['id']}/download-all").status_code == 200
        sent = web.post(
            f"/cases/{case['id']}/replies", data={"csrf": csrf(page.text), "text": REPLY}
        )
        assert sent.status_code == 303
        gone = web.post(
            f"/cases/{other['id']}/delete", data={"csrf": csrf(page.text), "confirm": "yes"}
        )
        assert gone.status_code == 303
        account = web.get("/account")
        token = csrf(account.text)
        assert (
            web.post("/account/email", data={"csrf": token, "email": "m@news.example"}).status_code
            == 303
        )
        assert (
            web.post("/account/sessions/end", data={"csrf": token, "session": "others"}).status_code
            == 303
        )
        assert web.post("/logout").status_code == 303
    log = since(server, mark)
    actions = [(actor, action, case_id) for actor, action, case_id, _ in log]
    m, c = member.username, case["id"]
    assert actions == [
        (m, "auth.login", None),
        (m, "case.view", c),
        (m, "case.download", c),
        (m, "case.download_all", c),
        (m, "case.reply", c),
        (m, "case.delete", other["id"]),
        (m, "account.email_changed", None),
        (m, "account.session_ended", None),
        (m, "auth.logout", None),
    ]
    details = [d for _, _, _, d in log]
    assert details[0] == {"via": "password"}
    assert details[2] == {"item_id": file_id}
    assert details[3]["items"] >= 2
    assert set(details[4]) == {"item_id"}
    assert details[6] == {"notices": True}  # whether an address is set, never the address
    assert details[7] == {"which": "others"}
    assert all(e.actor_id == member.id for e in all_events(server) if e.seq > mark)

    # The same recipient, over the API; then failed logins.
    mark = head_seq(server)
    token_value = server.api_token(member)
    with httpx.Client(
        base_url=f"{server.staff_url}/api/v1",
        headers={"Authorization": f"Bearer {token_value}"},
        timeout=60,
    ) as api:
        assert api.get(f"/cases/{c}").status_code == 200
        assert api.get(f"/cases/{c}/items/{file_id}/content").content == FILE_BYTES
        assert api.post(f"/cases/{c}/replies", json={"text": REPLY}).status_code == 201
        assert api.get("/cases").status_code == 200  # a listing opens no content: not logged
        assert api.delete("/auth/token").status_code == 204
    wrong = {"username": member.username, "password": "not the password", "totp": "000000"}
    assert httpx.post(f"{server.staff_url}/login", data=wrong).status_code == 401
    nobody = {"username": "no-such-person", "password": "whatever it is", "totp": "000000"}
    assert httpx.post(f"{server.staff_url}/login", data=nobody).status_code == 401
    assert httpx.post(f"{server.staff_url}/api/v1/auth/token", json=wrong).status_code == 401
    log = since(server, mark)
    assert [(a, action, case_id) for a, action, case_id, _ in log] == [
        (m, "auth.login", None),
        (m, "case.view", c),
        (m, "case.download", c),
        (m, "case.reply", c),
        (m, "auth.token_revoked", None),
        (m, "auth.login_failed", None),
        (m, "auth.login_failed", None),  # the unknown name left nothing
    ]
    assert log[0][3] == {"via": "api"}
    assert log[1][3] == {"via": "api"}

    # The admin.
    mark = head_seq(server)
    with closing(staff(server, admin)) as web:
        token = csrf(web.get("/admin").text)
        invited = web.post(
            "/admin/invite", data={"csrf": token, "role": "recipient", "channels": [channel_id]}
        )
        assert invited.status_code == 200
        changed = web.post(
            f"/admin/channels/{channel_id}",
            data={"csrf": token, "name": "desk renamed", "description": "", "members": []},
        )
        assert changed.status_code == 303
        saved = web.post(
            "/admin/settings",
            data={
                "csrf": token,
                "name": "Audit News",
                "guidance": "",
                "show_source_submissions": "",
            },
        )
        assert saved.status_code == 303
    a = admin.username
    log = since(server, mark)
    assert [(actor, action, case_id) for actor, action, case_id, _ in log] == [
        (a, "auth.login", None),
        (a, "admin.invite", None),
        (a, "admin.channel_updated", None),
        (a, "admin.settings_changed", None),
    ]
    assert log[1][3] == {"channel_ids": [channel_id], "role": "recipient", "username": None}
    assert log[2][3] == {
        "added": [],
        "channel_id": channel_id,
        "name": "desk renamed",
        "removed": [member.username],
    }
    return Session_(admin, member, reader, case, other["id"], codenames, channel_id, start)


def test_verify_passes_on_a_real_session_and_head_is_an_anchor(
    server: LiveServer, session: Session_
) -> None:
    result = cli(server, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    count = head_seq(server)
    assert result.stdout.startswith(f"ok: {count} events, every link holds.")
    head = cli(server, "audit", "head").stdout.strip()
    assert re.fullmatch(rf"{count}:[0-9a-f]{{64}}", head)
    assert result.stdout.strip().endswith(f"Head: {head}")
    anchored = cli(server, "audit", "verify", "--anchor", head, "--json")
    assert anchored.returncode == 0
    assert json.loads(anchored.stdout) == {
        "ok": True,
        "events": count,
        "head": head,
        "anchored": True,
    }


def test_a_key_offline_recipient_still_opens_a_case_and_it_is_logged(
    server: LiveServer, session: Session_, tmp_path: Path
) -> None:
    """Reads write now: a recipient without a key on the server still gets the case page,
    and the view is recorded like any other. The CLI's key export and case export too."""
    offline = server.add_user("recipient")
    send(server, "Audit marker: for the offline key.", [])
    with server.api_client(offline) as api:
        case = find_case(api, "Audit marker: for the offline key.")
    mark = head_seq(server)
    stdin = "\n".join(
        [offline.password, server.totp.code(offline.totp_secret), PASSPHRASE, PASSPHRASE, ""]
    )
    key_file = tmp_path / "offline.mslkey"
    done = cli(
        server, "keys", "export", "--user", offline.username, "--out", str(key_file), stdin=stdin
    )
    assert done.returncode == 0, done.stderr
    with closing(staff(server, offline)) as web:
        page = web.get(f"/cases/{case['id']}")
        assert page.status_code == 200
        assert "offline" in page.text
    bundle = tmp_path / "case.mslb"
    exported = cli(server, "export", "--case", case["id"], "--out", str(bundle))
    assert exported.returncode == 0, exported.stderr
    o = offline.username
    assert [(a, action, case_id) for a, action, case_id, _ in since(server, mark)] == [
        (o, "account.key_offline", None),
        (o, "auth.login", None),
        (o, "case.view", case["id"]),
        ("", "case.export", case["id"]),
    ]
    assert cli(server, "audit", "verify").returncode == 0


# Tampering: each change is made to the real database, caught by the CLI, then undone.


@pytest.fixture
def saved(server: LiveServer, session: Session_) -> Iterator[None]:
    def take(db: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        events = [dict(r._mapping) for r in db.execute(select(AuditEvent.__table__))]
        head = [dict(r._mapping) for r in db.execute(select(AuditHead.__table__))]
        return events, head

    events, head = in_db(server, take)

    def put_back(db: Session) -> None:
        db.execute(delete(AuditEvent))
        db.execute(delete(AuditHead))
        db.execute(insert(AuditEvent.__table__), events)
        db.execute(insert(AuditHead.__table__), head)

    yield
    in_db(server, put_back)
    assert cli(server, "audit", "verify").returncode == 0


def broken_at(server: LiveServer, *extra: str) -> tuple[int, str]:
    result = cli(server, "audit", "verify", *extra)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("FAIL: the audit trail does not verify at event ")
    as_json = json.loads(cli(server, "audit", "verify", "--json", *extra).stdout)
    assert as_json["ok"] is False
    return int(as_json["seq"]), str(as_json["reason"])


def change(server: LiveServer, seq: int, **values: Any) -> None:
    in_db(
        server,
        lambda db: db.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(**values)),
    )


def middle(server: LiveServer) -> int:
    return head_seq(server) // 2


@pytest.mark.usefixtures("saved")
def test_verify_catches_a_changed_detail(server: LiveServer) -> None:
    seq = middle(server)
    change(server, seq, detail='{"item_id":"0000"}')
    assert broken_at(server) == (seq, "the event, or the link to the one before it, was changed")


@pytest.mark.usefixtures("saved")
def test_verify_catches_a_changed_time(server: LiveServer) -> None:
    seq = middle(server)
    at = in_db(server, lambda db: db.get_one(AuditEvent, seq).at)
    change(server, seq, at=at - 86400)
    assert broken_at(server)[0] == seq


@pytest.mark.usefixtures("saved")
def test_verify_catches_a_deleted_middle_event(server: LiveServer) -> None:
    seq = middle(server)
    in_db(server, lambda db: db.execute(delete(AuditEvent).where(AuditEvent.seq == seq)))
    assert broken_at(server) == (seq, "the event is missing")


@pytest.mark.usefixtures("saved")
def test_verify_catches_deleted_newest_events(server: LiveServer) -> None:
    last = head_seq(server)
    in_db(server, lambda db: db.execute(delete(AuditEvent).where(AuditEvent.seq >= last - 1)))
    seq, reason = broken_at(server)
    assert seq == last - 1
    assert "newest events were removed" in reason


@pytest.mark.usefixtures("saved")
def test_verify_catches_two_swapped_events(server: LiveServer) -> None:
    seq = middle(server)

    def swap(db: Session) -> None:
        fields = ("at", "actor_id", "actor", "action", "case_id", "detail", "hash")
        one, two = db.get_one(AuditEvent, seq), db.get_one(AuditEvent, seq + 1)
        a, b = ({f: getattr(e, f) for f in fields} for e in (one, two))
        db.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(**b))
        db.execute(update(AuditEvent).where(AuditEvent.seq == seq + 1).values(**a))

    in_db(server, swap)
    assert broken_at(server)[0] == seq


@pytest.mark.usefixtures("saved")
def test_verify_catches_a_forged_event_inserted_without_fixing_later_hashes(
    server: LiveServer, session: Session_
) -> None:
    """A forged "case.view" by someone else, slipped in with a correct link to the event
    before it; the later events are renumbered but their hashes are left alone."""
    seq = middle(server)

    def forge(db: Session) -> None:
        last = audit.head(db)[0]
        for n in range(last, seq - 1, -1):
            db.execute(update(AuditEvent).where(AuditEvent.seq == n).values(seq=n + 1))
        previous = bytes(db.get_one(AuditEvent, seq - 1).hash)
        fields = {
            "seq": seq,
            "at": db.get_one(AuditEvent, seq - 1).at,
            "actor_id": session.admin.id,
            "actor": session.admin.username,
            "action": "case.view",
            "case_id": session.case["id"],
            "detail": "{}",
        }
        forged = audit.link(previous, audit.canonical(**fields))
        db.execute(insert(AuditEvent).values({**fields, "hash": forged}))
        db.execute(update(AuditHead).values(seq=last + 1))

    in_db(server, forge)
    assert broken_at(server)[0] == seq + 1


@pytest.mark.usefixtures("saved")
def test_a_rebuilt_chain_is_caught_only_by_an_anchor(server: LiveServer) -> None:
    """Whoever can write the database can rebuild the chain; an anchor kept elsewhere shows it."""
    anchor = cli(server, "audit", "head").stdout.strip()

    def rebuild(db: Session) -> None:
        kept = [e for e in audit.events(db) if e.action != "case.download"]
        db.execute(delete(AuditEvent))
        db.execute(delete(AuditHead))
        for e in kept:
            audit.record(
                db,
                e.action,
                now=e.at,
                actor_id=e.actor_id,
                actor=e.actor,
                case_id=e.case_id,
                **json.loads(e.detail),
            )

    in_db(server, rebuild)
    assert cli(server, "audit", "verify").returncode == 0  # consistent on its own
    seq, reason = broken_at(server, "--anchor", anchor)
    assert seq == int(anchor.split(":")[0])
    assert reason == "the anchored event is missing"  # the rebuilt chain is shorter
    early = all_events(server)[2]
    seq, reason = broken_at(server, "--anchor", f"{early.seq}:{'00' * 32}")
    assert (seq, reason) == (early.seq, "the chain differs from the anchor")


def test_a_malformed_anchor_is_a_usage_error(server: LiveServer) -> None:
    result = cli(server, "audit", "verify", "--anchor", "12:nothex")
    assert result.returncode == 2
    assert "42:<64 hex digits>" in result.stderr


# Reading the log.


def test_the_export_parses_line_by_line_and_reverifies(
    server: LiveServer, session: Session_, tmp_path: Path
) -> None:
    result = cli(server, "audit", "export", "--out", "-")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == head_seq(server)
    previous = bytes(32)
    for n, line in enumerate(lines, start=1):
        event = json.loads(line)
        assert event["seq"] == n
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z", event["time"])
        assert isinstance(event["detail"], dict)
        assert bytes.fromhex(event["prev"]) == previous
        record = audit.canonical(
            seq=n,
            at=event["at"],
            actor_id=event["actor_id"],
            actor=event["actor"],
            action=event["action"],
            case_id=event["case_id"],
            detail=audit.canonical_detail(event["detail"]),
        )
        assert audit.link(previous, record).hex() == event["hash"]
        previous = bytes.fromhex(event["hash"])
    assert cli(server, "audit", "head").stdout.strip() == f"{len(lines)}:{previous.hex()}"

    out = tmp_path / "case.jsonl"
    case_id = session.case["id"]
    filtered = cli(server, "audit", "export", "--out", str(out), "--case", case_id)
    assert filtered.returncode == 0
    assert "Wrote" in filtered.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows
    assert {r["case_id"] for r in rows} == {case_id}
    by_seq = {json.loads(line)["seq"]: json.loads(line) for line in lines}
    assert all(r == by_seq[r["seq"]] for r in rows)  # the same lines, prev included
    views = cli(server, "audit", "export", "--out", "-", "--action", "case.view", "--since", "5")
    seen = [json.loads(line) for line in views.stdout.splitlines()]
    assert seen
    assert all(r["action"] == "case.view" and r["seq"] > 5 for r in seen)


def test_admin_page_lists_and_filters(server: LiveServer, session: Session_) -> None:
    case_id = session.case["id"]
    with closing(staff(server, session.admin)) as web:
        page = web.get("/admin/audit")
        assert page.status_code == 200
        assert "Audit trail" in page.text
        assert "<script" not in page.text
        korean = web.get("/admin/audit", params={"lang": "ko", "action": "case"})
        assert korean.status_code == 200
        assert 'lang="ko"' in korean.text
        # The choice of language stays (a cookie) until another is made.
        assert 'lang="ko"' in web.get("/admin/audit").text
        assert 'lang="en"' in web.get("/admin/audit", params={"lang": "en"}).text
        assert 'href="/admin/audit"' in web.get("/admin").text
        assert session.member.username in page.text
        by_case = web.get("/admin/audit", params={"case_id": case_id})
        assert by_case.status_code == 200
        codes = re.findall(r'<td><code lang="en">([a-z_.]+)</code></td>', by_case.text)
        assert set(codes) == {"case.view", "case.download", "case.download_all", "case.reply"}
        assert session.deleted_case not in by_case.text
        by_action = web.get("/admin/audit", params={"action": "auth.login_failed"}).text
        assert re.findall(r'<td><code lang="en">([a-z_.]+)</code></td>', by_action) == [
            "auth.login_failed",
            "auth.login_failed",
        ]
        by_actor = web.get("/admin/audit", params={"actor": session.admin.username}).text
        actors = re.findall(r'<td><a href="/admin/audit\?actor=([^"]+)">', by_actor)
        assert actors
        assert set(actors) == {session.admin.username}
        assert "No events match." in web.get("/admin/audit", params={"to": "2001-01-01"}).text
        today = web.get("/admin/audit", params={"from": "2001-01-01", "to": "2999-12-31"})
        assert "No events match." not in today.text
        bad = web.get("/admin/audit", params={"from": "yesterday"})
        assert bad.status_code == 400
        assert "Dates must be written like 2026-01-31." in bad.text
        # Paging: 25 a page, newest first, the filter kept in the links.
        seq_cell = re.compile(r"<tr>\s*<td>(\d+)</td>")
        first = web.get("/admin/audit", params={"from": "2001-01-01"}).text
        assert 'href="/admin/audit?page=2&amp;from=2001-01-01" rel="next"' in first
        second = web.get("/admin/audit", params={"from": "2001-01-01", "page": 2}).text
        assert 'rel="prev"' in second
        one, two = (list(map(int, seq_cell.findall(p))) for p in (first, second))
        assert len(one) == 25
        assert one + two == list(range(one[0], one[0] - len(one) - len(two), -1))
    # Any recipient (a new one: the member's TOTP codes are spent for a while) is refused.
    with closing(staff(server, server.add_user("recipient"))) as web:
        refused = web.get("/admin/audit")
        assert refused.status_code == 403
        assert case_id not in refused.text
    assert httpx.get(f"{server.staff_url}/admin/audit").headers["location"] == "/login"


def test_api_lists_and_filters_for_admins_only(server: LiveServer, session: Session_) -> None:
    case_id = session.case["id"]
    with server.api_client(session.admin) as api:
        page = api.get("/audit", params={"limit": 5})
        assert page.status_code == 200
        body = page.json()
        assert body["total"] == head_seq(server)
        assert [e["seq"] for e in body["events"]] == list(
            range(body["total"], body["total"] - 5, -1)
        )
        newest = body["events"][0]
        assert newest["action"] == "auth.login"  # this very token
        assert newest["actor"] == session.admin.username
        views = api.get("/audit", params={"case_id": case_id, "action": "case.view"}).json()
        assert views["total"] >= 2
        assert {(e["actor"], e["case_id"]) for e in views["events"]} == {
            (session.member.username, case_id)
        }
        assert api.get("/audit", params={"since_seq": body["total"] - 2}).json()["total"] == 2
        assert api.get("/audit", params={"to": "2001-01-01"}).json()["total"] == 0
        assert api.get("/audit", params={"from": "2001-01-01"}).json()["total"] > 0
        assert api.get("/audit", params={"from": "not a date"}).status_code == 422
        actor = api.get("/audit", params={"actor": session.member.username}).json()
        assert {e["actor"] for e in actor["events"]} == {session.member.username}
    with server.api_client(server.add_user("recipient")) as api:
        refused = api.get("/audit")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "Only administrators can do this."}
    assert httpx.get(f"{server.staff_url}/api/v1/audit").status_code == 401


def test_nothing_about_a_source_is_in_the_log(server: LiveServer, session: Session_) -> None:
    events = all_events(server)
    dump = "\n".join(
        "|".join(str(v) for v in (e.seq, e.at, e.actor_id, e.actor, e.action, e.case_id, e.detail))
        for e in events
    )
    pseudonym = session.case["pseudonym"]
    for secret in (
        *session.codenames,
        pseudonym,
        MESSAGE,
        REPLY,
        FILE_NAME,
        "AuditProbe",
        "Mozilla",
    ):
        assert secret not in dump, secret
    for codename in session.codenames:
        words = codename.split()
        for pair in itertools.pairwise(words):
            assert " ".join(pair) not in dump
            assert "-".join(pair) not in dump
    assert not IP_LIKE.search(dump), IP_LIKE.search(dump)
    # Cases are named by id only: no other column about sources exists.
    assert {c.name for c in AuditEvent.__table__.columns} == {
        "seq",
        "at",
        "actor_id",
        "actor",
        "action",
        "case_id",
        "detail",
        "hash",
    }


# Concurrency across processes.


def test_two_processes_appending_at_once_keep_one_chain(
    server: LiveServer, session: Session_, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shared = {
        "MAILSLOT_DATA_DIR": str(server.data_dir),
        "MAILSLOT_DATABASE_URL": server.env.get(
            "MAILSLOT_DATABASE_URL", f"sqlite:///{server.data_dir / 'mailslot.sqlite3'}"
        ),
    }
    second = start_server(tmp_path_factory.mktemp("audit-b"), shared)
    second.totp = server.totp
    try:
        before = head_seq(server)
        case_id = session.case["id"]
        member = session.reader
        # One login on the web and one token, each used on both processes: sessions live in
        # the shared database, so either process serves them (and a TOTP code is good once).
        web_a = staff(server, member)
        web_b = httpx.Client(
            base_url=second.staff_url,
            timeout=60,
            headers={"User-Agent": USER_AGENT},
            cookies=web_a.cookies,
        )
        clients = [web_a, web_b]
        token = {"Authorization": f"Bearer {server.api_token(member)}"}
        with (
            httpx.Client(base_url=f"{server.staff_url}/api/v1", headers=token) as api_a,
            httpx.Client(base_url=f"{second.staff_url}/api/v1", headers=token) as api_b,
        ):
            after_logins = head_seq(server)
            calls: list[Callable[[], httpx.Response]] = []
            for n in range(40):
                web = clients[n % 2]
                api = (api_a, api_b)[n % 2]
                calls.append(lambda web=web: web.get(f"/cases/{case_id}"))
                calls.append(lambda api=api: api.get(f"/cases/{case_id}"))
            with ThreadPoolExecutor(max_workers=12) as pool:
                statuses = list(pool.map(lambda call: call().status_code, calls))
        for client in clients:
            client.close()
        assert statuses == [200] * len(calls)
        assert after_logins == before + 2
        events = all_events(server)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert head_seq(server) == after_logins + len(calls)
        views = [e for e in events if e.seq > after_logins]
        assert {(e.actor, e.action, e.case_id) for e in views} == {
            (member.username, "case.view", case_id)
        }
        result = cli(server, "audit", "verify")
        assert result.returncode == 0, result.stdout
    finally:
        stop_server(second)
