"""The server-seizure test: what a copy of the data directory gives someone without any key.

A real ``mailslot serve`` runs a newsroom's week: staff enrol and are invited, several sources
send messages and files, recipients reply, a source deletes a reply, another forgets their whole
conversation, a recipient deletes a case, one changes a password, one resets theirs with the
recovery key, one takes their key offline. Every text, file name and file content carries a
random marker. Then the server stops, the data directory is copied, and ``tools/adversary.py``
plays the seizer on the copy. The tests check that:

- no marker or codename is anywhere, in any common encoding, in any file or in the report;
- what the adversary classifies as readable is exactly the table in docs/threat-model.md;
- the deleted case left no row, no blob and no copy of its key wraps in the raw SQLite bytes;
  neither did replaced password and recovery wraps, nor the wraps of the key taken offline;
- no session opens, and the dictionary attack finds no real password;
- as positive controls, the same attacks do succeed on a throwaway copy given a weak password,
  a stolen session token or a known codename, so the attack code is known to work.

The default database, SQLite, is used: a PostgreSQL server's files are not in the data
directory, and its storage is outside what this test can scan. So the PostgreSQL pass of the
suite, which would only repeat this file, leaves it out (``sqlite_only``).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import cbor2
import httpx
import pyotp
import pytest

from mailslot import crypto, drops
from mailslot.db.base import coarse
from mailslot.notifications import reminders
from mailslot.notifications.models import PendingNotice
from mailslot.notifications.services import window_end
from mailslot.recipients.models import WebauthnCredential
from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, find_case, login, new_source, submit

pytestmark = [pytest.mark.timeout(300), pytest.mark.sqlite_only]

ROOT = Path(__file__).resolve().parents[2]
ADVERSARY = ROOT / "tools" / "adversary.py"
THREAT_MODEL = ROOT / "docs" / "threat-model.md"
SECRET_RE = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')
INVITE_RE = re.compile(r'<code class="secret">(http://[^<]+/setup/[^<]+)</code>')
RECOVERY_RE = re.compile(r'<p class="codename" lang="en">([A-Z2-7-]+)</p>')
REPLY_DELETE_RE = re.compile(r'"/replies/([0-9a-f]+)/delete"')  # the link or the form
CHANNEL_RE = re.compile(r'name="channels" value="([0-9a-f]{32})"> <span>default</span>')
# In the adversary's built-in dictionary, and strong enough for zxcvbn: the positive control.
WEAK_PASSWORD = "correct horse battery staple"


def marker(kind: str) -> str:
    return f"MARKER-{kind}-{os.urandom(8).hex()}"


def encodings(text: str) -> dict[str, bytes]:
    """The forms a leaked text would most likely take on disk or in a report."""
    raw = text.encode()
    forms = {
        "utf-8": raw,
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    for shift in range(3):
        core = base64.b64encode(b"\0" * shift + raw)[4:-4]
        forms[f"base64/{shift}"] = core
        forms[f"base64url/{shift}"] = core.translate(bytes.maketrans(b"+/", b"-_"))
    return forms


@dataclass
class Deleted:
    """What a case was, captured through the database before a recipient deleted it."""

    case_id: str
    source_id: str
    pseudonym: str
    public_key: bytes
    case_wraps: list[bytes]
    item_ids: list[str]
    item_wraps: list[bytes]
    sealed_meta: list[bytes]
    blob_ids: list[str]


@dataclass
class Scenario:
    markers: list[str] = field(default_factory=list)
    codenames: list[str] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)
    deleted: Deleted | None = None
    # Key material the server replaced or dropped: no copy may survive in the raw bytes.
    replaced_wraps: dict[str, bytes] = field(default_factory=dict)
    hot_copy: Path | None = None
    api_token: str = ""
    live_codename: str = ""


def cli(server: LiveServer, args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", *args],
        input=stdin,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
        check=False,
    )


def db_rows(server: LiveServer, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the live database the way the test (not the adversary) may: through SQL."""
    path = server.data_dir / "mailslot.sqlite3"
    with closing(sqlite3.connect(path, timeout=30)) as db:
        return list(db.execute(sql, params))


def user_row(server: LiveServer, username: str, column: str) -> Any:
    return db_rows(server, f"SELECT {column} FROM users WHERE username = ?", username)[0][0]  # noqa: S608 - test-chosen column


def enroll(client: httpx.Client, link: str, username: str, server: LiveServer) -> Account:
    form = client.get(link)
    assert form.status_code == 200, form.text
    secret = SECRET_RE.search(form.text)
    assert secret, form.text
    password = "enrolment passphrase " + os.urandom(4).hex()
    done = client.post(
        link,
        data={
            "username": username,
            "password": password,
            "password_again": password,
            "totp": server.totp.code(secret[1]),
        },
    )
    assert done.status_code == 200, done.text
    recovery = RECOVERY_RE.search(done.text)
    assert recovery, done.text
    user_id = str(user_row(server, username, "id"))
    return Account(username, password, secret[1], recovery[1], user_id)


def add_user_with_email(server: LiveServer, email: str) -> Account:
    username = server.unique("rec")
    password = "a staff passphrase " + os.urandom(6).hex()
    pw_file = server.data_dir.parent / f"{username}.pw"
    pw_file.write_text(password + "\n")
    result = cli(
        server,
        ["users", "add", "--username", username, "--role", "recipient", "--password-file",
         str(pw_file), "--email", email, "--channel", "default", "--json"],
    )  # fmt: skip
    pw_file.unlink()
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    return Account(username, password, data["totp_secret"], data["recovery_key"], data["id"])


def source_session(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.source_url, timeout=60)


