"""A recipient's own account: password change, recovery after a lost password, and the
"download all" zip of a case."""

from __future__ import annotations

import io
import re
import zipfile
from contextlib import closing

import httpx
import pyotp
from sqlalchemy import select

from mailslot.recipients.models import User
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, new_source, submit
from tests.functional.test_staff import query, send_case

NEW_PASSWORD = "a new and long passphrase 42"


def _unspent(account: Account) -> str:
    """A valid code for a request that fails before the code is checked (and so not spent)."""
    return str(pyotp.TOTP(account.totp_secret).now())


def _login(server: LiveServer, account: Account, password: str) -> httpx.Response:
    return httpx.post(
        f"{server.staff_url}/login",
        data={"username": account.username, "password": password, "totp": _unspent(account)},
    )


def _can_read(client: httpx.Client, message: str) -> None:
    with closing(client):
        inbox = client.get("/")
        assert inbox.status_code == 200
        case_ids = [line.split('"')[0] for line in inbox.text.split('href="/cases/')[1:]]
        assert any(message in client.get(f"/cases/{case_id}").text for case_id in case_ids)


def test_password_change_rewraps_the_key_and_ends_other_sessions(server: LiveServer) -> None:
    account = server.add_user()
    message = "before the password change " + server.unique("m")
    send_case(server, message)
    other = server.staff_client(account)
    client = server.staff_client(account)
    page = client.get("/account")
    assert page.status_code == 200
    token = csrf(page.text)

    wrong = client.post(
        "/account/password",
        data={
            "csrf": token,
            "current": "not it at all",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )
    assert wrong.status_code == 401
    assert "The current password is wrong." in wrong.text

    mismatch = client.post(
        "/account/password",
        data={
            "csrf": token,
            "current": account.password,
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD + "x",
        },
    )
    assert mismatch.status_code == 400
    assert "The two passwords do not match." in mismatch.text

    forged = client.post(
        "/account/password",
        data={
            "current": account.password,
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )
    assert forged.status_code == 403

    done = client.post(
        "/account/password",
        data={
            "csrf": token,
            "current": account.password,
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )
    assert done.status_code == 303, done.text
    assert "Your password was changed" in client.get(done.headers["location"]).text
    # The other session has ended; this one goes on and still decrypts.
    with closing(other):
        assert other.get("/").status_code == 303
    _can_read(client, message)

    assert _login(server, account, account.password).status_code == 401
    account.password = NEW_PASSWORD
    _can_read(server.staff_client(account), message)


def test_recovery_key_sets_a_new_password_and_is_replaced(server: LiveServer) -> None:
    account = server.add_user()
    message = "read again after recovery " + server.unique("m")
    send_case(server, message)
    before = query(server, select(User.password_verifier).where(User.id == account.id))

    def recover(recovery_key: str, code: str, password: str = NEW_PASSWORD) -> httpx.Response:
        return httpx.post(
            f"{server.staff_url}/recover",
            data={
                "username": account.username,
                "recovery_key": recovery_key,
                "totp": code,
                "password": password,
                "password_again": password,
            },
        )

    assert "Lost your password?" in httpx.get(f"{server.staff_url}/login").text
    bad_key = "AAAA-" + account.recovery_key[5:]
    refused = recover(bad_key, _unspent(account))
    assert refused.status_code == 401
    assert "The username, recovery key or code is wrong." in refused.text
    refused = recover(account.recovery_key, "000000")
    assert refused.status_code == 401
    # Nothing changed after refusals.
    assert query(server, select(User.password_verifier).where(User.id == account.id)) == before

    done = recover(account.recovery_key, server.totp.code(account.totp_secret))
    assert done.status_code == 200, done.text
    assert "Your new recovery key, shown only once" in done.text
    new_key = done.text.split('<p class="codename" lang="en">')[1].split("<")[0].strip()
    assert new_key
    assert new_key != account.recovery_key

    # The old recovery key and the old password are spent; the new ones work.
    again = recover(account.recovery_key, _unspent(account), "yet another long one 7")
    assert again.status_code == 401
    assert _login(server, account, account.password).status_code == 401
    account.password = NEW_PASSWORD
    _can_read(server.staff_client(account), message)


def test_download_all_streams_a_zip_of_the_case(server: LiveServer, recipient: Account) -> None:
    message = "zip me " + server.unique("m")
    document = bytes(range(256)) * 1000 + b"tail"
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        sent = submit(
            source,
            message,
            files=[
                ("report.pdf", document, "application/pdf"),
                ("report.pdf", b"two", "text/plain"),
            ],
        )
        assert sent.status_code == 303
    with server.api_client(recipient) as api:
        case = find_case(api, message)
    with closing(server.staff_client(recipient)) as client:
        assert "Download all (zip)" in client.get(f"/cases/{case['id']}").text
        response = client.get(f"/cases/{case['id']}/download-all")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert f"{case['pseudonym']}.zip" in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"
    # Streamed: no length known in advance.
    assert "content-length" not in response.headers
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == ["001-message.txt", "002-report.pdf", "003-report.pdf"]
        assert archive.read("001-message.txt").decode() == message
        assert archive.read("002-report.pdf") == document
        assert archive.read("003-report.pdf") == b"two"


def test_download_all_needs_access(server: LiveServer, recipient: Account) -> None:
    message = "not for outsiders " + server.unique("m")
    send_case(server, message)
    with server.api_client(recipient) as api:
        case = find_case(api, message)
    outsider = server.add_user(channels=())
    with closing(server.staff_client(outsider)) as client:
        response = client.get(f"/cases/{case['id']}/download-all")
    assert response.status_code == 404
    anonymous = httpx.get(f"{server.staff_url}/cases/{case['id']}/download-all")
    assert anonymous.status_code == 303


def test_staff_see_and_end_their_own_sessions(server: LiveServer) -> None:
    account = server.add_user()
    stranger = server.add_user()
    with (
        closing(server.staff_client(account)) as first,
        closing(server.staff_client(account)) as second,
        server.api_client(account) as api,
        closing(server.staff_client(stranger)) as theirs,
    ):
        page = first.get("/account").text
        ids = re.findall(r'name="session" value="([0-9a-f]{64})"', page)
        assert len(ids) == 3  # two browsers and one API token
        assert 'name="session" value="others"' in page
        assert "API token" in page
        assert "(this session)" in page
        current = re.search(r'\(this session\).*?name="session" value="([0-9a-f]{64})"', page, re.S)
        assert current
        token = csrf(page)

        # Another user's session id is not ours to end.
        their_page = theirs.get("/account").text
        (their_id,) = re.findall(r'name="session" value="([0-9a-f]{64})"', their_page)
        first.post("/account/sessions/end", data={"csrf": token, "session": their_id})
        assert theirs.get("/account").status_code == 200

        # Without the form token nothing ends.
        assert first.post("/account/sessions/end", data={"session": "others"}).status_code == 403
        assert second.get("/account").status_code == 200

        other_browser = next(i for i in ids if i != current[1] and f'value="{i}"' in page)
        ended = first.post("/account/sessions/end", data={"csrf": token, "session": "others"})
        assert ended.status_code == 303
        assert second.get("/account").status_code == 303
        assert api.get("/cases").status_code == 401
        assert other_browser not in first.get("/account").text

        # Ending the current session is a logout.
        out = first.post("/account/sessions/end", data={"csrf": token, "session": current[1]})
        assert out.status_code == 303
        assert out.headers["location"].startswith("/login")
        assert first.get("/account").status_code == 303
