"""The source interface over real HTTP: codenames, sessions, channels and deleting things."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape

from mailslot import i18n
from mailslot.instance import services as instance_services
from mailslot.sources.codenames import generate_codename, wordlist
from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, files_under, login, new_source, submit

COOKIE = "mailslot_source"
WRONG_CODENAME = "That codename is not right. Check it and try again."


def newest_case(api: httpx.Client) -> dict[str, Any]:
    listing = api.get("/cases", params={"limit": 1})
    assert listing.status_code == 200, listing.text
    cases = listing.json()["cases"]
    assert cases, "the recipient sees no case"
    return dict(cases[0])


def texts(api: httpx.Client, case_id: str) -> list[str]:
    detail = api.get(f"/cases/{case_id}")
    assert detail.status_code == 200, detail.text
    return [item["text"] or item["filename"] for item in detail.json()["items"]]


def set_show_submissions(server: LiveServer, value: bool) -> None:
    runtime = server.runtime()
    try:
        ctx = runtime.default
        with ctx.db() as db:
            instance = instance_services.get_instance(db, ctx.instance_id)
            instance_services.update_settings(
                db,
                ctx.instance_id,
                name=instance.name,
                guidance=instance.guidance,
                show_source_submissions=value,
            )
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def api(server: LiveServer, recipient: Account) -> Iterator[httpx.Client]:
    with server.api_client(recipient) as client:
        yield client


@pytest.fixture
def other_source(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        yield client


# Codenames.


def test_codename_is_seven_words_from_the_eff_list(source: httpx.Client) -> None:
    intro = source.get("/new")
    assert intro.status_code == 200
    assert COOKIE not in source.cookies  # nothing is created by looking
    codename = new_source(source)
    words = codename.split(" ")
    assert len(words) == 7
    assert set(words) <= set(wordlist())


def test_codename_is_never_in_a_url_cookie_or_the_confirmation(
    server: LiveServer, recipient: Account, source: httpx.Client
) -> None:
    shown = source.post("/new")
    assert shown.status_code == 200
    codename = re.search(r'id="codename" lang="en">([^<]+)<', shown.text)[1]  # type: ignore[index]
    set_cookie = shown.headers["set-cookie"]
    assert "httponly" in set_cookie.lower()
    assert "samesite=strict" in set_cookie.lower()
    assert "max-age" not in set_cookie.lower()  # a browser-session cookie
    assert "expires" not in set_cookie.lower()
    assert shown.headers["cache-control"] == "no-store"
    response = submit(source, "Codename hygiene check.")
    assert response.status_code == 303
    confirmation = source.get(response.headers["location"])
    assert confirmation.status_code == 200
    for page in (response, confirmation, source.get("/submit"), source.get("/conversation")):
        assert codename not in page.text
        assert codename not in str(page.url)
        assert codename not in str(page.headers)
    for value in source.cookies.values():
        assert codename not in value
        assert not any(word in value for word in codename.split() if len(word) > 6)
    # Nor anywhere on the server's disk.
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            assert codename.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("query", "headers", "locale"),
    [
        ("", {}, "en"),
        ("?lang=ko", {}, "ko"),
        ("", {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}, "ko"),
    ],
    ids=["english", "korean-by-choice", "korean-by-browser"],
)
def test_wrong_codename_is_refused_in_the_readers_language(
    source: httpx.Client, query: str, headers: dict[str, str], locale: str
) -> None:
    response = source.post(
        f"/login{query}", data={"codename": generate_codename()}, headers=headers
    )
    assert response.status_code == 401
    expected = i18n.translate(locale, WRONG_CODENAME)
    assert str(escape(expected)) in response.text
    assert f'<html lang="{locale}"' in response.text
    if expected != WRONG_CODENAME:
        assert WRONG_CODENAME not in response.text
    assert COOKIE not in source.cookies


def test_login_shows_the_conversation(source: httpx.Client, other_source: httpx.Client) -> None:
    codename = new_source(source)
    assert submit(source, "Hello from a first visit.").status_code == 303
    sloppy = "  " + codename.upper().replace(" ", "   ") + " "
    response = login(other_source, sloppy)
    assert response.status_code == 303
    assert response.headers["location"] == "/conversation"
    page = other_source.get("/conversation")
    assert page.status_code == 200
    assert "Your conversation" in page.text
    assert "You sent a message" in page.text
    assert "Hello from a first visit." not in page.text


def test_logout_destroys_the_session_on_the_server(
    server: LiveServer, source: httpx.Client
) -> None:
    new_source(source)
    assert submit(source, "Logout test.").status_code == 303
    old_cookie = source.cookies[COOKIE]
    assert source.get("/conversation").status_code == 200
    response = source.post("/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/?bye=1"
    assert COOKIE not in source.cookies
    with httpx.Client(base_url=server.source_url, cookies={COOKIE: old_cookie}) as replay:
        for path in ("/conversation", "/submit"):
            response = replay.get(path)
            assert response.status_code == 303
            assert response.headers["location"] == "/login?expired=1"
        refused = replay.post("/submit", files={"files": ("a.txt", b"a")}, data={"csrf": "x"})
        assert refused.status_code == 401


def test_quick_exit_ends_the_session(server: LiveServer, source: httpx.Client) -> None:
    new_source(source)
    old_cookie = source.cookies[COOKIE]
    response = source.get("/exit")
    assert response.status_code == 303
    assert response.headers["location"].startswith("https://en.wikipedia.org/")
    with httpx.Client(base_url=server.source_url, cookies={COOKIE: old_cookie}) as replay:
        assert replay.get("/submit").headers["location"] == "/login?expired=1"


def test_returning_source_adds_to_the_same_case(
    api: httpx.Client, source: httpx.Client, other_source: httpx.Client
) -> None:
    codename = new_source(source)
    assert submit(source, "First visit.").status_code == 303
    before = api.get("/cases").json()
    case = newest_case(api)
    assert login(other_source, codename).status_code == 303
    response = submit(
        other_source, "Second visit.", files=[("more.csv", b"a,b\n1,2\n", "text/csv")]
    )
    assert response.status_code == 303
    after = api.get("/cases").json()
    assert after["total"] == before["total"]
    assert newest_case(api)["id"] == case["id"]
    assert texts(api, case["id"]) == ["First visit.", "Second visit.", "more.csv"]


def test_forgetting_the_conversation(
    server: LiveServer, api: httpx.Client, source: httpx.Client, other_source: httpx.Client
) -> None:
    codename = new_source(source)
    assert submit(source, "Please forget me afterwards.").status_code == 303
    case_id = newest_case(api)["id"]
    assert api.post(f"/cases/{case_id}/replies", json={"text": "Noted."}).status_code == 201
    form = source.get("/forget")
    assert form.status_code == 200
    token = csrf(form.text)
    unconfirmed = source.post("/forget", data={"csrf": token})
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm." in unconfirmed.text
    assert "Noted." in source.get("/conversation").text
    forged = source.post("/forget", data={"csrf": "forged", "confirm": "yes"})
    assert forged.status_code == 403
    done = source.post("/forget", data={"csrf": token, "confirm": "yes"})
    assert done.status_code == 303
    assert done.headers["location"] == "/?forgotten=1"
    assert login(other_source, codename).status_code == 401
    refused = api.post(f"/cases/{case_id}/replies", json={"text": "Are you there?"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "The source has deleted this conversation; replies are no longer possible."
    )
    detail = api.get(f"/cases/{case_id}").json()
    assert detail["can_reply"] is False
    assert [i["text"] for i in detail["items"]] == ["Please forget me afterwards.", "Noted."]
    runtime = server.runtime()
    try:
        from sqlalchemy import select

        from mailslot.cases.models import Case

        with runtime.default.db() as db:
            assert db.scalar(select(Case.source_id).where(Case.id == case_id)) is None
    finally:
        runtime.close()


def test_source_deletes_a_reply(api: httpx.Client, source: httpx.Client) -> None:
    new_source(source)
    assert submit(source, "Waiting for replies.").status_code == 303
    case_id = newest_case(api)["id"]
    for text in ("Reply that will be deleted.", "Reply that stays."):
        assert api.post(f"/cases/{case_id}/replies", json={"text": text}).status_code == 201
    replies = {
        item["text"]: item["id"]
        for item in api.get(f"/cases/{case_id}").json()["items"]
        if item["kind"] == "reply"
    }
    page = source.get("/conversation")
    assert "Reply that will be deleted." in page.text
    assert "Reply that stays." in page.text
    doomed = replies["Reply that will be deleted."]
    assert f"/replies/{doomed}/delete" in page.text
    assert source.post(f"/replies/{doomed}/delete", data={"csrf": "nope"}).status_code == 403
    response = source.post(f"/replies/{doomed}/delete", data={"csrf": csrf(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/conversation?deleted=1"
    page = source.get(response.headers["location"])
    assert "The reply was deleted." in page.text
    assert "Reply that will be deleted." not in page.text
    assert "Reply that stays." in page.text
    # The recipients keep their copy, and the read mark shows the source opened it.
    items = {i["text"]: i for i in api.get(f"/cases/{case_id}").json()["items"]}
    assert items["Reply that will be deleted."]["seen_by_source"] is True
    # Someone else's reply id does nothing.
    other = source.post("/replies/" + "0" * 32 + "/delete", data={"csrf": csrf(page.text)})
    assert other.status_code == 404


def test_opt_in_lets_sources_read_what_they_sent(
    server: LiveServer, source: httpx.Client, other_source: httpx.Client
) -> None:
    earlier = new_source(source)
    assert submit(source, "Sent before the opt-in.").status_code == 303
    set_show_submissions(server, True)
    try:
        with httpx.Client(base_url=server.source_url, timeout=60) as newcomer:
            later = new_source(newcomer)
            response = submit(
                newcomer,
                "Sent after the opt-in.",
                files=[("evidence.txt", b"0123456789", "text/plain")],
            )
            assert response.status_code == 303
        assert login(other_source, later).status_code == 303
        page = other_source.get("/conversation").text
        assert "Sent after the opt-in." in page
        assert "evidence.txt" in page
        with httpx.Client(base_url=server.source_url, timeout=60) as returning:
            assert login(returning, earlier).status_code == 303
            page = returning.get("/conversation").text
            assert "You sent a message" in page
            assert "Sent before the opt-in." not in page  # sealed without the source's key
    finally:
        set_show_submissions(server, False)
    assert "Sent after the opt-in." in other_source.get("/conversation").text


def test_pages_carry_strict_security_headers(source: httpx.Client) -> None:
    response = source.get("/")
    assert response.status_code == 200
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "server" not in response.headers
    assert "<script" not in response.text.lower()


# Several channels, on a server of their own.


@dataclass
class Desks:
    server: LiveServer
    investigations: str
    health: str
    empty: str
    investigator: Account
    nurse: Account


@pytest.fixture(scope="module")
def desks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desks]:
    live = start_server(tmp_path_factory.mktemp("desks"))
    try:
        investigations = live.add_channel("Investigations", (), "Public money and contracts")
        health = live.add_channel("Health desk", (), "Hospitals and care homes")
        empty = live.add_channel("Empty desk", (), "Nobody reads this one")
        investigator = live.add_user(channels=("Investigations",))
        nurse = live.add_user(channels=("Health desk",))
        yield Desks(live, investigations, health, empty, investigator, nurse)
    finally:
        stop_server(live)


def test_sources_choose_among_open_channels(desks: Desks) -> None:
    with (
        httpx.Client(base_url=desks.server.source_url, timeout=60) as client,
        desks.server.api_client(desks.nurse) as nurse,
        desks.server.api_client(desks.investigator) as investigator,
        closing(desks.server.staff_client(desks.investigator)) as investigator_web,
    ):
        new_source(client)
        form = client.get("/submit").text
        radios = re.findall(r'name="channel" value="([0-9a-f]{32})"', form)
        assert sorted(radios) == sorted([desks.investigations, desks.health])
        assert "Public money and contracts" in form
        assert "Hospitals and care homes" in form
        assert "Empty desk" not in form  # no recipients: not offered
        assert "<strong>default</strong>" not in form
        response = submit(client, "About a hospital.", channel=desks.health)
        assert response.status_code == 303, response.text
        case = newest_case(nurse)
        assert case["channel"] == "Health desk"
        assert texts(nurse, case["id"]) == ["About a hospital."]
        assert investigator.get("/cases").json() == {
            "cases": [],
            "total": 0,
            "total_capped": False,
            "limit": 50,
            "offset": 0,
        }
        assert investigator.get(f"/cases/{case['id']}").status_code == 404
        assert investigator_web.get(f"/cases/{case['id']}").status_code == 404
        # Sending more goes to the same case without asking again.
        more = client.get("/conversation").text
        assert 'name="channel"' not in more
        assert submit(client, "More about it.").status_code == 303
        assert texts(nurse, case["id"]) == ["About a hospital.", "More about it."]


@pytest.mark.parametrize("channel", [None, "empty", "0" * 32])
def test_a_channel_must_be_chosen_and_open(desks: Desks, channel: str | None) -> None:
    chosen = desks.empty if channel == "empty" else channel
    blobs = desks.server.data_dir / "blobs"
    before = files_under(blobs)
    with httpx.Client(base_url=desks.server.source_url, timeout=60) as client:
        new_source(client)
        response = submit(
            client,
            "Where does this go?",
            files=[("x.txt", b"x", "text/plain")],
            channel=chosen,
        )
        assert response.status_code == 400
        assert "Choose where to send your submission." in response.text
        assert "Where does this go?" in response.text  # the message is kept for another try
    assert files_under(blobs) == before


def test_onion_location_is_sent_when_configured(tmp_path: Path) -> None:
    onion = "http://" + "b3" * 28 + ".onion"
    live = start_server(tmp_path, {"MAILSLOT_SOURCE_ONION": onion})
    try:
        page = httpx.get(f"{live.source_url}/submit?lang=ko", timeout=30)
        assert page.headers["onion-location"] == onion + "/submit?lang=ko"
        assert "onion-location" not in httpx.get(f"{live.staff_url}/login", timeout=30).headers
    finally:
        stop_server(live)
