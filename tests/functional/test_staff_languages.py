"""Texts admins write per language, as staff read them: the inbox, the case page, the
statistics, the admin pages and the JSON API show a channel's name and description, a
custom status's name and the organisation's name in the reader's language, and the
organisation's default language's text where an admin wrote none in it (issue 15).

One server: a channel and a custom status named in English (the default language), Korean
and German, and a case in that channel with that status. French has no text: French readers
see the English. The API takes the language from Accept-Language and says it back in
Content-Language; a request that names no supported language reads the default language's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from mailslot.instance.models import Instance
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, new_source, submit

CHANNEL = "Desk zq"
CHANNEL_KO = "제보 창구 zq"
CHANNEL_DE = "Hinweisstelle zq"
DESCRIPTION = "Tips about the harbour zq"
DESCRIPTION_KO = "항구에 관한 제보 zq"
STATUS = "Checking zq"
STATUS_KO = "확인 중 zq"
STATUS_DE = "Wird geprüft zq"
ORG_KO = "메일슬롯 zq"
MESSAGE = "A tip for the desk in three languages zq"


@dataclass
class World:
    server: LiveServer
    admin_account: Account
    recipient_account: Account
    admin: httpx.Client
    recipient: httpx.Client
    channel_id: str
    status_id: str
    case_id: str
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, account: Account) -> httpx.Client:
        """An API client for ``account``, on one token (each new one waits for a new TOTP
        code)."""
        if account.username not in self.tokens:
            self.tokens[account.username] = self.server.api_token(account)
        return httpx.Client(
            base_url=f"{self.server.staff_url}/api/v1",
            headers={"Authorization": f"Bearer {self.tokens[account.username]}"},
            timeout=60,
        )


def _post(client: httpx.Client, path: str, form: str, **data: Any) -> httpx.Response:
    return client.post(path, data={"csrf": csrf(client.get(form).text), **data})


def build_world(server: LiveServer) -> World:
    admin_account = server.add_user("admin")
    recipient_account = server.add_user("recipient")
    channel_id = server.add_channel(CHANNEL, (recipient_account.username,), DESCRIPTION)
    admin = server.staff_client(admin_account)
    recipient = server.staff_client(recipient_account)
    path = f"/admin/channels/{channel_id}"
    saved = _post(
        admin,
        path,
        path,
        texts_locale="en",
        name=CHANNEL,
        description=DESCRIPTION,
        members=[recipient_account.username],
        **{"name:ko": CHANNEL_KO, "name:de": CHANNEL_DE, "description:ko": DESCRIPTION_KO},
    )
    assert saved.status_code == 303, saved.text
    settings = f"{path}/settings"
    added = _post(
        admin,
        settings + "/statuses",
        settings,
        texts_locale="en",
        phase="in_progress",
        name=STATUS,
        **{"name:ko": STATUS_KO, "name:de": STATUS_DE},
    )
    assert added.status_code == 303, added.text
    found = re.search(r'id="status-([0-9a-f]{32})" name="name"', admin.get(settings).text)
    assert found, "the status has its row"
    named = _post(
        admin,
        "/admin/settings",
        "/admin/settings",
        texts_locale="en",
        default_locale="en",
        name="Mailslot",
        **{"name:ko": ORG_KO},
    )
    assert named.status_code == 303, named.text
    with httpx.Client(base_url=server.source_url, timeout=60) as source:
        new_source(source)
        assert submit(source, MESSAGE, channel=channel_id).status_code == 303
    with server.api_client(recipient_account) as api:
        case_id = str(find_case(api, MESSAGE)["id"])
    return World(
        server,
        admin_account,
        recipient_account,
        admin,
        recipient,
        channel_id,
        found[1],
        case_id,
    )


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    built = build_world(server)
    # The case takes the channel's own status through the API, in Korean.
    with built.api(built.recipient_account) as api:
        moved = api.post(
            f"/cases/{built.case_id}/status",
            json={"custom_status_id": built.status_id},
            headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"},
        )
    assert moved.status_code == 200, moved.text
    assert moved.json()["custom_status"] == STATUS_KO
    assert moved.headers["content-language"] == "ko"
    yield built
    built.admin.close()
    built.recipient.close()


def test_the_inbox_names_channels_and_statuses_in_the_readers_language(world: World) -> None:
    option = f'<option value="{world.channel_id}">'
    korean = world.recipient.get("/?lang=ko").text
    assert f"<td>{CHANNEL_KO}</td>" in korean, "the case's row"
    assert f"{option}{CHANNEL_KO}</option>" in korean, "the channel filter's choice"
    assert f'<option value="custom:{world.status_id}"' in korean
    assert STATUS_KO in korean
    assert CHANNEL not in korean
    assert STATUS not in korean
    assert ORG_KO in korean, "the organisation's name in the header"
    german = world.recipient.get("/?lang=de").text
    assert f"<td>{CHANNEL_DE}</td>" in german
    assert f"{option}{CHANNEL_DE}</option>" in german
    assert STATUS_DE in german
    assert CHANNEL_KO not in german
    # No French texts: the default language's, everywhere.
    french = world.recipient.get("/?lang=fr").text
    assert f"<td>{CHANNEL}</td>" in french
    assert f"{option}{CHANNEL}</option>" in french
    assert STATUS in french
    assert CHANNEL_KO not in french
    assert CHANNEL_DE not in french
    assert ORG_KO not in french
    # A filter by channel still finds the case, whatever the language shows.
    filtered = world.recipient.get("/", params={"lang": "ko", "channel": world.channel_id})
    assert f"<td>{CHANNEL_KO}</td>" in filtered.text


def test_the_case_page_names_its_channel_and_status_in_the_readers_language(
    world: World,
) -> None:
    case = f"/cases/{world.case_id}"
    korean = world.recipient.get(case + "?lang=ko").text
    assert CHANNEL_KO in korean
    assert STATUS_KO in korean
    assert CHANNEL not in korean
    assert STATUS not in korean
    german = world.recipient.get(case + "?lang=de").text
    assert CHANNEL_DE in german
    assert STATUS_DE in german
    french = world.recipient.get(case + "?lang=fr").text
    assert CHANNEL in french
    assert STATUS in french
    assert CHANNEL_KO not in french


def _api_case(world: World, accept: str | None) -> tuple[httpx.Response, httpx.Response]:
    headers = {"Accept-Language": accept} if accept is not None else {}
    with world.api(world.recipient_account) as api:
        listed = api.get("/cases", params={"channel": world.channel_id}, headers=headers)
        one = api.get(f"/cases/{world.case_id}", headers=headers)
    assert listed.status_code == 200, listed.text
    assert one.status_code == 200, one.text
    return listed, one


@pytest.mark.parametrize(
    ("accept", "language", "channel", "status"),
    [
        ("ko", "ko", CHANNEL_KO, STATUS_KO),
        ("pt-BR, de-DE;q=0.8, ko;q=0.5", "de", CHANNEL_DE, STATUS_DE),  # pt: unsupported
        ("fr", "fr", CHANNEL, STATUS),  # no French texts: the default language's
        ("pt-BR", "en", CHANNEL, STATUS),  # not supported: the default language
        (None, "en", CHANNEL, STATUS),  # what a script that sends no header always read
    ],
)
def test_the_api_answers_in_the_language_of_accept_language(
    world: World, accept: str | None, language: str, channel: str, status: str
) -> None:
    listed, one = _api_case(world, accept)
    (row,) = [c for c in listed.json()["cases"] if c["id"] == world.case_id]
    assert (row["channel"], row["custom_status"]) == (channel, status)
    assert (one.json()["channel"], one.json()["custom_status"]) == (channel, status)
    assert one.json()["custom_status_id"] == world.status_id  # ids never change
    for response in (listed, one):
        assert response.headers["content-language"] == language
        assert "accept-language" in response.headers["vary"].lower()


def test_the_api_case_work_answers_in_the_callers_language(world: World) -> None:
    with world.api(world.recipient_account) as api:
        for accept, status in (("de", STATUS_DE), ("fr", STATUS), ("ko", STATUS_KO)):
            marked = api.put(
                f"/cases/{world.case_id}/important",
                json={"important": accept != "ko"},
                headers={"Accept-Language": accept},
            )
            assert marked.status_code == 200, marked.text
            assert marked.json()["custom_status"] == status
            assert marked.headers["content-language"] == accept


def test_without_accept_language_the_api_reads_the_organisations_default_language(
    world: World,
) -> None:
    """The organisation's default language, not English: here Japanese is made the default
    (the owners' columns then hold its texts), so a script without the header reads those
    and is told ``ja``; a Korean reader still reads Korean."""
    runtime = world.server.runtime()
    try:
        with runtime.default.db() as db:
            instance = db.query(Instance).one()
            instance.default_locale = "ja"
        listed, one = _api_case(world, None)
        assert listed.headers["content-language"] == one.headers["content-language"] == "ja"
        assert one.json()["channel"] == CHANNEL  # the column: the default language's text
        assert _api_case(world, "ko")[1].json()["channel"] == CHANNEL_KO
    finally:
        with runtime.default.db() as db:
            db.query(Instance).one().default_locale = "en"
        runtime.close()
    assert _api_case(world, None)[1].headers["content-language"] == "en"


def test_statistics_name_channels_in_the_readers_language(world: World) -> None:
    korean = world.admin.get("/stats?lang=ko").text
    assert f'<option value="{world.channel_id}">{CHANNEL_KO}</option>' in korean
    assert CHANNEL not in korean
    french = world.admin.get("/stats?lang=fr").text
    assert f'<option value="{world.channel_id}">{CHANNEL}</option>' in french
    exported = world.admin.get("/stats.csv?lang=ko")
    assert exported.status_code == 200, exported.text
    assert f"channel,{CHANNEL_KO}," in exported.text
    assert exported.headers["content-language"] == "ko"
    assert f"channel,{CHANNEL}," in world.admin.get("/stats.csv?lang=fr").text
    with world.api(world.admin_account) as api:
        figures = api.get("/stats", headers={"Accept-Language": "de"})
        plain = api.get("/stats")
    assert figures.status_code == 200, figures.text
    assert figures.headers["content-language"] == "de"
    labels = {c["key"]: c["label"] for c in figures.json()["channels"]}
    assert labels[world.channel_id] == CHANNEL_DE
    assert {c["key"]: c["label"] for c in plain.json()["channels"]}[world.channel_id] == CHANNEL


def test_admin_pages_name_channels_in_the_readers_language(world: World) -> None:
    overview = world.admin.get("/admin?lang=ko").text
    assert CHANNEL_KO in overview
    assert DESCRIPTION_KO in overview
    assert ORG_KO in overview
    assert CHANNEL not in overview
    german = world.admin.get("/admin?lang=de").text
    assert CHANNEL_DE in german
    assert DESCRIPTION in german  # no German description: the default language's
    invite = world.admin.get("/admin/invite?lang=ko").text
    assert f'value="{world.channel_id}"> <span>{CHANNEL_KO}</span>' in invite
    assert f'value="{world.channel_id}"> <span>{CHANNEL}</span>' in (
        world.admin.get("/admin/invite?lang=fr").text
    )
    # The channel's own form still shows each language's text in its field.
    form = world.admin.get(f"/admin/channels/{world.channel_id}?lang=ko").text
    assert f'name="name" lang="en" dir="ltr" value="{CHANNEL}"' in form


def test_the_openapi_description_says_how_the_language_is_chosen(world: World) -> None:
    with world.api(world.recipient_account) as api:
        spec = api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for schema, name in (
        ("CaseOut", "channel"),
        ("CaseOut", "custom_status"),
        ("CaseWorkOut", "custom_status"),
        ("CellOut", "label"),
    ):
        described = schemas[schema]["properties"][name]["description"]
        assert "Accept-Language" in described, (schema, name)
        assert "Content-Language" in described, (schema, name)
