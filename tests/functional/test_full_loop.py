"""The whole loop over real HTTP: source submits, recipient reads and replies, source reads."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, login, new_source, submit


def test_source_to_recipient_and_back(
    request: pytest.FixtureRequest, server: LiveServer, recipient: Account, source: httpx.Client
) -> None:
    codename = new_source(source)
    assert len(codename.split()) >= 7
    response = submit(
        source,
        "The minister signed the order on Tuesday.",
        files=[
            ("order.pdf", b"%PDF-1.4 secret order", "application/pdf"),
            ("notes.txt", b"second file", "text/plain"),
        ],
    )
    assert response.status_code == 303, response.text
    confirmation = source.get(response.headers["location"])
    assert confirmation.status_code == 200
    assert codename not in confirmation.text
    assert codename not in str(confirmation.url)
    assert all(codename not in value for value in source.cookies.values())

    staff = server.staff_client(recipient)
    request.addfinalizer(staff.close)
    inbox = staff.get("/")
    assert inbox.status_code == 200
    case_ids = [part.split('"')[0] for part in inbox.text.split('href="/cases/')[1:]]
    assert case_ids, inbox.text
    case_page = staff.get(f"/cases/{case_ids[0]}")
    assert "The minister signed the order on Tuesday." in case_page.text
    assert "order.pdf" in case_page.text
    assert "notes.txt" in case_page.text

    token = server.api_token(recipient)
    api = httpx.Client(base_url=server.staff_url, headers={"Authorization": f"Bearer {token}"})
    request.addfinalizer(api.close)
    detail = api.get(f"/api/v1/cases/{case_ids[0]}").json()
    files = {item["filename"]: item for item in detail["items"] if item["kind"] == "file"}
    content = api.get(f"/api/v1/cases/{case_ids[0]}/items/{files['order.pdf']['id']}/content")
    assert content.content == b"%PDF-1.4 secret order"
    assert content.headers["content-type"] == "application/pdf"
    assert "attachment" in content.headers["content-disposition"]
    download = staff.get(f"/cases/{case_ids[0]}/items/{files['notes.txt']['id']}/download")
    assert download.content == b"second file"

    reply = staff.post(
        f"/cases/{case_ids[0]}/replies",
        data={"csrf": csrf(case_page.text), "text": "Thank you. Can you tell us more?"},
    )
    assert reply.status_code == 303
    api_reply = api.post(
        f"/api/v1/cases/{case_ids[0]}/replies", json={"text": "A second reply via the API."}
    )
    assert api_reply.status_code == 201

    returning = httpx.Client(base_url=server.source_url)
    request.addfinalizer(returning.close)
    assert login(returning, codename).status_code == 303
    conversation = returning.get("/conversation")
    assert "Thank you. Can you tell us more?" in conversation.text
    assert "A second reply via the API." in conversation.text
    # SecureDrop's rule: the codename does not reveal what the source sent.
    assert "The minister signed" not in conversation.text
    assert "order.pdf" not in conversation.text
