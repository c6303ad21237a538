"""The staff JSON API over real HTTP: contract, authentication, pagination, content, replies."""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any
from urllib.parse import unquote

import httpx
import pyotp
import pytest

from tests.conftest import Account, LiveServer
from tests.functional.helpers import login, new_source, submit

WRONG_LOGIN = "The username, password or code is wrong."
AUTH_REQUIRED = "Authentication required."
CONTRACT = {
    "/auth/token": {"post", "delete"},
    "/cases": {"get"},
    "/cases/{case_id}": {"get", "delete"},
    "/cases/{case_id}/items/{item_id}/content": {"get"},
    "/cases/{case_id}/replies": {"post"},
}


def bearer(server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.staff_url}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


@pytest.fixture(scope="module")
def api(server: LiveServer, recipient: Account) -> Iterator[httpx.Client]:
    with server.api_client(recipient) as client:
        yield client


@pytest.fixture
def anonymous(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.staff_url}/api/v1", timeout=60) as client:
        yield client


def send(
    server: LiveServer, message: str, files: list[tuple[str, bytes, str]] | None = None
) -> str:
    """Submit as a new source; return the codename."""
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        codename = new_source(client)
        response = submit(client, message, files=files)
        assert response.status_code == 303, response.text
    return codename


def newest(api: httpx.Client) -> dict[str, Any]:
    return dict(api.get("/cases", params={"limit": 1}).json()["cases"][0])


def test_openapi_lists_the_contract(anonymous: httpx.Client) -> None:
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    spec = response.json()
    assert spec["info"]["title"] == "Mailslot staff API"
    for path, methods in CONTRACT.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), path
    schemes = spec["components"]["securitySchemes"]
    assert any(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    assert anonymous.get("/docs").status_code == 404  # no interactive docs with scripts


@pytest.mark.parametrize("wrong", ["password", "totp", "username"])
def test_token_with_wrong_credentials_is_refused(
    server: LiveServer, recipient: Account, anonymous: httpx.Client, wrong: str
) -> None:
    totp = pyotp.TOTP(recipient.totp_secret)
    near = {totp.at(time.time() + offset) for offset in (-60, -30, 0, 30, 60)}
    body = {
        "username": recipient.username,
        "password": recipient.password,
        "totp": next(c for c in ("000000", "135790", "999999") if c not in near),
    }
    if wrong == "password":
        body.update(password="not " + recipient.password, totp=totp.now())
    elif wrong == "username":
        body.update(username="ghost-" + recipient.username, totp=totp.now())
    response = anonymous.post("/auth/token", json=body)
    assert response.status_code == 401
    assert response.json() == {"detail": WRONG_LOGIN}


@pytest.mark.parametrize(
    "body",
    [
        {"username": "x", "password": "y"},
        {"username": "x" * 65, "password": "y", "totp": "123456"},
        {"username": "x", "password": "y", "totp": "1" * 17},
        ["not", "an", "object"],
    ],
)
def test_malformed_token_requests_are_invalid(anonymous: httpx.Client, body: Any) -> None:
    assert anonymous.post("/auth/token", json=body).status_code == 422


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer garbage",
        "Bearer " + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        "Bearer " + "A" * 200,
        "Basic dXNlcjpwYXNz",
    ],
    ids=["none", "empty", "garbage", "unknown", "long", "basic"],
)
def test_requests_without_a_valid_bearer_are_refused(
    anonymous: httpx.Client, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for path in ("/cases", "/cases/" + "0" * 32):
        response = anonymous.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"detail": AUTH_REQUIRED}


def test_a_staff_session_is_not_an_api_token(
    server: LiveServer, recipient: Account, anonymous: httpx.Client
) -> None:
    with closing(server.staff_client(recipient)) as web:
        cookie = web.cookies["mailslot_staff"]
        assert web.get("/").status_code == 200
    response = anonymous.get("/cases", headers={"Authorization": f"Bearer {cookie}"})
    assert response.status_code == 401


def test_pagination_with_limit_and_offset(server: LiveServer, api: httpx.Client) -> None:
    for number in range(3):
        send(server, f"Paging {number}")
    everything = api.get("/cases", params={"limit": 200}).json()
    total = everything["total"]
    assert total >= 3
    assert len(everything["cases"]) == total
    ids = [c["id"] for c in everything["cases"]]
    pages = [api.get("/cases", params={"limit": 1, "offset": n}).json() for n in range(3)]
    assert [p["cases"][0]["id"] for p in pages] == ids[:3]
    assert {(p["total"], p["limit"]) for p in pages} == {(total, 1)}
    assert [p["offset"] for p in pages] == [0, 1, 2]
    beyond = api.get("/cases", params={"limit": 5, "offset": total}).json()
    assert beyond["cases"] == []
    assert beyond["total"] == total
    assert api.get("/cases").json()["limit"] == 50


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 201}, {"limit": -1}, {"offset": -1}, {"limit": "ten"}],
)
def test_bad_pagination_is_refused(api: httpx.Client, params: dict[str, Any]) -> None:
    response = api.get("/cases", params=params)
    assert response.status_code == 422
    assert "detail" in response.json()