def send(
    server: LiveServer, scenario: Scenario, *, channel: str | None = None, files: int = 1
) -> tuple[httpx.Client, str]:
    """A new source sends a marked message with marked files; returns its client and text."""
    client = source_session(server)
    scenario.codenames.append(new_source(client))
    text = f"Tip {marker('MSG')} — 정오에 만나요"
    scenario.markers.append(text.split()[1])
    attached = []
    for _ in range(files):
        name = marker("NAME")
        body = marker("FILE")
        wide = marker("WIDE")  # inside the document as UTF-16, as office formats store text
        scenario.markers += [name, body, wide]
        content = b"%PDF-1.4\n" + body.encode() + b"\n" + wide.encode("utf-16-le") + b"\n%%EOF"
        attached.append((f"{name}.pdf", content, "application/pdf"))
    response = submit(client, text, files=attached, channel=channel)
    assert response.status_code == 303, response.text
    return client, text


def reply_as(server: LiveServer, web: httpx.Client, case_id: str, scenario: Scenario) -> str:
    text = marker("REPLY")
    scenario.markers.append(text)
    page = web.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    sent = web.post(f"/cases/{case_id}/replies", data={"csrf": csrf(page.text), "text": text})
    assert sent.status_code == 303, sent.text
    return text


def capture_case(server: LiveServer, case_id: str) -> Deleted:
    item_rows = db_rows(
        server, "SELECT id, sealed_meta, blob_id FROM items WHERE case_id=?", case_id
    )
    item_ids = [row[0] for row in item_rows]
    marks = ",".join("?" * len(item_ids))
    case = db_rows(
        server, "SELECT pseudonym, public_key, source_id FROM cases WHERE id = ?", case_id
    )[0]
    return Deleted(
        case_id=case_id,
        source_id=case[2],
        pseudonym=case[0],
        public_key=case[1],
        case_wraps=[
            r[0]
            for r in db_rows(server, "SELECT wrapped FROM case_key_wraps WHERE case_id=?", case_id)
        ],
        item_ids=item_ids,
        item_wraps=[
            r[0]
            for r in db_rows(
                server,
                f"SELECT wrapped FROM item_key_wraps WHERE item_id IN ({marks})",  # noqa: S608 - placeholders only
                *item_ids,
            )
        ],
        sealed_meta=[row[1] for row in item_rows],
        blob_ids=[row[2] for row in item_rows],
    )


