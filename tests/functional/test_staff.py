"""The staff interface over real HTTP: login, inbox, case deletion, administration and CSRF."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import func, select

from mailslot import crypto
from mailslot.cases.models import CaseKeyWrap, Item
from mailslot.channels.models import Channel
from mailslot.instance.models import Instance
from mailslot.recipients.models import Enrollment, Role, User
from mailslot.recipients.services import parse_recovery_key
from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, new_source, submit

WRONG_LOGIN = "The username, password or code is wrong."
DEAD_LINK = "This link is not valid. It may have expired or been used already."
CSRF_REFUSED = (
    "This form has expired or did not come from this site. Go back, reload and try again."
)
CASE_LINK = re.compile(r'href="/cases/([0-9a-f]{32})"')
SECRET = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')


def query(server: LiveServer, statement: Any) -> Any:
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            return db.scalar(statement)
    finally:
        runtime.close()


def send_case(
    server: LiveServer, message: str, files: list[tuple[str, bytes, str]] | None = None
) -> None:
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        new_source(client)
        response = submit(client, message, files=files)
        assert response.status_code == 303, response.text


def spent(server: LiveServer, secret: str) -> None:
    """Enrolment spends the current TOTP step: later logins must use a newer one."""
    server.totp.used[secret] = max(
        server.totp.used.get(secret, 0), pyotp.TOTP(secret).timecode(time.time())
    )


def wrong_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    near = {totp.at(time.time() + 30 * step) for step in range(-3, 4)}
    return next(c for c in ("000000", "123456", "999999", "424242", "777777") if c not in near)


def enroll(
    client: httpx.Client, link: str, username: str, server: LiveServer
) -> tuple[Account, str]:
    form = client.get(link)
    assert form.status_code == 200, form.text
    secret = SECRET.search(form.text)[1]  # type: ignore[index]
    password = "enrolment passphrase " + os.urandom(4).hex()
    done = client.post(
        link,
        data={
            "username": username,
            "password": password,
            "password_again": password,
            "totp": server.totp.code(secret),
        },
    )
    assert done.status_code == 200, done.text
    spent(server, secret)
    recovery = re.search(r'<p class="codename" lang="en">([A-Z2-7-]+)</p>', done.text)
    assert recovery, done.text
    user_id = query(server, select(User.id).where(User.username == username))
    return Account(username, password, secret, recovery[1], user_id), done.text


@dataclass
class FirstAdmin:
    account: Account
    form_page: httpx.Response
    bad_code_page: httpx.Response
    done_page: str
    link: str


@pytest.fixture(scope="module")
def first_admin(server: LiveServer) -> FirstAdmin:
    link = server.setup_link
    assert link, "the server prints a setup link while no admin exists"
    with httpx.Client(timeout=60) as client:
        form_page = client.get(link)
        secret = SECRET.search(form_page.text)[1]  # type: ignore[index]
        bad = client.post(
            link,
            data={
                "username": "chief",
                "password": "a long enough passphrase",
                "password_again": "a long enough passphrase",
                "totp": wrong_code(secret),
            },
        )
        account, done = enroll(client, link, "chief", server)
    return FirstAdmin(account, form_page, bad, done, link)


@pytest.fixture(scope="module")
def admin_web(server: LiveServer, first_admin: FirstAdmin) -> Iterator[httpx.Client]:
    with closing(server.staff_client(first_admin.account)) as client:
        yield client


@pytest.fixture(scope="module")
def reader(server: LiveServer) -> Account:
    return server.add_user("recipient")


@pytest.fixture(scope="module")
def reader_web(server: LiveServer, reader: Account) -> Iterator[httpx.Client]:
    with closing(server.staff_client(reader)) as client:
        yield client


@pytest.fixture(scope="module")
def reader_api(server: LiveServer, reader: Account) -> Iterator[httpx.Client]:
    with server.api_client(reader) as client:
        yield client


def newest_case_id(api: httpx.Client) -> str:
    return str(api.get("/cases", params={"limit": 1}).json()["cases"][0]["id"])


def instance_name(server: LiveServer) -> str:
    return str(query(server, select(Instance.name)))


# First-run setup.


def test_setup_link_enrols_the_first_admin_once(
    server: LiveServer, first_admin: FirstAdmin
) -> None:
    form = first_admin.form_page
    assert "Set up this Mailslot" in form.text
    assert '<img class="qr" src="data:image/svg+xml' in form.text
    # A wrong code is refused without using up the link.
    assert first_admin.bad_code_page.status_code == 400
    assert "That code is not right." in first_admin.bad_code_page.text
    assert "Your account is ready" in first_admin.done_page
    account = first_admin.account
    assert query(server, select(User.role).where(User.id == account.id)) == Role.ADMIN.value
    # The recovery key on the page opens the new admin's private key.
    secret = parse_recovery_key(account.recovery_key)
    user_id = bytes.fromhex(account.id)
    wrap = query(server, select(User.private_key_recovery_wrap).where(User.id == account.id))
    seed = crypto.open_secret(
        crypto.recovery_kek(secret, user_id), wrap, b"user-private-key/recovery/" + user_id
    )
    public_key = query(server, select(User.public_key).where(User.id == account.id))
    assert crypto.KeyPair.from_seed(seed).public_key == public_key
    # The link worked once.
    with httpx.Client(timeout=60) as client:
        again = client.get(first_admin.link)
        assert again.status_code == 404
        assert DEAD_LINK in again.text
        reuse = client.post(
            first_admin.link,
            data={
                "username": "second-chief",
                "password": "another passphrase here",
                "password_again": "another passphrase here",
                "totp": "123456",
            },
        )
        assert reuse.status_code == 404
    assert query(server, select(func.count()).select_from(User).where(User.role == "admin")) == 1


def test_setup_link_dies_once_an_admin_is_made_with_the_cli(tmp_path: Path) -> None:
    other = start_server(tmp_path)
    try:
        link = other.setup_link
        assert link
        with httpx.Client(timeout=60) as client:
            assert client.get(link).status_code == 200
            other.add_user("admin")
            dead = client.get(link)
            assert dead.status_code == 404
            assert DEAD_LINK in dead.text
            secret = SECRET.search(client.get(link).text)
            assert secret is None
            late = client.post(
                link,
                data={
                    "username": "late-chief",
                    "password": "a long enough passphrase",
                    "password_again": "a long enough passphrase",
                    "totp": "123456",
                },
            )
            assert late.status_code == 404
        admins = select(func.count()).select_from(User).where(User.role == "admin")
        assert query(other, admins) == 1
    finally:
        stop_server(other)


def test_admin_lands_on_administration(admin_web: httpx.Client, first_admin: FirstAdmin) -> None:
    inbox = admin_web.get("/")
    assert inbox.status_code == 303
    assert inbox.headers["location"] == "/admin"
    page = admin_web.get("/admin")
    assert page.status_code == 200
    assert "Administration" in page.text
    assert first_admin.account.username in page.text


# Login.


def test_login_needs_the_right_password_and_code(server: LiveServer) -> None:
    user = server.add_user()
    totp = pyotp.TOTP(user.totp_secret)
    attempts = [
        {"username": user.username, "password": "wrong " + user.password, "totp": totp.now()},
        {
            "username": user.username,
            "password": user.password,
            "totp": wrong_code(user.totp_secret),
        },
        {"username": user.username, "password": user.password, "totp": ""},
        {"username": "nobody-" + user.username, "password": user.password, "totp": totp.now()},
        {},
    ]
    with httpx.Client(base_url=server.staff_url, timeout=60) as client:
        for attempt in attempts:
            response = client.post("/login", data=attempt)
            assert response.status_code == 401, attempt
            assert WRONG_LOGIN in response.text
            assert not client.cookies
        response = client.post(
            "/login",
            data={
                "username": user.username,
                "password": user.password,
                "totp": server.totp.code(user.totp_secret),
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        cookie = client.cookies["mailslot_staff"]
        assert "Inbox" in client.get("/").text
        # Logging out ends the session on the server: the old cookie is dead.
        assert client.post("/logout").headers["location"] == "/login?bye=1"
    with httpx.Client(base_url=server.staff_url, cookies={"mailslot_staff": cookie}) as replay:
        response = replay.get("/")
        assert response.status_code == 303
        assert response.headers["location"] == "/login"


def test_a_totp_code_cannot_be_replayed(server: LiveServer) -> None:
    user = server.add_user()
    form = {
        "username": user.username,
        "password": user.password,
        "totp": server.totp.code(user.totp_secret),
    }
    with httpx.Client(base_url=server.staff_url, timeout=60) as client:
        assert client.post("/login", data=form).status_code == 303
    with httpx.Client(base_url=server.staff_url, timeout=60) as client:
        replay = client.post("/login", data=form)
        assert replay.status_code == 401
        assert WRONG_LOGIN in replay.text


# Inbox and cases.


ROW = re.compile(r'<tr class="(unread)?">\s*<td><a href="/cases/([0-9a-f]{32})"')


def test_inbox_marks_unread_cases_and_pages(
    server: LiveServer, reader_web: httpx.Client, reader_api: httpx.Client
) -> None:
    total = reader_api.get("/cases").json()["total"]
    for number in range(total, 27):
        send_case(server, f"Case number {number}")
    everything = reader_api.get("/cases", params={"limit": 200}).json()["cases"]
    total = len(everything)
    assert total > 25
    first = reader_web.get("/")
    assert first.status_code == 200
    rows = ROW.findall(first.text)
    assert [case for _, case in rows] == [c["id"] for c in everything[:25]]
    unread = [c["id"] for c in everything[:25] if c["unread"]]
    assert [case for mark, case in rows if mark] == unread
    assert everything[0]["id"] in unread  # what just arrived is new
    assert 'href="/?page=2" rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    second = reader_web.get("/", params={"page": 2})
    assert [case for _, case in ROW.findall(second.text)] == [c["id"] for c in everything[25:]]
    assert 'href="/?page=1" rel="prev"' in second.text
    assert 'rel="next"' not in second.text
    # Opening a case clears its mark, and only its mark.
    opened = unread[-1]
    assert reader_web.get(f"/cases/{opened}").status_code == 200
    again = ROW.findall(reader_web.get("/").text)
    assert [case for mark, case in again if mark] == [c for c in unread if c != opened]
    assert len(ROW.findall(reader_web.get("/", params={"page": "x"}).text)) == 25


def test_case_delete_needs_confirmation_and_csrf(
    server: LiveServer, recipient: Account, reader_web: httpx.Client, reader_api: httpx.Client
) -> None:
    send_case(
        server, "Delete me.", files=[("doc.bin", b"\x00\x01" * 3000, "application/octet-stream")]
    )
    case_id = newest_case_id(reader_api)
    blob_ids = list(reader_api_blob_ids(server, case_id))
    assert len(blob_ids) == 2
    paths = [server.data_dir / "blobs" / b[:2] / b for b in blob_ids]
    assert all(p.is_file() for p in paths)
    form = reader_web.get(f"/cases/{case_id}/delete")
    assert form.status_code == 200
    token = csrf(form.text)
    url = f"/cases/{case_id}/delete"
    unconfirmed = reader_web.post(url, data={"csrf": token})
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm." in unconfirmed.text
    for data in ({"confirm": "yes"}, {"csrf": "forged", "confirm": "yes"}):
        forged = reader_web.post(url, data=data)
        assert forged.status_code == 403
        assert CSRF_REFUSED in forged.text
    assert reader_api.get(f"/cases/{case_id}").status_code == 200
    assert all(p.is_file() for p in paths)
    deleted = reader_web.post(url, data={"csrf": token, "confirm": "yes"})
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/?deleted=1"
    assert reader_web.get(f"/cases/{case_id}").status_code == 404
    assert reader_api.get(f"/cases/{case_id}").status_code == 404
    with server.api_client(recipient) as other:  # gone for every recipient
        assert other.get(f"/cases/{case_id}").status_code == 404
    assert not any(p.exists() for p in paths)
    assert query(server, select(func.count()).select_from(Item).where(Item.case_id == case_id)) == 0


def reader_api_blob_ids(server: LiveServer, case_id: str) -> list[str]:
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            return list(db.scalars(select(Item.blob_id).where(Item.case_id == case_id)))
    finally:
        runtime.close()


def test_reply_needs_csrf(
    server: LiveServer, reader_web: httpx.Client, reader_api: httpx.Client
) -> None:
    send_case(server, "Reply to me.")
    case_id = newest_case_id(reader_api)
    page = reader_web.get(f"/cases/{case_id}")
    url = f"/cases/{case_id}/replies"
    for data in ({"text": "forged"}, {"csrf": "nope", "text": "forged"}):
        assert reader_web.post(url, data=data).status_code == 403
    cross = reader_web.post(
        url,
        data={"csrf": csrf(page.text), "text": "forged"},
        headers={"Origin": "http://evil.example"},
    )
    assert cross.status_code == 403
    assert [i["kind"] for i in reader_api.get(f"/cases/{case_id}").json()["items"]] == ["message"]
    sent = reader_web.post(url, data={"csrf": csrf(page.text), "text": "Real reply."})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/cases/{case_id}?sent=1"
    texts = [i["text"] for i in reader_api.get(f"/cases/{case_id}").json()["items"]]
    assert texts == ["Reply to me.", "Real reply."]


def test_admins_cannot_read_cases(server: LiveServer, reader_api: httpx.Client) -> None:
    send_case(server, "Not for admins.")
    case_id = newest_case_id(reader_api)
    admin = server.add_user("admin")
    with server.api_client(admin) as api, closing(server.staff_client(admin)) as web:
        assert api.get("/cases").json()["cases"] == []
        assert api.get("/cases").json()["total"] == 0
        assert api.get(f"/cases/{case_id}").status_code == 404
        assert web.get(f"/cases/{case_id}").status_code == 404
        assert web.get("/").headers["location"] == "/admin"
    wraps = select(func.count()).select_from(CaseKeyWrap).where(CaseKeyWrap.user_id == admin.id)
    assert query(server, wraps) == 0


def test_recipients_cannot_administer(
    server: LiveServer, reader_web: httpx.Client, reader_api: httpx.Client
) -> None:
    before = instance_name(server)
    enrollments = query(server, select(func.count()).select_from(Enrollment))
    for path in ("/admin", "/admin/settings", "/admin/invite", "/admin/channels/new"):
        page = reader_web.get(path)
        # Signed in, but not an admin: told so plainly (anonymous visitors go to /login).
        assert page.status_code == 403, path
        assert "Only administrators can do this." in page.text
    assert httpx.get(f"{server.staff_url}/admin").headers["location"] == "/login"
    send_case(server, "Just for a form token.")
    token = csrf(reader_web.get(f"/cases/{newest_case_id(reader_api)}").text)
    victim = server.add_user()
    posts = [
        ("/admin/settings", {"name": "Taken over"}),
        ("/admin/invite", {"role": "admin", "username": "intruder"}),
        ("/admin/channels/new", {"name": "rogue"}),
        (f"/admin/users/{victim.id}/disable", {"disabled": "1"}),
    ]
    for path, data in posts:
        response = reader_web.post(path, data={"csrf": token, **data})
        # A valid form from a signed-in recipient: refused as not allowed, not as forged.
        assert response.status_code == 403, path
        assert "Only administrators can do this." in response.text
        assert CSRF_REFUSED not in response.text
    assert instance_name(server) == before
    assert query(server, select(func.count()).select_from(Enrollment)) == enrollments
    assert query(server, select(func.count()).where(Channel.name == "rogue")) == 0
    assert query(server, select(User.disabled).where(User.id == victim.id)) is False


# Administration.


def test_admin_invites_a_recipient(server: LiveServer, admin_web: httpx.Client) -> None:
    page = admin_web.get("/admin/invite")
    assert page.status_code == 200
    default = re.search(r'name="channels" value="([0-9a-f]{32})"> <span>default</span>', page.text)
    assert default, page.text
    invited = admin_web.post(
        "/admin/invite",
        data={
            "csrf": csrf(page.text),
            "role": "recipient",
            "username": "",
            "channels": [default[1]],
        },
    )
    assert invited.status_code == 200
    link = re.search(r'<code class="secret">(http://[^<]+/setup/[^<]+)</code>', invited.text)
    assert link, invited.text
    username = server.unique("invitee")
    with httpx.Client(timeout=60) as newcomer:
        assert "Create your account" in newcomer.get(link[1]).text
        account, _ = enroll(newcomer, link[1], username, server)
        assert newcomer.get(link[1]).status_code == 404
    assert username in admin_web.get("/admin").text
    send_case(server, "For the newcomer too.")
    with closing(server.staff_client(account)) as web:
        inbox = web.get("/")
        assert inbox.status_code == 200
        case_ids = CASE_LINK.findall(inbox.text)
        assert len(case_ids) == 1  # only what arrived after joining
        assert "For the newcomer too." in web.get(f"/cases/{case_ids[0]}").text


def test_admin_creates_a_channel(
    server: LiveServer, admin_web: httpx.Client, reader: Account
) -> None:
    form = admin_web.get("/admin/channels/new")
    assert form.status_code == 200
    assert f'value="{reader.username}"' in form.text
    saved = admin_web.post(
        "/admin/channels/new",
        data={
            "csrf": csrf(form.text),
            "name": "Sport desk",
            "description": "Doping and match fixing",
            "members": [reader.username],
        },
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin?saved=1"
    overview = admin_web.get("/admin").text
    channel = re.search(r'href="/admin/channels/([0-9a-f]{32})">Sport desk</a>', overview)
    assert channel, overview
    assert "Doping and match fixing" in overview
    try:
        with httpx.Client(base_url=server.source_url, timeout=60) as client:
            new_source(client)
            offer = client.get("/submit").text
            assert f'name="channel" value="{channel[1]}"' in offer
            assert "Doping and match fixing" in offer
    finally:
        # Leave the instance with one open channel, as the other tests expect.
        edit = admin_web.get(f"/admin/channels/{channel[1]}")
        emptied = admin_web.post(
            f"/admin/channels/{channel[1]}",
            data={"csrf": csrf(edit.text), "name": "Sport desk", "description": "Closed"},
        )
        assert emptied.status_code == 303
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        new_source(client)
        assert 'name="channel"' not in client.get("/submit").text


def test_admin_renames_the_instance(server: LiveServer, admin_web: httpx.Client) -> None:
    form = admin_web.get("/admin/settings")
    token = csrf(form.text)
    empty = admin_web.post("/admin/settings", data={"csrf": token, "name": "   "})
    assert empty.status_code == 400
    assert "The instance name cannot be empty." in empty.text
    saved = admin_web.post(
        "/admin/settings",
        data={"csrf": token, "name": "Daily Planet Tips", "guidance": "Use Tor Browser."},
    )
    assert saved.status_code == 303
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        home = client.get("/").text
    assert "Contact Daily Planet Tips securely and anonymously" in home
    assert '<a class="brand" href="/">Daily Planet Tips</a>' in home
    assert "Use Tor Browser." in home
    assert query(server, select(Instance.show_source_submissions)) is False


@pytest.mark.parametrize(
    ("token", "headers"),
    [
        (None, {}),
        ("forged-token", {}),
        ("valid", {"Origin": "http://evil.example"}),
        ("valid", {"Origin": "null"}),
        ("valid", {"Sec-Fetch-Site": "cross-site"}),
        ("valid", {"Sec-Fetch-Site": "same-site"}),
    ],
    ids=["missing", "wrong", "foreign-origin", "null-origin", "cross-site", "same-site"],
)
def test_forged_admin_posts_change_nothing(
    server: LiveServer, admin_web: httpx.Client, token: str | None, headers: dict[str, str]
) -> None:
    before = instance_name(server)
    data = {"name": "Hijacked", "guidance": ""}
    if token == "valid":
        data["csrf"] = csrf(admin_web.get("/admin/settings").text)
    elif token:
        data["csrf"] = token
    response = admin_web.post("/admin/settings", data=data, headers=headers)
    assert response.status_code == 403
    assert CSRF_REFUSED in response.text
    assert instance_name(server) == before


def test_same_origin_posts_are_accepted(server: LiveServer, admin_web: httpx.Client) -> None:
    token = csrf(admin_web.get("/admin/settings").text)
    response = admin_web.post(
        "/admin/settings",
        data={"csrf": token, "name": "Same Origin Tips", "guidance": ""},
        headers={"Origin": server.staff_url, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303
    assert instance_name(server) == "Same Origin Tips"