def test_case_detail_and_unread_flag(server: LiveServer, api: httpx.Client) -> None:
    send(server, "Fresh case.")
    case = newest(api)
    assert set(case) == {
        "id",
        "pseudonym",
        "channel",
        "created_at",
        "last_activity_at",
        "item_count",
        "unread",
        "can_reply",
        "expires_at",
        # Case work (cases.inbox): status, labels, assignees and deadlines.
        "status",
        "custom_status_id",
        "custom_status",
        "important",
        "labels",
        "assignees",
        "acknowledge_by",
        "acknowledged_at",
        "feedback_by",
        "feedback_at",
        "due_at",
        "overdue",
        "closed_at",
    }
    assert case["expires_at"] == case["last_activity_at"] + 90 * 86400  # the default retention
    assert case["unread"] is True
    assert case["can_reply"] is True
    assert case["channel"] == "default"
    assert case["item_count"] == 1
    assert len(case["pseudonym"].split(" ")) == 2
    assert case["created_at"] % 3600 == 0  # coarse time only
    detail = api.get(f"/cases/{case['id']}").json()
    assert [i["text"] for i in detail["items"]] == ["Fresh case."]
    assert newest(api)["unread"] is False
    for bad in ("nope", "0" * 32, "../../etc/passwd"):
        response = api.get(f"/cases/{bad}")
        assert response.status_code == 404


def test_item_content_streams_with_type_and_filename(server: LiveServer, api: httpx.Client) -> None:
    name = "Überweisung 2024 – 报告; v2 (final).pdf"
    content = b"%PDF-1.7\n" + os.urandom(200_000)
    send(server, "See the attachment.", files=[(name, content, "application/pdf")])
    case_id = newest(api)["id"]
    items = api.get(f"/cases/{case_id}").json()["items"]
    message, document = items
    assert document["kind"] == "file"
    assert document["filename"] == name
    assert document["content_type"] == "application/pdf"
    assert document["size"] == len(content)
    assert document["text"] is None
    response = api.get(f"/cases/{case_id}/items/{document['id']}/content")
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    fallback = re.search(r'filename="([^"]*)"', disposition)
    assert fallback
    assert fallback[1].isascii()
    assert fallback[1].endswith(".pdf")
    extended = re.search(r"filename\*=UTF-8''(\S+)", disposition)
    assert extended
    assert unquote(extended[1]) == name
    text = api.get(f"/cases/{case_id}/items/{message['id']}/content")
    assert text.content == b"See the attachment."
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert 'filename="message-1.txt"' in text.headers["content-disposition"]
    assert api.get(f"/cases/{case_id}/items/{'0' * 32}/content").status_code == 404
    send(server, "Another case.")
    other = newest(api)["id"]
    assert api.get(f"/cases/{other}/items/{document['id']}/content").status_code == 404


def test_downloads_are_sandboxed(server: LiveServer, api: httpx.Client) -> None:
    page = b"<html><script>alert(document.cookie)</script></html>"
    send(server, "", files=[("page.html", page, "text/html")])
    case_id = newest(api)["id"]
    (item,) = api.get(f"/cases/{case_id}").json()["items"]
    response = api.get(f"/cases/{case_id}/items/{item['id']}/content")
    assert response.content == page
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "sandbox" in policy


def test_reply_via_api_reaches_the_source(
    server: LiveServer, recipient: Account, api: httpx.Client
) -> None:
    codename = send(server, "Will you answer?")
    case_id = newest(api)["id"]
    for bad in ({"text": ""}, {"text": "x" * 100_001}, {}, {"text": None}):
        assert api.post(f"/cases/{case_id}/replies", json=bad).status_code == 422
    blank = api.post(f"/cases/{case_id}/replies", json={"text": "   \n "})
    assert blank.status_code == 400
    assert blank.json() == {"detail": "Write a reply before sending."}
    created = api.post(f"/cases/{case_id}/replies", json={"text": "Yes — call us. 안녕하세요"})
    assert created.status_code == 201
    reply_id = created.json()["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", reply_id)
    items = {i["id"]: i for i in api.get(f"/cases/{case_id}").json()["items"]}
    assert items[reply_id]["kind"] == "reply"
    assert items[reply_id]["author"] == recipient.username
    assert items[reply_id]["seen_by_source"] is False
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        assert login(source, codename).status_code == 303
        assert "Yes — call us. 안녕하세요" in source.get("/conversation").text
    items = {i["id"]: i for i in api.get(f"/cases/{case_id}").json()["items"]}
    assert items[reply_id]["seen_by_source"] is True
    assert api.post("/cases/" + "0" * 32 + "/replies", json={"text": "hi"}).status_code == 404


def test_delete_case_via_api(server: LiveServer, api: httpx.Client) -> None:
    send(server, "Short-lived.")
    case_id = newest(api)["id"]
    assert api.delete(f"/cases/{case_id}").status_code == 204
    assert api.get(f"/cases/{case_id}").status_code == 404
    assert api.delete(f"/cases/{case_id}").status_code == 404
    assert case_id not in {
        c["id"] for c in api.get("/cases", params={"limit": 200}).json()["cases"]
    }


def test_deleting_the_token_revokes_it(server: LiveServer) -> None:
    user = server.add_user()
    issued = httpx.post(
        f"{server.staff_url}/api/v1/auth/token",
        json={
            "username": user.username,
            "password": user.password,
            "totp": server.totp.code(user.totp_secret),
        },
        timeout=60,
    )
    assert issued.status_code == 200
    body = issued.json()
    assert set(body) == {"token", "expires_at"}
    with bearer(server, body["token"]) as client:
        assert client.get("/cases").status_code == 200
        revoked = client.delete("/auth/token")
        assert revoked.status_code == 204
        assert revoked.content == b""
        assert client.get("/cases").status_code == 401
        assert client.delete("/auth/token").status_code == 401