def run_scenario(server: LiveServer, work: Path) -> Scenario:
    scenario = Scenario()
    accounts = scenario.accounts
    # The first admin enrols through the setup link; they invite a named recipient.
    assert server.setup_link
    with httpx.Client(timeout=60) as client:
        accounts["admin"] = enroll(client, server.setup_link, server.unique("chief"), server)
    admin_web = server.staff_client(accounts["admin"])
    invite_page = admin_web.get("/admin/invite")
    channel_id = CHANNEL_RE.search(invite_page.text)
    assert channel_id, invite_page.text
    invited_name = server.unique("invitee")
    invited = admin_web.post(
        "/admin/invite",
        data={
            "csrf": csrf(invite_page.text),
            "role": "recipient",
            "username": invited_name,
            "channels": [channel_id[1]],
        },
    )
    link = INVITE_RE.search(invited.text)
    assert link, invited.text
    with httpx.Client(timeout=60) as client:
        accounts["invitee"] = enroll(client, link[1], invited_name, server)
    # The keys for sealed drops are published: the default channel's first drop key (to the
    # invitee), the signing key and the first manifest version.
    assert httpx.get(f"{server.source_url}/keys", timeout=60).status_code == 200
    # The channel acknowledges new cases automatically and names a step of its own.
    settings_url = f"/admin/channels/{channel_id[1]}/settings"
    page = admin_web.get(settings_url)
    saved = admin_web.post(
        settings_url,
        data={"csrf": csrf(page.text), "acknowledge_days": "7", "feedback_days": "90",
              "retention_days": "90", "closed_retention_days": "30",
              "auto_reply_en": "Thank you. We have received your report."},
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    page = admin_web.get(settings_url)
    added = admin_web.post(
        settings_url + "/statuses",
        data={"csrf": csrf(page.text), "phase": "in_progress", "name": "Legal review"},
    )
    assert added.status_code == 303, added.text
    # Sources of the default channel choose its recipients; the invitee has a display name.
    page = admin_web.get(settings_url)
    chose = admin_web.post(
        settings_url + "/recipient-choice",
        data={"csrf": csrf(page.text), "sources_choose": "1",
              f"display_name_{accounts['invitee'].id}": "Invitee (desk)"},
    )  # fmt: skip
    assert chose.status_code == 303, chose.text
    # The organisation's name in Korean too, and its own quick exit.
    page = admin_web.get("/admin/settings")
    named = admin_web.post(
        "/admin/settings",
        data={"csrf": csrf(page.text), "texts_locale": "en", "default_locale": "en",
              "name": "Mailslot", "name:ko": "메일슬롯", "guidance": "Use Tor Browser.",
              "quick_exit_url": "https://weather.example/{lang}/"},
    )  # fmt: skip
    assert named.status_code == 303, named.text
    admin_web.close()

    # Recipients made by the operator: one with an email address, one to go offline, one
    # whose password the positive control will weaken, one on a second channel only.
    accounts["alice"] = server.add_user("recipient")
    accounts["bob"] = add_user_with_email(server, "bob@example.org")
    accounts["carol"] = server.add_user("recipient")
    accounts["weak"] = server.add_user("recipient")
    accounts["dan"] = server.add_user("recipient", channels=())
    accounts["cora"] = server.add_user("custodian")  # decides who sees a source's identity
    default = channel_id[1]
    investigations = server.add_channel(
        "investigations", (accounts["dan"].username, accounts["bob"].username), "Public money"
    )

    # Sources: five new ones, one of whom comes back to send more.
    s0, m0 = send(server, scenario, channel=default, files=2)
    s1, m1 = send(server, scenario, channel=default)
    more = f"One more thing: {marker('MSG')}"
    scenario.markers.append(more.rsplit(maxsplit=1)[-1])
    assert submit(s1, more).status_code == 303
    s2, m2 = send(server, scenario, channel=default)
    s3, m3 = send(server, scenario, channel=default)
    s4, m4 = send(server, scenario, channel=default)
    # A source on the second channel who never logs out: an abandoned session stays behind.
    s5, _ = send(server, scenario, channel=investigations)
    for client in (s0, s1, s2, s3, s4, s5):
        client.close()
    courier_drop(server, scenario, default)
    questionnaire_sources(server, scenario, work, investigations)

    alice = server.staff_client(accounts["alice"])
    alice_api = server.api_client(accounts["alice"])
    cases = {name: find_case(alice_api, m) for name, m in
             (("s0", m0), ("s1", m1), ("s2", m2), ("s3", m3), ("s4", m4))}  # fmt: skip
    for case in cases.values():
        alice.get(f"/cases/{case['id']}")  # read marks
    alice.get(f"/cases/{cases['s0']['id']}/download-all")
    replies = {name: reply_as(server, alice, cases[name]["id"], scenario) for name in cases}
    case_work(server, scenario, alice_api, cases, accounts)
    identity_on_request(server, scenario, (alice, alice_api), accounts, default)
    with server.api_client(accounts["bob"]) as bob_api:
        bob_reply = marker("REPLY")
        scenario.markers.append(bob_reply)
        posted = bob_api.post(f"/cases/{cases['s1']['id']}/replies", json={"text": bob_reply})
        assert posted.status_code == 201, posted.text

    # What "delete reply" and "forget" must destroy: the wraps to the source's key (which a
    # coerced codename would open), and the forgotten source's lookup tag and public key.
    source_wraps = {
        name: dict(
            db_rows(
                server,
                "SELECT k.item_id, k.wrapped FROM item_key_wraps k"
                " JOIN items i ON i.id = k.item_id WHERE i.case_id = ? AND k.holder = 'source'",
                cases[name]["id"],
            )
        )
        for name in ("s0", "s4")
    }
    for n, wrap in enumerate(source_wraps["s4"].values()):
        scenario.replaced_wraps[f"s4 reply wrap to the source {n}"] = wrap
    lookup, public_key = db_rows(
        server,
        "SELECT lookup, public_key FROM sources WHERE id ="
        " (SELECT source_id FROM cases WHERE id = ?)",
        cases["s4"]["id"],
    )[0]
    scenario.replaced_wraps["forgotten source lookup"] = lookup
    scenario.replaced_wraps["forgotten source public key"] = public_key

    # Source 0 reads and deletes its reply; source 1 reads only; source 4 forgets everything.
    for number, codename in ((0, scenario.codenames[0]), (1, scenario.codenames[1]),
                             (4, scenario.codenames[4])):  # fmt: skip
        with source_session(server) as client:
            assert login(client, codename).status_code == 303
            page = client.get("/conversation")
            assert replies[f"s{number}"] in page.text
            if number == 0:
                reply_id = REPLY_DELETE_RE.findall(page.text)[0]
                gone = client.post(f"/replies/{reply_id}/delete", data={"csrf": csrf(page.text)})
                assert gone.status_code == 303, gone.text
                wrap = source_wraps["s0"][reply_id]
                scenario.replaced_wraps["s0 deleted reply's wrap to the source"] = wrap
            if number == 4:
                form = client.get("/forget")
                forgot = client.post("/forget", data={"csrf": csrf(form.text), "confirm": "yes"})
                assert forgot.status_code == 303, forgot.text
                assert login(client, codename).status_code != 303
            else:
                assert client.post("/logout").status_code == 303
    scenario.live_codename = scenario.codenames[1]

    alice_api.close()  # the password change below ends this session

    # A failed staff login leaves a throttle row.
    with httpx.Client(base_url=server.staff_url, timeout=60) as stranger:
        wrong = {"username": accounts["bob"].username, "password": "wrong guess", "totp": "0"}
        assert stranger.post("/login", data=wrong).status_code != 303

    # Alice would read her notices in Korean (she has no notice address yet).
    page = alice.get("/account")
    noticed = alice.post(
        "/account/email", data={"csrf": csrf(page.text), "email": "", "locale": "ko"}
    )
    assert noticed.status_code == 303, noticed.text
    # Alice changes her password; Bob resets his with the recovery key; Carol goes offline.
    scenario.replaced_wraps["alice password"] = user_row(
        server, accounts["alice"].username, "private_key_password_wrap"
    )
    page = alice.get("/account")
    new_password = "a fresh passphrase " + os.urandom(4).hex()
    changed = alice.post(
        "/account/password",
        data={"csrf": csrf(page.text), "current": accounts["alice"].password,
              "password": new_password, "password_again": new_password},
    )  # fmt: skip
    assert changed.status_code == 303, changed.text
    accounts["alice"].password = new_password
    bob = accounts["bob"]
    scenario.replaced_wraps["bob password"] = user_row(
        server, bob.username, "private_key_password_wrap"
    )
    scenario.replaced_wraps["bob recovery"] = user_row(
        server, bob.username, "private_key_recovery_wrap"
    )
    bob_password = "a recovered passphrase " + os.urandom(4).hex()
    with httpx.Client(base_url=server.staff_url, timeout=60) as client:
        recovered = client.post(
            "/recover",
            data={"username": bob.username, "recovery_key": bob.recovery_key,
                  "totp": server.totp.code(bob.totp_secret), "password": bob_password,
                  "password_again": bob_password},
        )  # fmt: skip
        assert recovered.status_code == 200, recovered.text
        assert RECOVERY_RE.search(recovered.text), recovered.text
    bob.password = bob_password
    carol = accounts["carol"]
    scenario.replaced_wraps["carol password"] = user_row(
        server, carol.username, "private_key_password_wrap"
    )
    scenario.replaced_wraps["carol recovery"] = user_row(
        server, carol.username, "private_key_recovery_wrap"
    )
    passphrase = "a calm passphrase for the offline laptop"
    exported = cli(
        server,
        ["keys", "export", "--user", carol.username, "--out", str(work / "carol.mslkey")],
        "\n".join(
            [carol.password, server.totp.code(carol.totp_secret), passphrase, passphrase, ""]
        ),
    )
    assert exported.returncode == 0, exported.stderr
    assert user_row(server, carol.username, "key_offline") == 1

    # Alice deletes case 3 (with its reply). Capture its wraps first, through the database.
    scenario.deleted = capture_case(server, cases["s3"]["id"])
    assert scenario.deleted.case_wraps
    assert len(scenario.deleted.item_wraps) >= 3
    form = alice.get(f"/cases/{cases['s3']['id']}/delete")
    confirm = {"csrf": csrf(form.text), "confirm": "yes"}
    gone = alice.post(f"/cases/{cases['s3']['id']}/delete", data=confirm)
    assert gone.status_code == 303, gone.text
    assert alice.get(f"/cases/{cases['s3']['id']}").status_code == 404
    # A disk image taken while the server runs, right after the deletion.
    scenario.hot_copy = work / "hot-copy"
    shutil.copytree(server.data_dir, scenario.hot_copy)
    alice.close()
    # A live API session whose token a positive control will hand to the adversary.
    scenario.api_token = server.api_token(accounts["alice"])
    add_security_key(server, accounts["alice"])
    add_pending_notice(server, accounts["alice"])
    return scenario


def identity_on_request(
    server: LiveServer,
    scenario: Scenario,
    alice_clients: tuple[httpx.Client, httpx.Client],
    accounts: dict[str, Account],
    channel: str,
) -> None:
    """A source leaves some recipients out and gives their identity (sealed apart, for the
    custodian); Alice asks to see it with a reason, the custodian approves, she reads it.
    ``alice_clients``: her staff pages and her API."""
    alice, alice_api = alice_clients
    text, identity, reason = marker("MSG"), marker("IDENTITY"), marker("REASON")
    scenario.markers += [text, identity, reason]
    with source_session(server) as client:
        scenario.codenames.append(new_source(client))
        form = client.get("/submit")
        sent = client.post(
            "/submit",
            data={"csrf": csrf(form.text), "message": text, "channel": channel, "choosing": "1",
                  "identity": identity,
                  "recipient": [accounts["alice"].id, accounts["invitee"].id]},
            files=[("files", ("", b"", "application/octet-stream"))],
        )  # fmt: skip
        assert sent.status_code == 303, sent.text
    case_id = find_case(alice_api, text)["id"]
    page = alice.get(f"/cases/{case_id}")
    asked = alice.post(
        f"/cases/{case_id}/identity/request", data={"csrf": csrf(page.text), "reason": reason}
    )
    assert asked.status_code == 303, asked.text
    with closing(server.staff_client(accounts["cora"])) as cora:
        waiting = cora.get("/identity")
        request_id = re.search(r"/identity/([0-9a-f]{32})/approve", waiting.text)
        assert request_id, waiting.text
        done = cora.post(f"/identity/{request_id[1]}/approve", data={"csrf": csrf(waiting.text)})
        assert done.status_code == 303, done.text
    assert identity in alice.get(f"/cases/{case_id}/identity").text


QUESTIONNAIRE: Final = {
    "version": 1,
    "title": {"en": "Report"},
    "steps": [
        {"title": {"en": "What"}, "fields": [
            {"id": "what", "type": "long_text", "required": True, "label": {"en": "What?"}},
            {"id": "urgent", "type": "yes_no", "statistics": True, "label": {"en": "Urgent?"}},
            {"id": "evidence", "type": "file", "label": {"en": "Evidence"}}]},
        {"title": {"en": "Who"}, "fields": [
            {"id": "name", "type": "short_text", "identity": True, "label": {"en": "Name"}}]},
    ],
}  # fmt: skip


def questionnaire_sources(
    server: LiveServer, scenario: Scenario, work: Path, channel_id: str
) -> None:
    """The operator gives the second channel a questionnaire (two versions); one source
    answers it and sends (answers and identity sealed into its case), another leaves a draft
    behind, its session never ended. Every answer carries a marker, and so does the file each
    attaches (sent as an item, or kept in the draft); the yes/no is counted in clear."""
    definition = work / "questionnaire.json"
    for title in ("Old report", "Report"):
        definition.write_text(json.dumps({**QUESTIONNAIRE, "title": {"en": title}}))
        done = cli(server, ["questionnaires", "import", "--channel", "investigations",
                            str(definition)])  # fmt: skip
        assert done.returncode == 0, done.stderr
    for sends in (True, False):
        client = source_session(server)
        scenario.codenames.append(new_source(client))
        answer, name = f"Answer {marker('FORM')}", marker("IDENTITY")
        scenario.markers += [answer.split()[1], name]
        base = f"/questionnaire/{channel_id}"
        page = client.get(f"{base}/step/0")
        step = {"csrf": csrf(page.text), "shown": "what urgent evidence", "go": "next",
                "what": answer, "urgent": "yes"}  # fmt: skip
        evidence = marker("QFILE")
        scenario.markers.append(evidence)
        part = (f"{evidence}.txt", evidence.encode(), "text/plain")
        answered = client.post(f"{base}/step/0", data=step, files=[("evidence", part)])
        assert answered.status_code == 303, answered.text
        step = {"csrf": csrf(page.text), "shown": "name", "go": "next", "name": name}
        assert client.post(f"{base}/step/1", data=step).status_code == 303
        if sends:
            review = client.get(f"{base}/review")
            sent = client.post(f"{base}/review", data={"csrf": csrf(review.text)})
            assert sent.status_code == 303, sent.text
            assert sent.headers["location"] == "/submitted"
        client.close()


def courier_drop(server: LiveServer, scenario: Scenario, channel: str) -> None:
    """The keys published again (the operator's new recipients rotate the default channel's
    drop key: one retired, a second manifest version), then a courier sends a drop."""
    chain = drops.load_chain(httpx.get(f"{server.source_url}/keys.json", timeout=60).content)
    latest = drops.verify_chain(chain)
    assert latest.version >= 2
    assert latest.previous is not None
    text = marker("DROP")
    scenario.markers.append(text)
    recipient = drops.PqRecipient.parse(latest.channel("default").drop_recipient)
    sealed = b"".join(drops.seal_stream([recipient], [text.encode()]))
    with httpx.Client(base_url=server.source_url, timeout=60) as courier:
        part = ("drop.age", sealed, "application/octet-stream")
        sent = courier.post("/drop", data={"channel": channel}, files=[("files", part)])
    assert sent.status_code == 303, sent.text


def case_work(
    server: LiveServer,
    scenario: Scenario,
    api: httpx.Client,
    cases: dict[str, dict[str, Any]],
    accounts: dict[str, Account],
) -> None:
    """Statuses, the flag, labels, assignees, notes, access revoked and granted again, a
    longer retention and a reminder: every case-work column gets a value, and the sealed
    texts (a note, the reason for closing, the reason for keeping longer) carry markers."""
    s0, s1, s2 = cases["s0"]["id"], cases["s1"]["id"], cases["s2"]["id"]
    (custom_status,) = db_rows(server, "SELECT id FROM custom_statuses")[0]
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("post", f"/cases/{s1}/status", {"custom_status_id": custom_status}),
        ("put", f"/cases/{s0}/important", {"important": True}),
        ("post", f"/cases/{s0}/labels", {"name": "follow-up"}),
        ("post", f"/cases/{s0}/assignees", {"user_id": accounts["alice"].id}),
        ("post", f"/cases/{s0}/notes", {"text": f"Call the lawyer {marker('NOTE')}"}),
        ("delete", f"/cases/{s0}/access/{accounts['dan'].id}", {}),
        ("post", f"/cases/{s0}/access", {"user_id": accounts["dan"].id}),
        ("post", f"/cases/{s2}/status", {"status": "closed", "reason": marker("CLOSE")}),
        ("post", f"/cases/{s1}/retention", {"until": time.strftime(
            "%Y-%m-%d", time.gmtime(time.time() + 400 * 86400)), "reason": marker("KEEP")}),
    ]  # fmt: skip
    for method, path, body in calls:
        for value in body.values():
            if isinstance(value, str) and value.split()[-1].startswith("MARKER-"):
                scenario.markers.append(value.split()[-1])
        answer = api.request(method, path, json=body or None)
        assert answer.status_code in {200, 201, 204}, (path, answer.text)
    # The reminder job marks a deadline as reminded (tests/functional/test_reminders.py
    # drives it with a real SMTP server); here only the stored shape matters.
    # Every case here was acknowledged and answered; the second channel's case still waits.
    (waiting, due_at), *_ = db_rows(server, "SELECT id, due_at FROM cases WHERE due_at > 0")
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            assert reminders.claim(db, waiting, due_at)
    finally:
        runtime.close()


