"""Authorisation across organisations: the matrix of ``test_authz.py`` (every route of the
staff application, with its table ``TABLE``) tried between two organisations of one install.

Two organisations, ``A`` (the default) and ``B``, each with a member of its default channel,
a recipient of another channel, an admin and an analyst, a case with a message and a file, a
label, a custom status, API tokens and browser sessions. Then, for every route and every role:

- **host confusion**: the cookies, CSRF tokens and API tokens of one organisation, sent to
  the other's host (with the other's ids), are those of a stranger: a login page, a CSRF
  refusal or a 401, never content, and neither organisation's data changes;
- **ids of the other organisation**: signed in on its own host, nobody reaches a case, item,
  user, channel or status of the other organisation: it does not exist there (404);
- **unclaimed hosts**: every route on a host no organisation claims is a plain 404;
- sources' sessions, codenames and staff credentials of one organisation open nothing in
  the other.

Each refusal is checked against a snapshot of both organisations' databases (every table but
the volatile bookkeeping ones) and blob files.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from mailslot.cases.models import CustomStatus
from mailslot.runtime import Runtime
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, login, new_source, submit
from tests.functional.org_helpers import Org, add_org, claim_default, runtime_of
from tests.functional.test_authz import TABLE, Access

pytestmark = pytest.mark.timeout(600)

ANONYMOUS, OTHER, ADMIN, MEMBER, ANALYST = "anonymous", "other", "admin", "member", "analyst"
ROLES = (OTHER, ADMIN, MEMBER, ANALYST)
IDS = ("{case_id}", "{item_id}", "{user_id}", "{channel_id}", "{status_id}", "{label_id}")
UNTIL = (datetime.date.today() + datetime.timedelta(days=500)).isoformat()


@dataclass
class Side:
    """One organisation and everything its principals hold."""

    name: str
    org: Org
    accounts: dict[str, Account]
    web: dict[str, httpx.Client]
    csrf: dict[str, str]
    tokens: dict[str, str]
    message: str
    file_name: str
    file_bytes: bytes
    codename: str
    case_id: str = ""
    message_id: str = ""
    file_id: str = ""
    channel_id: str = ""
    status_id: str = ""
    label_id: str = ""
    markers: list[bytes] = field(default_factory=list)

    def path(self, template: str) -> str:
        return template.format_map(
            Placeholders(
                case_id=self.case_id,
                item_id=self.file_id,
                user_id=self.accounts[MEMBER].id,
                channel_id=self.channel_id,
                status_id=self.status_id,
                label_id=self.label_id,
                token="not-a-real-setup-token-" + "x" * 20,
                path="mailslot.css",
            )
        )


class Placeholders(dict[str, str]):
    """A route's placeholders; one that names no organisation's id (a position, say) is 0."""

    def __missing__(self, key: str) -> str:
        return "0"


@dataclass
class World:
    server: LiveServer
    runtime: Runtime
    a: Side
    b: Side

    def snapshots(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.a.org.snapshot(self.runtime), self.b.org.snapshot(self.runtime)

    def pairs(self) -> tuple[tuple[Side, Side], tuple[Side, Side]]:
        return ((self.a, self.b), (self.b, self.a))


def build(server: LiveServer, runtime: Runtime, org: Org, name: str, stack: ExitStack) -> Side:
    accounts = {
        MEMBER: org.add_user("recipient"),
        ADMIN: org.add_user("admin"),
        ANALYST: org.add_user("analyst"),
    }
    marker = f"Cross-organisation marker of {name}: {server.unique('m')}"
    file_name = f"evidence-{name}-{server.unique('f')}.txt"
    file_bytes = f"CROSS-ORG-BYTES-{name}-".encode() * 100
    with org.source() as source:
        codename = new_source(source)
        sent = submit(source, marker, files=[(file_name, file_bytes, "text/plain")])
        assert sent.status_code == 303, sent.text
    channel_id = org.add_channel("elsewhere")
    accounts[OTHER] = org.add_user("recipient", channels=("elsewhere",))
    tokens = {role: org.token(account) for role, account in accounts.items()}
    web = {role: org.login(account) for role, account in accounts.items()}
    for client in web.values():
        stack.callback(client.close)
    side = Side(
        name=name,
        org=org,
        accounts=accounts,
        web=web,
        csrf={role: csrf(client.get("/account").text) for role, client in web.items()},
        tokens=tokens,
        message=marker,
        file_name=file_name,
        file_bytes=file_bytes,
        codename=codename,
        channel_id=channel_id,
        markers=[marker.encode(), file_name.encode(), file_bytes[:40]],
    )
    with org.api(tokens[MEMBER]) as api:
        case = find_case(api, marker)
        side.case_id = case["id"]
        kinds = {item["kind"]: item["id"] for item in case["items"]}
        side.message_id, side.file_id = kinds["message"], kinds["file"]
        labelled = api.post(f"/cases/{side.case_id}/labels", json={"name": f"Label {name}"})
        side.label_id = labelled.json()["labels"][0]["id"]
    with org.context(runtime).db() as db:
        status = CustomStatus(channel_id=channel_id, phase="in_progress", name="Status", position=1)
        db.add(status)
        db.flush()
        side.status_id = status.id
    return side


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    a_org = claim_default(server)
    b_org, _ = add_org(server, "beta", "Beta Desk")
    runtime = runtime_of(server)
    with ExitStack() as stack:
        stack.callback(runtime.close)
        a = build(server, runtime, a_org, "A", stack)
        b = build(server, runtime, b_org, "B", stack)
        yield World(server, runtime, a, b)


# Sending a probe: one organisation's credentials, to a host, with some side's ids.

FORM: dict[str, Any] = {
    "text": "cross-organisation probe",
    "status": "in_progress",
    "important": "1",
    "name": "cross-organisation probe",
    "confirm": "yes",
    "until": UNTIL,
    "reason": "cross-organisation probe",
    "action": "rename",
    "phase": "new",
    "role": "recipient",
    "username": "cross-org-intruder",
    "disabled": "1",
    "description": "probe",
    "acknowledge_days": "1",
    "feedback_days": "1",
    "retention_days": "1",
    "closed_retention_days": "0",
    "current": "x",
    "password": "cross organisation passphrase",
    "password_again": "cross organisation passphrase",
    "session": "others",
    "credential": "{}",
    "key": "0" * 32,
}
BODY: dict[str, Any] = {
    "text": "cross-organisation probe",
    "status": "in_progress",
    "important": True,
    "name": "cross-organisation probe",
    "until": UNTIL,
    "reason": "cross-organisation probe",
}


def probe(
    world: World, creds: Side, role: str, method: str, path: str, *, host: Side, ids: Side
) -> httpx.Response:
    """``role`` of ``creds`` (its cookie or token, and its CSRF token) asks ``host``'s staff
    host for ``path`` filled with the ids of ``ids``."""
    url = ids.path(path)
    headers = host.org.headers(host.org.staff_host)
    if path.startswith("/api/v1"):
        if role != ANONYMOUS:
            headers["Authorization"] = f"Bearer {creds.tokens[role]}"
        body = dict(BODY, user_id=ids.accounts[MEMBER].id) if method != "GET" else None
        with httpx.Client(base_url=world.server.staff_url, timeout=60) as client:
            return client.request(method, url, headers=headers, json=body)
    # A copy of the cookie jar: a refused request that deletes a cookie (logging out with no
    # session) must not end the session the other probes use.
    cookies = httpx.Cookies(creds.web[role].cookies)
    with httpx.Client(base_url=world.server.staff_url, cookies=cookies, timeout=60) as client:
        if method == "GET":
            return client.get(url, headers=headers)
        form = dict(FORM, csrf=creds.csrf[role], user_id=ids.accounts[MEMBER].id)
        return client.request(method, url, headers=headers, data=form)


def assert_nothing_of(response: httpx.Response, *sides: Side) -> None:
    for side in sides:
        for marker in side.markers:
            assert marker not in response.content, (response.request.url, side.name)
    assert response.headers.get("content-type", "").split(";")[0] != "application/zip"


def route_ids(routes: Any) -> list[str]:
    return [f"{method} {path}" for method, path in routes]


def assert_stranger(response: httpx.Response, method: str, path: str) -> None:
    """What someone without a session gets (test_authz's ``anonymous``)."""
    status, where = response.status_code, response.headers.get("location", "")
    if path.startswith("/api/v1"):
        assert status == 401, (method, path, status)
    elif method == "GET":
        assert (status, where) == (303, "/login"), (method, path, status, where)
    else:
        # A cookie this organisation does not know: a CSRF refusal, "sign in again" (401), or
        # the login page (logging out with no session goes to "/login?bye=1").
        assert status in (401, 403) or (status == 303 and where.startswith("/login")), (
            path,
            status,
        )


@pytest.mark.parametrize(("method", "path"), list(TABLE), ids=route_ids(TABLE))
def test_one_organisations_sessions_and_tokens_are_strangers_to_the_other(
    world: World, method: str, path: str
) -> None:
    rule = TABLE[method, path]
    for creds, target in world.pairs():
        before = world.snapshots()
        for role in ROLES:
            response = probe(world, creds, role, method, path, host=target, ids=target)
            assert response.status_code < 500, (role, response.status_code)
            assert_nothing_of(response, creds)
            if rule.access != Access.PUBLIC:
                assert_stranger(response, method, path)
                assert_nothing_of(response, target)
        after = world.snapshots()
        if (method, path) in (("POST", "/login"), ("POST", "/recover")):
            # A failed login is recorded in the trail of the organisation it was tried on.
            for state in (*before, *after):
                state.pop("audit_events"), state.pop("audit_head")
        assert after == before, f"{creds.name}'s {method} {path} on {target.name} changed data"


def test_one_organisations_sessions_still_work_at_home(world: World) -> None:
    """The positive control of the test above: the same cookies and tokens on their own
    host reach their own organisation."""
    for side in (world.a, world.b):
        page = probe(world, side, MEMBER, "GET", "/cases/{case_id}", host=side, ids=side)
        assert page.status_code == 200
        assert side.message in page.text
        api = probe(world, side, MEMBER, "GET", "/api/v1/cases/{case_id}", host=side, ids=side)
        assert api.status_code == 200
        assert side.message in api.text
        content = "/api/v1/cases/{case_id}/items/{item_id}/content"
        download = probe(world, side, MEMBER, "GET", content, host=side, ids=side)
        assert download.content == side.file_bytes
        for role in (ADMIN, ANALYST):
            assert (
                probe(world, side, role, "GET", "/account", host=side, ids=side).status_code == 200
            )


ID_ROUTES = {key: rule for key, rule in TABLE.items() if any(i in key[1] for i in IDS)}


@pytest.mark.parametrize(("method", "path"), list(ID_ROUTES), ids=route_ids(ID_ROUTES))
def test_ids_of_the_other_organisation_do_not_exist(world: World, method: str, path: str) -> None:
    rule = ID_ROUTES[method, path]
    for home, foreign in world.pairs():
        before = world.snapshots()
        for role in ROLES:
            response = probe(world, home, role, method, path, host=home, ids=foreign)
            status = response.status_code
            assert status in (403, 404) or (status, response.headers.get("location")) == (
                303,
                "/stats",
            ), (home.name, role, status, response.text[:300])
            if (role, rule.access) in ((MEMBER, Access.CASE), (ADMIN, Access.ADMIN)):
                # Allowed to use the route at home: refused only because the id is not there.
                assert status == 404, (home.name, role, status, response.text[:300])
            assert_nothing_of(response, foreign)
        assert world.snapshots() == before, f"{home.name} with {foreign.name}'s ids: {path}"


def test_an_item_of_the_other_organisation_is_not_found_through_ones_own_case(
    world: World,
) -> None:
    for home, foreign in world.pairs():
        for item_id in (foreign.file_id, foreign.message_id):
            web = home.web[MEMBER].get(f"/cases/{home.case_id}/items/{item_id}/download")
            with home.org.api(home.tokens[MEMBER]) as api:
                content = api.get(f"/cases/{home.case_id}/items/{item_id}/content")
            for response in (web, content):
                assert response.status_code == 404
                assert_nothing_of(response, foreign)


@pytest.mark.parametrize(("method", "path"), list(TABLE), ids=route_ids(TABLE))
def test_every_route_on_an_unclaimed_host_is_a_plain_404(
    world: World, method: str, path: str
) -> None:
    headers = {"Host": "unclaimed.example", "Origin": "http://unclaimed.example"}
    if path in ("/healthz", "/readyz"):
        with httpx.Client(base_url=world.server.staff_url, headers=headers) as client:
            assert client.get(path).json()["status"] == "ok"  # any host, and says only that
        return
    for side in (world.a, world.b):
        url = side.path(path)
        if path.startswith("/api/v1"):
            headers["Authorization"] = f"Bearer {side.tokens[MEMBER]}"
        data = dict(FORM, csrf=side.csrf[MEMBER]) if method == "POST" else None
        cookies = httpx.Cookies(side.web[MEMBER].cookies)
        with httpx.Client(base_url=world.server.staff_url, cookies=cookies) as client:
            response = client.request(method, url, headers=headers, data=data)
        assert response.status_code == 404
        assert response.content == b"Not Found"
        assert "set-cookie" not in response.headers


def test_a_source_session_of_one_organisation_opens_nothing_in_the_other(world: World) -> None:
    for home, foreign in world.pairs():
        with home.org.source() as source:
            assert login(source, home.codename).status_code == 303
            assert home.message not in source.get("/conversation").text  # not readable back
            assert source.get("/conversation").status_code == 200
            before = world.snapshots()
            token = csrf(source.get("/submit").text)
            # The same cookie on the other organisation's host (a copy of the jar: a browser
            # keeps one per host, so the other host cannot delete this one).
            away = foreign.org.headers(foreign.org.source_host)
            with httpx.Client(
                base_url=world.server.source_url,
                headers=away,
                cookies=httpx.Cookies(source.cookies),
                timeout=60,
            ) as confused:
                page = confused.get("/conversation")
                assert (page.status_code, page.headers["location"]) == (303, "/login?expired=1")
                form = confused.get("/submit")
                assert (form.status_code, form.headers["location"]) == (303, "/login?expired=1")
                sent = confused.post(
                    "/submit",
                    data={"csrf": token, "message": "Across"},
                    files=[("files", ("", b"", "application/octet-stream"))],
                )
                assert sent.status_code in (401, 403), sent.status_code
            assert world.snapshots() == before
            # The codename of one organisation is unknown to the other.
            with foreign.org.source() as stranger:
                assert login(stranger, home.codename).status_code == 401
            # At home the session is still alive.
            assert source.get("/conversation").status_code == 200


def test_staff_credentials_of_one_organisation_do_not_log_in_to_the_other(world: World) -> None:
    for home, foreign in world.pairs():
        account = home.accounts[MEMBER]
        with foreign.org.staff() as client:
            refused = client.post(
                "/login",
                data={"username": account.username, "password": account.password,
                      "totp": world.server.totp.code(account.totp_secret)},
            )  # fmt: skip
            assert refused.status_code == 401
        with foreign.org.api() as api:
            token = api.post(
                "/auth/token",
                json={"username": account.username, "password": account.password,
                      "totp": world.server.totp.code(account.totp_secret)},
            )  # fmt: skip
            assert token.status_code == 401
