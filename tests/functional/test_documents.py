"""Documents on a real server: what a file reveals and sanitised copies, on the case page and
in the API, audited with the SHA-256 of original and copy; the sandbox's folder is gone
afterwards; and the submit page tells sources what files carry, in their language."""

from __future__ import annotations

import hashlib  # noqa: TID251 - an independent SHA-256, to check what the audit trail says
import json
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mailslot.audit.models import AuditEvent
from mailslot.documents.inspect import inspect_bytes
from tests.conftest import Account, LiveServer
from tests.functional.helpers import find_case, new_source, submit
from tests.unit.test_documents_sandbox import photo

pytestmark = pytest.mark.timeout(300)

IDENTIFYING = {"gps", "device", "serial"}


@dataclass
class World:
    server: LiveServer
    member: Account
    web: httpx.Client
    api: httpx.Client
    case_id: str
    file_id: str
    message_id: str
    original: bytes

    def item(self, item_id: str, rest: str) -> str:
        return f"/cases/{self.case_id}/items/{item_id}/{rest}"


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    member = server.add_user("recipient")
    message = server.unique("Documents test ")
    original = photo()
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        sent = submit(source, message, files=[("IMG_2041.jpg", original, "image/jpeg")])
        assert sent.status_code == 303, sent.text
    with closing(server.staff_client(member)) as web, server.api_client(member) as api:
        case = find_case(api, message)
        kinds = {item["kind"]: item["id"] for item in case["items"]}
        yield World(server, member, web, api, case["id"], kinds["file"], kinds["message"], original)


def events(server: LiveServer, action: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            rows = db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
            return [(e.actor, e.case_id, json.loads(e.detail)) for e in rows]
    finally:
        runtime.close()


def sandbox_leftovers(server: LiveServer) -> list[str]:
    tmp = server.data_dir.parent / "tmp"
    return [p.name for p in tmp.iterdir() if p.name.startswith("mailslot-sandbox-")]


def test_the_case_page_links_each_document_to_its_report_and_copies(world: World) -> None:
    page = world.web.get(f"/cases/{world.case_id}")
    assert page.status_code == 200
    assert f'href="{world.item(world.file_id, "inspect")}"' in page.text
    assert f'href="{world.item(world.file_id, "sanitized")}"' in page.text
    assert f'href="{world.item(world.file_id, "sanitized")}?flatten=1"' in page.text
    assert world.item(world.message_id, "inspect") not in page.text  # documents only


def test_the_report_page_shows_what_the_file_reveals(world: World) -> None:
    before = len(events(world.server, "case.inspect"))
    page = world.web.get(world.item(world.file_id, "inspect"))
    assert page.status_code == 200
    assert "What this file reveals" in page.text
    assert "IMG_2041.jpg" in page.text
    assert "Location (GPS)" in page.text
    assert "SN-4242-XYZ" in page.text  # the camera's serial number, as the file says it
    assert "<script" not in page.text
    assert 'method="get"' in page.text  # the copy form works without JavaScript
    korean = world.web.get(world.item(world.file_id, "inspect"), params={"lang": "ko"})
    assert "위치 정보(GPS)" in korean.text
    assert 'name="lang" value="ko"' in korean.text
    recorded = events(world.server, "case.inspect")
    assert len(recorded) == before + 2
    assert recorded[-1] == (world.member.username, world.case_id, {"item_id": world.file_id})
    assert sandbox_leftovers(world.server) == []


def test_a_sanitised_copy_is_downloaded_and_audited(world: World) -> None:
    response = world.web.get(world.item(world.file_id, "sanitized"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    copy = response.content
    assert copy != world.original
    assert not IDENTIFYING & inspect_bytes(copy, "copy.jpg").kinds()
    assert inspect_bytes(world.original, "original.jpg").kinds() >= IDENTIFYING  # control
    actor, case_id, detail = events(world.server, "case.sanitize")[-1]
    assert (actor, case_id) == (world.member.username, world.case_id)
    digests = {detail.pop("original_digest"), detail.pop("copy_digest")}
    assert detail == {"item_id": world.file_id, "flatten": False, "greyscale": False}
    # Keyed digests: 256 bits each, and neither is the plain SHA-256 that someone holding
    # the database and a document could compare.
    assert all(re.fullmatch("[0-9a-f]{64}", digest) for digest in digests)
    assert len(digests) == 2
    assert not digests & {
        hashlib.sha256(world.original).hexdigest(),
        hashlib.sha256(copy).hexdigest(),
    }
    # The original in the case is unchanged.
    download = world.web.get(world.item(world.file_id, "download"))
    assert download.content == world.original
    assert sandbox_leftovers(world.server) == []


def test_a_flattened_copy_is_a_png(world: World) -> None:
    response = world.web.get(
        world.item(world.file_id, "sanitized"), params={"flatten": "1", "greyscale": "1"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert re.search(r'filename="[^"]+\.png"', response.headers["content-disposition"])
    assert inspect_bytes(response.content, "copy.png").type == "png"
    detail = events(world.server, "case.sanitize")[-1][2]
    assert (detail["flatten"], detail["greyscale"]) == (True, True)


def test_the_api_gives_the_same_report_as_the_cli(world: World) -> None:
    response = world.api.get(world.item(world.file_id, "metadata"))
    assert response.status_code == 200
    assert response.json() == [inspect_bytes(world.original, "IMG_2041.jpg").to_json()]
    assert {f["kind"] for f in response.json()[0]["findings"]} >= IDENTIFYING


def test_the_api_gives_a_sanitised_copy(world: World) -> None:
    response = world.api.get(world.item(world.file_id, "sanitized"), params={"flatten": "true"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert not IDENTIFYING & inspect_bytes(response.content, "copy.png").kinds()
    assert events(world.server, "case.sanitize")[-1][2]["flatten"] is True


def test_only_documents_are_inspected(world: World) -> None:
    for rest in ("metadata", "sanitized"):
        response = world.api.get(world.item(world.message_id, rest))
        assert response.status_code == 400
        assert response.json() == {"detail": "Only documents can be inspected or sanitised."}
    page = world.web.get(world.item(world.message_id, "inspect"))
    assert page.status_code == 400


def test_a_file_that_cannot_be_sanitised_says_why(server: LiveServer, world: World) -> None:
    message = server.unique("Plain text document ")
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        files = [("notes.txt", b"plain words", "text/plain")]
        assert submit(source, message, files=files).status_code == 303
    case = find_case(world.api, message)
    file_id = next(i["id"] for i in case["items"] if i["kind"] == "file")
    before = len(events(server, "case.sanitize"))
    url = f"/cases/{case['id']}/items/{file_id}/sanitized"
    response = world.api.get(url)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("No sanitised copy was made: ")
    page = world.web.get(url, params={"lang": "ko"})
    assert page.status_code == 400
    assert "정리된 사본" in page.text
    assert len(events(server, "case.sanitize")) == before  # nothing left the server
    (report,) = world.api.get(f"/cases/{case['id']}/items/{file_id}/metadata").json()
    assert report.pop("note")  # says why, in words
    assert report == {"file": "notes.txt", "type": "unknown", "findings": [], "inspected": False}


def test_the_submit_page_tells_sources_what_files_carry(server: LiveServer) -> None:
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        english = source.get("/submit").text
        korean = source.get("/submit", params={"lang": "ko"}).text
    assert "Files can say who made them" in english
    assert "describe a document in words" in english
    assert "<details" in english  # opens without JavaScript
    assert "Files can say who made them" not in korean
    assert "파일" in korean