def add_pending_notice(server: LiveServer, account: Account) -> None:
    """A mail notice waiting after a failed delivery, as the notice job leaves one
    (tests/functional/test_notices.py drives the real job against an SMTP server)."""
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            db.add(
                PendingNotice(
                    user_id=account.id,
                    due_at=window_end(runtime.default.now(), 3600),
                    attempts=1,
                    claimed_until=runtime.default.now() + 300,
                    last_error="SMTPDataError",
                )
            )
    finally:
        runtime.close()


def add_security_key(server: LiveServer, account: Account) -> None:
    """A registered security key, stored as registration stores one (tests/functional/
    test_webauthn.py drives the real ceremony in Chromium; here only the stored shape
    matters): a random credential id and a COSE EC2 public key."""
    cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: os.urandom(32), -3: os.urandom(32)})
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            db.add(
                WebauthnCredential(
                    user_id=account.id,
                    credential_id=os.urandom(32),
                    public_key=cose,
                    sign_count=7,
                    name="blue key",
                    created_at=coarse(runtime.default.now()),
                    last_used_at=coarse(runtime.default.now()),
                )
            )
    finally:
        runtime.close()


def adversary(data_dir: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(ADVERSARY), "--data-dir", str(data_dir), "--json", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@dataclass
class Seized:
    server: LiveServer
    scenario: Scenario
    copy: Path
    report: dict[str, Any]
    report_text: str
    seconds: float
    work: Path


@pytest.fixture(scope="module")
def seized(tmp_path_factory: pytest.TempPathFactory) -> Seized:
    work = tmp_path_factory.mktemp("seizure")
    base = work / "instance"
    base.mkdir()
    server = start_server(base, {"MAILSLOT_DATABASE_URL": ""})
    try:
        scenario = run_scenario(server, work)
    finally:
        stop_server(server)
    copy = work / "seized"
    shutil.copytree(server.data_dir, copy)
    start = time.monotonic()
    report = adversary(copy)
    seconds = time.monotonic() - start
    (work / "report.json").write_text(json.dumps(report, indent=1))
    return Seized(server, scenario, copy, report, json.dumps(report), seconds, work)


def every_file(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# (a) No planted marker anywhere.


def test_no_marker_or_codename_in_any_file_or_in_the_report(seized: Seized) -> None:
    secrets = seized.scenario.markers + seized.scenario.codenames
    assert len(seized.scenario.markers) > 25
    # Seven free-text sources (one chose its recipients and gave its identity), two
    # questionnaires.
    assert len(seized.scenario.codenames) == 9
    assert seized.scenario.hot_copy is not None
    places = {str(p): p.read_bytes() for p in every_file(seized.copy)}
    places.update({f"hot:{p}": p.read_bytes() for p in every_file(seized.scenario.hot_copy)})
    # The server's TMPDIR too: the scenario downloaded a zip and uploaded files.
    places.update(
        {f"tmp:{p}": p.read_bytes() for p in every_file(seized.server.data_dir.parent / "tmp")}
    )
    places["report"] = seized.report_text.encode()
    leaks = [
        f"{where}: {text} as {how}"
        for text in secrets
        for how, needle in encodings(text).items()
        for where, data in places.items()
        if needle in data
    ]
    assert leaks == []
    assert seized.report["recovered"] == []


# (b) What is readable is exactly what the threat model documents.


FORM_RE = re.compile(r"(clear|random|public key|sealed)(?: \(([^)]*)\))?")


def documented_columns() -> dict[str, tuple[str, str | None]]:
    """Parse the "What is stored in clear" table of docs/threat-model.md."""
    section = (
        THREAT_MODEL.read_text().split("## What is stored in clear", 1)[1].split("\n## ", 1)[0]
    )
    table = section.split("### Files in the data directory", 1)[0]
    columns: dict[str, tuple[str, str | None]] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) < 3:
            continue
        names = re.findall(r"`([a-z_0-9.]+)`", cells[0])
        form = FORM_RE.fullmatch(cells[1].replace("*", "").replace("`", ""))
        assert form, f"unparsed Form cell: {cells[1]!r}"
        table_name = names[0].split(".")[0]
        for name in names:
            full = f"{table_name}{name}" if name.startswith(".") else name
            assert full not in columns, f"{full} documented twice"
            columns[full] = (form[1], form[2])
    return columns


def documented_files() -> dict[str, str]:
    section = THREAT_MODEL.read_text().split("### Files in the data directory", 1)[1]
    kinds: dict[str, str] = {}
    for line in section.split("\n#", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 3:
            kinds[cells[1].strip("`")] = cells[0]
    return kinds


def test_every_test_the_threat_model_names_exists() -> None:
    """The "How this is tested" references must point at real test functions."""
    named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", THREAT_MODEL.read_text())
    assert len(named) >= 20
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not (ROOT / path).is_file()
        or not re.search(rf"^(async )?def {name}\(", (ROOT / path).read_text(), re.MULTILINE)
    ]
    assert missing == []


def observed_columns(report: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {
        name: (info["class"], info.get("precision") or info.get("format"))
        for name, info in report["columns"].items()
    }


# Time precision from finest to coarsest. Values that happen to fall on a round time (a run
# at 18:00 stores minute values that are also whole hours) look coarser than they are.
PRECISION = ["exact", "minute", "hour", "day"]


def matches(observed: tuple[str, str | None], documented: tuple[str, str | None]) -> bool:
    """Equal, or a time observed at a coarser precision than documented (never finer: a
    column documented to the hour that shows exact times is a leak)."""
    if observed == documented:
        return True
    (o_class, o_detail), (d_class, d_detail) = observed, documented
    return (
        o_class == d_class
        and o_detail in PRECISION
        and d_detail in PRECISION
        and PRECISION.index(o_detail) > PRECISION.index(d_detail)
    )


def test_precision_matching_allows_only_coarser_observations() -> None:
    assert matches(("clear", "hour"), ("clear", "minute"))
    assert matches(("clear", "day"), ("clear", "hour"))
    assert not matches(("clear", "exact"), ("clear", "hour"))
    assert not matches(("clear", "minute"), ("clear", "hour"))
    assert not matches(("random", None), ("clear", None))


def test_every_column_is_classified_as_the_threat_model_says(seized: Seized) -> None:
    observed = observed_columns(seized.report)
    documented = documented_columns()
    assert sorted(observed) == sorted(documented), "tables or columns differ from the doc"
    # A column the scenario left empty cannot be judged by its bytes; see the test below.
    judged = {name for name, (cls, _) in observed.items() if cls != "empty"}
    mismatched = {
        name: {"observed": observed[name], "documented": documented[name]}
        for name in sorted(judged)
        if not matches(observed[name], documented[name])
    }
    assert mismatched == {}
    clear = {name for name in judged if documented[name][0] == "clear"}
    assert set(seized.report["clear_columns"]) == clear


def test_the_scenario_puts_a_value_in_every_column(seized: Seized) -> None:
    empty = sorted(n for n, (cls, _) in observed_columns(seized.report).items() if cls == "empty")
    assert empty == []


def test_every_file_kind_is_documented(seized: Seized) -> None:
    documented = documented_files()
    found = set(seized.report["file_kinds"])
    assert found <= set(documented), found - set(documented)
    hot = set(adversary(seized.scenario.hot_copy or Path())["file_kinds"])
    assert hot <= set(documented), hot - set(documented)
    # Between a copy taken while the server runs and one taken after it stops, every kind
    # shows up, except partial blobs, which exist only while an upload is being written.
    assert found | hot == set(documented) - {"partial-blob"}
    assert {"database", "blob"} <= found


def test_the_report_sees_the_metadata_it_should(seized: Seized) -> None:
    """The adversary is not blind: it reads what the threat model says is readable."""
    derived = seized.report["derived"]
    accounts = seized.scenario.accounts
    staff = {p["username"]: p for p in derived["staff"]}
    assert set(staff) == {a.username for a in accounts.values()}
    assert staff[accounts["bob"].username]["email"] == "bob@example.org"
    assert staff[accounts["carol"].username]["key_offline"] is True
    assert not staff[accounts["carol"].username]["password_wrap"]
    # Six sources (one chose its recipients) and the courier sent to "default" (one source
    # case was deleted); one source wrote to "investigations" and one answered its
    # questionnaire.
    assert derived["cases_per_channel"] == {"default": 6, "investigations": 2}
    # One forgot their conversation; the deleted case's source went with its only case; the
    # courier's case never had one.
    assert derived["sources"]["rows"] == 6  # with the questionnaire's and the chooser's
    assert derived["sources"]["cases_without_a_source"] == 2
    # Five replies by staff and five automatic acknowledgements (the deleted case's went
    # with it); three sealed notes: one written, the reason for closing, the reason for
    # keeping a case longer.
    assert derived["item_kinds"]["reply"] == 10
    assert derived["item_kinds"]["note"] == 3
    assert derived["blobs"]["orphans"] == []
    assert derived["blobs"]["missing"] == []
    kinds = {s["kind"] for s in derived["sessions"]}
    assert {"staff", "api", "source"} <= kinds
    totp_now = pyotp.TOTP(accounts["bob"].totp_secret).now()
    assert staff[accounts["bob"].username]["totp_code_now"] in {
        totp_now,
        pyotp.TOTP(accounts["bob"].totp_secret).at(time.time() - 30),
    }


# (c) The deleted case: nothing left, and its keys not recoverable from raw bytes.


def raw_database_files(root: Path) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes()
        for p in root.iterdir()
        if p.name.startswith("mailslot.sqlite3") and p.is_file()
    }


def test_the_deleted_case_left_no_rows_and_no_blobs(seized: Seized) -> None:
    deleted = seized.scenario.deleted
    assert deleted is not None
    tables = seized.report["tables"]
    assert all(r["id"] != deleted.case_id for r in tables["cases"]["values"])
    # Its source opened no other case, so its row (lookup tag, public key) went with it.
    assert deleted.source_id
    assert all(r["id"] != deleted.source_id for r in tables["sources"]["values"])
    for table in ("case_key_wraps", "case_reads", "items"):
        assert all(r["case_id"] != deleted.case_id for r in tables[table]["values"]), table
    assert all(r["item_id"] not in deleted.item_ids for r in tables["item_key_wraps"]["values"])
    names = {p.name for p in every_file(seized.copy)}
    assert names.isdisjoint(deleted.blob_ids)
    assert names.isdisjoint(f"{b}.partial" for b in deleted.blob_ids)


@pytest.mark.parametrize("copy", ["after stop", "while running"])
def test_deleted_and_replaced_key_material_is_not_in_the_raw_database(
    seized: Seized, copy: str
) -> None:
    deleted = seized.scenario.deleted
    assert deleted is not None
    root = seized.copy if copy == "after stop" else seized.scenario.hot_copy
    assert root is not None
    raw = raw_database_files(root)
    assert "mailslot.sqlite3" in raw
    needles: dict[str, bytes] = {}
    for n, wrap in enumerate(deleted.case_wraps):
        needles[f"deleted case wrap {n}"] = wrap
    for n, wrap in enumerate(deleted.item_wraps):
        needles[f"deleted item wrap {n}"] = wrap
    for n, meta in enumerate(deleted.sealed_meta):
        needles[f"deleted sealed metadata {n}"] = meta
    needles["deleted case public key"] = deleted.public_key
    needles["deleted case pseudonym"] = deleted.pseudonym.encode()
    for what, wrap in seized.scenario.replaced_wraps.items():
        needles[f"removed: {what}"] = wrap
    # Any 48-byte window is enough to call it recoverable.
    found = [
        f"{name} in {file}"
        for name, needle in needles.items()
        for file, data in raw.items()
        if any(needle[i : i + 48] in data for i in range(0, max(1, len(needle) - 47), 48))
    ]
    assert found == [], "recoverable from the raw bytes:\n" + "\n".join(found)
    report = seized.report if copy == "after stop" else adversary(root)
    assert all(stale == {} for stale in report["attacks"]["stale_ciphertext"].values())


def test_free_space_in_the_database_file_holds_no_content(seized: Seized) -> None:
    """secure_delete zeroes freed cells. SQLite keeps only its bookkeeping there: unused
    cell-pointer slots and 4-byte freeblock headers, which are offsets and sizes."""
    for root in (seized.copy, seized.scenario.hot_copy):
        assert root is not None
        report = seized.report if root == seized.copy else adversary(root)
        database = next(f for f in report["files"] if f["kind"] == "database")["sqlite"]
        assert database["free_bytes"] > 0  # the scan looked at something
        assert database["longest_nonzero_run"] <= 4, database
        assert not database["content_may_remain"]
        assert database["strings_in_free_space"] == []
        assert database["markers_in_free_space"] == {}


# (c2) No order and no exact times at rest (issue 18).

# The tables keyed by an integer: one row each, or the audit trail, whose order is by design.
# Likewise the organisation's signing key (one row) and the key manifests, whose versions are
# published in order.
ORDERED_BY_DESIGN = {
    "alembic_version",
    "instance",
    "audit_head",
    "audit_events",
    "signing_key",
    "key_manifests",
}


def test_no_table_keeps_the_order_rows_were_written(seized: Seized) -> None:
    assert set(seized.report["attacks"]["insertion_order"]) == ORDERED_BY_DESIGN
    # Rows sit in the order of their random ids, not in the order they were written.
    with closing(
        sqlite3.connect(f"file:{seized.copy / 'mailslot.sqlite3'}?mode=ro", uri=True)
    ) as db:
        for table, key in (
            ("sources", "id"),
            ("cases", "id"),
            ("items", "id"),
            ("sessions", "id"),
            ("item_key_wraps", "item_id"),
        ):
            # Every column, so that no covering index answers instead of the table itself.
            rows = db.execute(f"SELECT * FROM {table} NOT INDEXED")  # noqa: S608
            names = [column[0] for column in rows.description]
            stored = [row[names.index(key)] for row in rows]
            assert len(stored) > 1, table
            assert stored == sorted(stored), table


def test_the_order_attack_works_on_a_table_with_a_rowid(tmp_path: Path) -> None:
    """Positive control: the adversary recovers the order from a rowid when there is one."""
    path = tmp_path / "ordered.sqlite3"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("CREATE TABLE kept (id TEXT PRIMARY KEY)")
        db.execute("CREATE TABLE unordered (id TEXT PRIMARY KEY) WITHOUT ROWID")
        for n in range(5):
            db.execute("INSERT INTO kept VALUES (?)", (os.urandom(16).hex(),))
            db.execute("INSERT INTO unordered VALUES (?)", (f"row {n}",))
    assert load_adversary().insertion_order(f"sqlite:///{path}") == {"kept": 5}


def test_blob_files_and_directories_show_only_the_hour(seized: Seized) -> None:
    blobs = [f for f in seized.report["files"] if f["kind"] == "blob"]
    assert len(blobs) > 10
    exact = [f["path"] for f in blobs if (seized.copy / f["path"]).stat().st_mtime % 3600]
    assert exact == []
    directories = [d for d in seized.report["directories"] if d["path"].startswith("blobs")]
    assert len(directories) > 1
    assert [d["path"] for d in directories if d["mtime"] % 3600] == []
    # The deleted case's blobs went; so did every bucket they left empty.
    assert [d["path"] for d in directories if d["empty"]] == []


# (d) Sessions do not open.


def test_no_session_opens_without_its_token(seized: Seized) -> None:
    sessions = seized.report["attacks"]["sessions"]
    assert sessions["rows"] >= 3
    assert sessions["tokens_tried"] >= 2
    assert sessions["opened"] == 0


# (e) The dictionary attack finds nothing for real accounts.


def test_the_dictionary_attack_finds_no_real_password(seized: Seized) -> None:
    attempts = {a["username"]: a for a in seized.report["attacks"]["passwords"]}
    assert set(attempts) == {a.username for a in seized.scenario.accounts.values()}
    for attempt in attempts.values():
        assert attempt["tried"] >= 30, attempt
        assert attempt["password"] is None, attempt
    assert seized.report["attacks"]["recovery_keys"]["opened"] == []
    assert seized.report["recovered"] == []
    # The adversary reads what the threat model says it can: TOTP secrets (of accounts; a
    # used invitation keeps none), and which account
    # the login throttle is about.
    findings = seized.report["findings"]
    assert "TOTP secrets readable in users.totp_secret" in findings
    bob = seized.scenario.accounts["bob"].username
    assert f"failed logins recorded for {bob} (1)" in findings
    assert not [f for f in findings if "password of" in f or "decrypted" in f or "opened" in f]


# Positive controls: the same attacks succeed when they should.


def weaken(copy: Path, account: Account) -> None:
    """Re-wrap the account's real key under a password from the adversary's dictionary."""
    path = copy / "mailslot.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        kdf, salt, wrap, user_id = db.execute(
            "SELECT password_kdf, password_salt, private_key_password_wrap, id FROM users"
            " WHERE username = ?",
            (account.username,),
        ).fetchone()
        context = b"user-private-key/password/" + bytes.fromhex(user_id)
        params = crypto.KdfParams.decode(kdf)
        seed = crypto.open_secret(
            crypto.derive_password_keys(account.password, salt, params).kek, wrap, context
        )
        new_salt = crypto.new_salt()
        keys = crypto.derive_password_keys(WEAK_PASSWORD, new_salt, params)
        db.execute(
            "UPDATE users SET password_salt=?, password_verifier=?, private_key_password_wrap=?"
            " WHERE id=?",
            (new_salt, keys.verifier, crypto.seal_secret(keys.kek, seed, context), user_id),
        )
        db.commit()


def test_positive_control_weak_password_token_and_codename_open_everything(
    seized: Seized,
) -> None:
    throwaway = seized.work / "throwaway"
    shutil.copytree(seized.copy, throwaway)
    weaken(throwaway, seized.scenario.accounts["weak"])
    report = adversary(
        throwaway,
        # One argument with "=": a token may begin with "-", which argparse would take for
        # an option if the value came on its own.
        f"--session-token={seized.scenario.api_token}",
        f"--codename={seized.scenario.live_codename}",
        "--codename",
        "not a codename at all",
    )
    attempts = {a["username"]: a for a in report["attacks"]["passwords"]}
    weak = attempts[seized.scenario.accounts["weak"].username]
    assert weak["password"] == WEAK_PASSWORD
    assert weak["note"] == "password found; private key recovered"
    assert [a for a in attempts.values() if a["password"] is not None] == [weak]
    assert report["attacks"]["sessions"]["opened"] == 1
    assert [f["source"] for f in report["attacks"]["codenames"]["found"]]
    # Weak's cases (the default channel) and Alice's session open: markers are now readable,
    # in the report that the real run is searched with.
    text = json.dumps(report)
    readable = [m for m in seized.scenario.markers if m in text]
    assert len(readable) >= 10
    vias = {r["via"] for r in report["recovered"]}
    assert any(v.startswith("user ") for v in vias)


def test_the_marker_scan_can_fail(tmp_path: Path) -> None:
    text = marker("CHECK")
    path = tmp_path / "leak"
    path.write_bytes(
        b"..." + text.encode("utf-16-le") + b"..." + base64.b64encode(b"z" + text.encode())
    )
    data = path.read_bytes()
    found = {how for how, needle in encodings(text).items() if needle in data}
    assert {"utf-16-le", "base64/1"} <= found


def load_adversary() -> Any:
    spec = importlib.util.spec_from_file_location("adversary", ADVERSARY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("adversary", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("secure_delete", ["OFF", "ON"])
def test_the_free_space_scan_finds_leftovers(tmp_path: Path, secure_delete: str) -> None:
    """Without secure_delete a deleted row stays in the file, and the scan must say so."""
    text = marker("GONE")
    wrap = b"MSLW\x01" + os.urandom(1168)
    path = tmp_path / "scan.sqlite3"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute(f"PRAGMA secure_delete={secure_delete}")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT, wrap BLOB)")
        for n in range(40):
            db.execute("INSERT INTO t (text, wrap) VALUES (?, ?)", (f"{text}-{n}", wrap))
        db.execute("DELETE FROM t WHERE id % 2 = 0")
    result = load_adversary().analyse_sqlite(path.read_bytes())
    if secure_delete == "OFF":
        assert result["content_may_remain"]
        assert any(text in found for found in result["strings_in_free_space"])
        assert result["markers_in_free_space"]["MSLW"] > 0
    else:
        assert not result["content_may_remain"]
        assert result["strings_in_free_space"] == []
        assert result["markers_in_free_space"] == {}


def test_a_stale_copy_counts_only_while_its_live_twin_stands() -> None:
    """SQLite leaves a copy of a cell in a page's gap when it rebuilds the page; the scan
    sets such a copy aside only while the same bytes stand in a part of the file in use."""
    live_elsewhere = load_adversary().live_elsewhere
    record = b"\x81\x02record of a person"
    free = [(100, 50, "gap")]
    raw = bytearray(400)
    raw[110 : 110 + len(record)] = record  # the stale copy, in the free region
    assert not live_elsewhere(bytes(raw), record, free)  # deleted: nothing else holds it
    raw[300 : 300 + len(record)] = record  # the live record, outside the free region
    assert live_elsewhere(bytes(raw), record, free)
    assert not live_elsewhere(bytes(raw), record, [*free, (290, 60, "free page")])


def test_the_seizure_takes_little_time(seized: Seized) -> None:
    assert seized.seconds < 30, seized.seconds
