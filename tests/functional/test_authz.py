"""Authorisation, table-driven: every staff and API route, tried by every kind of principal.

The table below names every route of the staff application (HTML pages, admin, account,
enrolment, recovery, static files and the JSON API mounted under ``/api/v1``) with who may use
it. ``test_the_table_covers_every_route`` builds the real application and fails if a route
exists that the table does not cover (or the table names one that no longer exists), so a
new route cannot be forgotten.

Principals:

- ``anonymous``: no cookie, no token.
- ``other``: a recipient of another channel (a real, signed-in insider).
- ``admin``: an administrator, who is never a channel member and must not read cases.
- ``member``: a recipient of the case's channel, the only one who may read or act on it.
- ``analyst``: sees statistics only (``/stats``); every case, listing and admin route refuses
  it (``test_analysts_reach_nothing_but_statistics``).

Every refused attempt is followed by a comparison of the whole database (every table but the
volatile bookkeeping ones) and of the blob files with a snapshot taken just before it: a
refusal must change nothing. Forms are posted with the principal's own, valid CSRF token, so
that a refusal comes from authorisation, not from CSRF.

``HEAD`` is not listed: Starlette answers it with the ``GET`` handler.
"""

from __future__ import annotations

import datetime
import io
import itertools
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, func, select
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from mailslot import drops
from mailslot.audit.models import AuditEvent
from mailslot.cases.models import (
    Case,
    CaseAssignee,
    CaseKeyWrap,
    CaseLabel,
    CustomStatus,
    Item,
    Label,
)
from mailslot.channels.models import Channel
from mailslot.recipients.models import User
from mailslot.runtime import Runtime
from mailslot.web.app import create_staff_app
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, find_case, new_source, submit
from tests.unit.test_documents_sandbox import photo


class Access(StrEnum):
    CASE = "case: only a recipient of the case's channel"
    LISTING = "listing: everyone signed in, but each sees only their own cases"
    ADMIN = "admin: only administrators"
    SELF = "self: a signed-in user, acting only on their own account or session"
    PUBLIC = "public by design"
    RECIPIENT = "recipient: any signed-in recipient; never administrators"
    STATS = "stats: administrators and analysts; aggregates only, small counts hidden"
    STAFF = "staff: anyone signed in; public-key fingerprints only, never case content"
    IDENTITY = "identity: a recipient of the case (asking), or one a custodian allowed (reading)"
    CUSTODIAN = "custodian: only custodians; who asked, which case, why; never case content"


@dataclass(frozen=True)
class Rule:
    access: Access
    why: str


# Every route of the staff app, with the API's paths under its /api/v1 mount.
TABLE: dict[tuple[str, str], Rule] = {
    ("GET", "/"): Rule(Access.LISTING, "the inbox lists only cases wrapped to the caller"),
    ("GET", "/login"): Rule(Access.PUBLIC, "the login form"),
    ("POST", "/login"): Rule(Access.PUBLIC, "logging in (password and TOTP)"),
    ("POST", "/logout"): Rule(Access.SELF, "ends the caller's own browser session"),
    ("GET", "/cases/{case_id}"): Rule(Access.CASE, "shows message texts and file names"),
    ("POST", "/cases/{case_id}/replies"): Rule(Access.CASE, "writes to the source"),
    ("GET", "/cases/{case_id}/items/{item_id}/download"): Rule(Access.CASE, "file bytes"),
    ("GET", "/cases/{case_id}/download-all"): Rule(Access.CASE, "the whole case as a zip"),
    ("GET", "/cases/{case_id}/delete"): Rule(Access.CASE, "names the case (its pseudonym)"),
    ("POST", "/cases/{case_id}/delete"): Rule(Access.CASE, "destroys the case"),
    ("GET", "/setup/{token}"): Rule(Access.PUBLIC, "enrolment: the unguessable token is the key"),
    ("POST", "/setup/{token}"): Rule(Access.PUBLIC, "enrolment: the token is the key"),
    ("GET", "/admin"): Rule(Access.ADMIN, "users, channels and settings"),
    ("GET", "/admin/invite"): Rule(Access.ADMIN, "the invitation form"),
    ("POST", "/admin/invite"): Rule(Access.ADMIN, "creates an enrolment link"),
    ("POST", "/admin/users/{user_id}/disable"): Rule(Access.ADMIN, "disables an account"),
    ("GET", "/admin/channels/new"): Rule(Access.ADMIN, "the new-channel form"),
    ("POST", "/admin/channels/new"): Rule(Access.ADMIN, "creates a channel"),
    ("GET", "/admin/channels/{channel_id}"): Rule(Access.ADMIN, "a channel and its members"),
    ("POST", "/admin/channels/{channel_id}"): Rule(Access.ADMIN, "changes who receives cases"),
    ("GET", "/admin/settings"): Rule(Access.ADMIN, "the settings form"),
    ("POST", "/admin/settings"): Rule(Access.ADMIN, "instance name, guidance, policy"),
    ("GET", "/admin/audit"): Rule(Access.ADMIN, "who did what to which case, and when"),
    ("GET", "/api/v1/audit"): Rule(Access.ADMIN, "the audit trail, for scripts and a SIEM"),
    ("GET", "/api/v1/channels/{channel_id}/questionnaire"): Rule(
        Access.ADMIN, "a channel's questionnaire, for export"
    ),
    ("PUT", "/api/v1/channels/{channel_id}/questionnaire"): Rule(
        Access.ADMIN, "sets what sources are asked"
    ),
    ("DELETE", "/api/v1/channels/{channel_id}/questionnaire"): Rule(
        Access.ADMIN, "removes a channel's questionnaire"
    ),
    ("GET", "/account"): Rule(Access.SELF, "the caller's own sessions"),
    ("POST", "/account/password"): Rule(Access.SELF, "changes the caller's own password"),
    ("POST", "/account/sessions/end"): Rule(Access.SELF, "ends one of the caller's sessions"),
    ("POST", "/account/email"): Rule(Access.SELF, "sets the caller's own notice address"),
    ("GET", "/account/keys"): Rule(Access.SELF, "the caller's own security keys"),
    ("POST", "/account/keys"): Rule(Access.SELF, "adds a security key to the caller's account"),
    ("POST", "/account/keys/remove"): Rule(Access.SELF, "removes one of the caller's keys"),
    ("POST", "/login/webauthn/begin"): Rule(Access.PUBLIC, "security-key login, password step"),
    ("POST", "/login/webauthn/finish"): Rule(Access.PUBLIC, "security-key login, key step"),
    ("GET", "/recover"): Rule(Access.PUBLIC, "recovery form: a lost password cannot sign in"),
    ("POST", "/recover"): Rule(Access.PUBLIC, "recovery: the recovery key and TOTP are the key"),
    ("GET", "/static/{path}"): Rule(Access.PUBLIC, "the style sheet"),
    ("GET", "/healthz"): Rule(Access.PUBLIC, "liveness for a supervisor: says only ok"),
    ("GET", "/readyz"): Rule(Access.PUBLIC, "readiness: ok, or which dependency failed"),
    ("GET", "/api/v1/openapi.json"): Rule(Access.PUBLIC, "the API description"),
    ("POST", "/api/v1/auth/token"): Rule(Access.PUBLIC, "logging in to the API"),
    ("DELETE", "/api/v1/auth/token"): Rule(Access.SELF, "revokes the caller's own token"),
    ("GET", "/api/v1/cases"): Rule(Access.LISTING, "lists only cases wrapped to the caller"),
    ("GET", "/api/v1/cases/{case_id}"): Rule(Access.CASE, "message texts and file names"),
    ("GET", "/api/v1/cases/{case_id}/items/{item_id}/content"): Rule(Access.CASE, "item bytes"),
    ("POST", "/api/v1/cases/{case_id}/replies"): Rule(Access.CASE, "writes to the source"),
    ("DELETE", "/api/v1/cases/{case_id}"): Rule(Access.CASE, "destroys the case"),
    # Case work (web/casework.py, web/api_casework.py).
    ("POST", "/cases/{case_id}/status"): Rule(Access.CASE, "moves the case and its deadlines"),
    ("POST", "/cases/{case_id}/important"): Rule(Access.CASE, "flags the case"),
    ("POST", "/cases/{case_id}/labels"): Rule(Access.CASE, "labels the case"),
    ("POST", "/cases/{case_id}/labels/{label_id}/remove"): Rule(Access.CASE, "unlabels it"),
    ("POST", "/cases/{case_id}/assignees"): Rule(Access.CASE, "assigns a key holder"),
    ("POST", "/cases/{case_id}/assignees/{user_id}/remove"): Rule(Access.CASE, "unassigns"),
    ("POST", "/cases/{case_id}/notes"): Rule(Access.CASE, "writes a sealed internal note"),
    ("POST", "/cases/{case_id}/access"): Rule(Access.CASE, "wraps the case key to someone"),
    ("POST", "/cases/{case_id}/access/{user_id}/revoke"): Rule(Access.CASE, "drops a wrap"),
    ("POST", "/api/v1/cases/{case_id}/status"): Rule(Access.CASE, "moves the case"),
    ("PUT", "/api/v1/cases/{case_id}/important"): Rule(Access.CASE, "flags the case"),
    ("POST", "/api/v1/cases/{case_id}/labels"): Rule(Access.CASE, "labels the case"),
    ("DELETE", "/api/v1/cases/{case_id}/labels/{label_id}"): Rule(Access.CASE, "unlabels it"),
    ("POST", "/api/v1/cases/{case_id}/assignees"): Rule(Access.CASE, "assigns a key holder"),
    ("DELETE", "/api/v1/cases/{case_id}/assignees/{user_id}"): Rule(Access.CASE, "unassigns"),
    ("POST", "/api/v1/cases/{case_id}/notes"): Rule(Access.CASE, "writes a sealed note"),
    ("GET", "/api/v1/cases/{case_id}/access"): Rule(Access.CASE, "who holds the case key"),
    ("POST", "/api/v1/cases/{case_id}/access"): Rule(Access.CASE, "wraps the case key"),
    ("DELETE", "/api/v1/cases/{case_id}/access/{user_id}"): Rule(Access.CASE, "drops a wrap"),
    ("GET", "/api/v1/labels"): Rule(Access.RECIPIENT, "label names (instance-wide, generic)"),
    ("GET", "/api/v1/recipients"): Rule(Access.RECIPIENT, "usernames to assign or grant to"),
    # Channel case settings and retention (web/channel_settings.py, web/retention.py).
    ("GET", "/admin/channels/{channel_id}/settings"): Rule(Access.ADMIN, "days, statuses, texts"),
    ("POST", "/admin/channels/{channel_id}/settings"): Rule(Access.ADMIN, "deadlines, retention"),
    ("POST", "/admin/channels/{channel_id}/settings/statuses"): Rule(
        Access.ADMIN, "adds a custom status"
    ),
    ("POST", "/admin/channels/{channel_id}/settings/statuses/{status_id}"): Rule(
        Access.ADMIN, "renames, moves or removes a custom status"
    ),
    ("POST", "/cases/{case_id}/retention"): Rule(Access.CASE, "keeps the case longer"),
    ("POST", "/api/v1/cases/{case_id}/retention"): Rule(Access.CASE, "keeps the case longer"),
    # Statistics (web/stats.py, web/api_stats.py).
    ("GET", "/stats"): Rule(Access.STATS, "counts and times per channel, status and month"),
    ("GET", "/stats.csv"): Rule(Access.STATS, "the same figures as CSV (audited)"),
    ("GET", "/api/v1/stats"): Rule(Access.STATS, "the same figures as JSON"),
    # Documents (web/documents.py, web/api_documents.py).
    ("GET", "/cases/{case_id}/items/{item_id}/inspect"): Rule(Access.CASE, "what a file reveals"),
    ("GET", "/cases/{case_id}/items/{item_id}/drop"): Rule(Access.CASE, "a sealed drop's note"),
    ("GET", "/cases/{case_id}/items/{item_id}/drop/{index}"): Rule(Access.CASE, "a drop's file"),
    ("GET", "/api/v1/cases/{case_id}/items/{item_id}/drop"): Rule(Access.CASE, "a drop's note"),
    ("GET", "/api/v1/cases/{case_id}/items/{item_id}/drop/{index}"): Rule(
        Access.CASE, "a file of a sealed drop"
    ),
    ("GET", "/keys"): Rule(Access.STAFF, "every account's public-key fingerprint"),
    ("GET", "/cases/{case_id}/items/{item_id}/sanitized"): Rule(Access.CASE, "a file's copy"),
    ("GET", "/api/v1/cases/{case_id}/items/{item_id}/metadata"): Rule(
        Access.CASE, "what a file reveals"
    ),
    ("GET", "/api/v1/cases/{case_id}/items/{item_id}/sanitized"): Rule(
        Access.CASE, "a file's sanitised copy"
    ),
    # Identity on request and recipients chosen by sources (web/identity.py; granted in
    # tests/functional/test_identity.py).
    ("GET", "/cases/{case_id}/identity"): Rule(Access.IDENTITY, "the source's identity"),
    ("POST", "/cases/{case_id}/identity/request"): Rule(Access.IDENTITY, "asks a custodian"),
    ("GET", "/identity"): Rule(Access.CUSTODIAN, "pending requests and their reasons"),
    ("POST", "/identity/{request_id}/approve"): Rule(Access.CUSTODIAN, "wraps the identity"),
    ("POST", "/identity/{request_id}/deny"): Rule(Access.CUSTODIAN, "denies a request"),
    ("GET", "/api/v1/cases/{case_id}/identity"): Rule(Access.IDENTITY, "the source's identity"),
    ("POST", "/api/v1/cases/{case_id}/identity/requests"): Rule(Access.IDENTITY, "asks"),
    ("GET", "/api/v1/identity/requests"): Rule(Access.CUSTODIAN, "pending requests, reasons"),
    ("POST", "/api/v1/identity/requests/{request_id}/approve"): Rule(
        Access.CUSTODIAN, "wraps the identity to the requester"
    ),
    ("POST", "/api/v1/identity/requests/{request_id}/deny"): Rule(
        Access.CUSTODIAN, "denies a request"
    ),
    ("POST", "/admin/channels/{channel_id}/settings/recipient-choice"): Rule(
        Access.ADMIN, "lets sources choose recipients; display names"
    ),
    # The questionnaire builder (web/questionnaire_builder.py).
    ("GET", "/admin/channels/{channel_id}/questionnaire"): Rule(
        Access.ADMIN, "the channel's questionnaire, to edit"
    ),
    ("POST", "/admin/channels/{channel_id}/questionnaire"): Rule(
        Access.ADMIN, "edits a draft; publishes a new version"
    ),
    ("POST", "/admin/channels/{channel_id}/questionnaire/import"): Rule(
        Access.ADMIN, "reads a JSON file into a draft"
    ),
}

ANONYMOUS, OTHER, ADMIN, MEMBER = "anonymous", "other", "admin", "member"
PRINCIPALS = (ANONYMOUS, OTHER, ADMIN, MEMBER)
ANALYST = "analyst"
ELSEWHERE_MEMBERS = "the current members of the other channel"
MESSAGE = "Authz marker: the minister signed the order on Tuesday."
FILE_NAME = "authz-evidence.txt"
FILE_BYTES = b"AUTHZ-FILE-BYTES " * 200
IMAGE_NAME = "authz-photo.jpg"
IMAGE_BYTES = photo()  # with a position, a camera and its serial number
DROP_NAME = "authz-drop.txt"  # sent as authz-drop.txt.age: a file sealed with age
DROP_BYTES = b"AUTHZ-DROP-BYTES " * 100
REPLY = "Authz reply marker"
WORK_LABEL = "Authz label"
# Bookkeeping that legitimately changes on any request (session idle times, rate limits).
VOLATILE_TABLES = frozenset({"sessions", "rate_buckets", "login_throttles", "alembic_version"})
CURRENT_SESSION = re.compile(
    r'name="session" value="([^"]+)">\s*<button class="link-button" type="submit">Log out'
)


# The table is complete.


def mounted_app(app: Any) -> Any:
    """Look through wrappers (middleware with ``.app``, a lazy app with ``.factory``) to the
    application that has routes, or to the static file server."""
    for _ in range(10):
        if getattr(app, "routes", None) or isinstance(app, StaticFiles):
            return app
        inner = getattr(app, "app", None)
        if inner is None and callable(getattr(app, "factory", None)):
            inner = app.factory()
        if inner is None:
            break
        app = inner
    raise AssertionError(f"cannot see the routes inside {app!r}: teach mounted_app about it")


def app_routes(runtime: Runtime) -> set[tuple[str, str]]:
    """Every (method, path) the staff application answers, mounts included."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI's include_router
            if included is not None:
                walk(included.routes, prefix + route.include_context.prefix)
                continue
            path = prefix + route.path
            if isinstance(route, Mount):
                inner = mounted_app(route.app)
                if isinstance(inner, StaticFiles):
                    found.add(("GET", path + "/{path}"))
                else:
                    walk(inner.routes, path)
            else:
                found.update((m, path) for m in route.methods if m != "HEAD")

    walk(create_staff_app(runtime).routes, "")
    return found


def test_the_table_covers_every_route(runtime: Runtime) -> None:
    routes = app_routes(runtime)
    assert len(routes) > 30  # the walk found the API under its mount, not only the pages
    missing = sorted(routes - TABLE.keys())
    stale = sorted(TABLE.keys() - routes)
    assert missing == [], f"routes without an authorisation rule in TABLE: {missing}"
    assert stale == [], f"TABLE names routes that no longer exist: {stale}"


# The world the probes run in.


@dataclass
class World:
    server: LiveServer
    runtime: Runtime
    accounts: dict[str, Account]
    web: dict[str, httpx.Client]
    api: dict[str, httpx.Client]
    tokens: dict[str, str]
    case_id: str
    message_id: str
    file_id: str
    image_id: str
    other_channel_id: str
    default_channel_id: str
    victim: Account
    label_id: str = ""  # a label on the case (case work probes remove it)
    drop_id: str = ""  # the sealed drop among the case's files
    reflected: MetaData = field(default_factory=MetaData)  # the schema, for snapshots

    def path(self, template: str, case_id: str | None = None) -> str:
        return template.format(
            case_id=case_id or self.case_id,
            item_id=self.file_id,
            image_id=self.image_id,
            drop_id=self.drop_id,
            user_id=self.victim.id,
            channel_id=self.other_channel_id,
            token="not-a-real-setup-token-" + "x" * 20,
            path="mailslot.css",
        )

    def snapshot(self) -> dict[str, Any]:
        """Every row of every non-volatile table, and the set of blob files."""
        state: dict[str, Any] = {}
        if not self.reflected.tables:
            # Reflected once: the probes change rows, never the schema (reflecting before
            # each snapshot took a fifth of this file's time).
            self.reflected.reflect(self.runtime.default.engine)
        with self.runtime.default.engine.connect() as conn:
            for table in self.reflected.sorted_tables:
                if table.name in VOLATILE_TABLES:
                    continue
                state[table.name] = sorted(map(repr, conn.execute(select(table)).all()))
        root = self.server.data_dir / "blobs"
        state["blob files"] = sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir()
        )
        return state

    def case_exists(self, case_id: str) -> bool:
        return self.api[MEMBER].get(f"/cases/{case_id}").status_code == 200


def sealed_drop(server: LiveServer) -> bytes:
    """DROP_BYTES sealed to the default channel's published drop key."""
    chain = drops.load_chain(httpx.get(f"{server.source_url}/keys.json", timeout=60).content)
    key = drops.PqRecipient.parse(chain[-1].channel("default").drop_recipient)
    return b"".join(drops.seal_stream([key], [DROP_BYTES]))


def send_case(server: LiveServer, message: str, channel: str) -> None:
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        new_source(client)
        files = [(FILE_NAME, FILE_BYTES, "text/plain"), (IMAGE_NAME, IMAGE_BYTES, "image/jpeg")]
        files.append((f"{DROP_NAME}.age", sealed_drop(server), "application/octet-stream"))
        sent = submit(client, message, files=files, channel=channel)
        assert sent.status_code == 303, sent.text


@pytest.fixture(scope="module")
def world(server: LiveServer) -> Iterator[World]:
    other_channel = server.add_channel("elsewhere", ())
    member = server.add_user("recipient", channels=("default",))
    other = server.add_user("recipient", channels=("elsewhere",))
    admin = server.add_user("admin")
    victim = server.add_user("recipient", channels=("elsewhere",))
    analyst = server.add_user("analyst")
    accounts = {MEMBER: member, OTHER: other, ADMIN: admin, ANALYST: analyst}
    runtime = server.runtime()
    with runtime.default.db() as db:
        default_channel = str(db.scalar(select(Channel.id).where(Channel.name == "default")))
    send_case(server, MESSAGE, default_channel)
    with ExitStack() as stack:
        web = {ANONYMOUS: stack.enter_context(httpx.Client(base_url=server.staff_url))}
        api = {ANONYMOUS: stack.enter_context(httpx.Client(base_url=f"{server.staff_url}/api/v1"))}
        for name, account in accounts.items():
            web[name] = stack.enter_context(closing(server.staff_client(account)))
            api[name] = stack.enter_context(server.api_client(account))
        tokens = {name: csrf(web[name].get("/account").text) for name in accounts}
        case = find_case(api[MEMBER], MESSAGE)
        kinds = {item["kind"]: item["id"] for item in case["items"]}
        files = {item["filename"]: item["id"] for item in case["items"] if item["kind"] == "file"}
        # Something for the case work probes to try to remove: a label and an assignee.
        label_added = api[MEMBER].post(f"/cases/{case['id']}/labels", json={"name": WORK_LABEL})
        api[MEMBER].post(f"/cases/{case['id']}/assignees", json={"user_id": member.id})
        stack.callback(runtime.close)
        yield World(
            server=server,
            runtime=runtime,
            accounts=accounts,
            web=web,
            api=api,
            tokens=tokens,
            case_id=case["id"],
            message_id=kinds["message"],
            file_id=files[FILE_NAME],
            image_id=files[IMAGE_NAME],
            other_channel_id=other_channel,
            default_channel_id=default_channel,
            victim=victim,
            label_id=label_added.json()["labels"][0]["id"],
            drop_id=files[f"{DROP_NAME}.age"],
        )


# What a refusal looks like.


def assert_refused(response: httpx.Response, principal: str, *, api: bool) -> None:
    status = response.status_code
    where = response.headers.get("location", "")
    if principal == ANONYMOUS and api:
        assert status == 401, (status, response.text)
    elif principal == ANONYMOUS and response.request.method == "GET":
        assert (status, where) == (303, "/login"), (status, where)
    elif principal == ANONYMOUS:
        # A form post with no session is refused before anything else: as forged (403), or,
        # when it carries a form token, as sent after the session ended (401).
        assert status in (401, 403) or (status, where) == (303, "/login"), (status, where)
    else:
        assert status in (403, 404) or (status, where) == (303, "/login"), (status, where)
    assert_no_case_content(response)


def assert_no_case_content(response: httpx.Response) -> None:
    assert MESSAGE.encode() not in response.content
    assert FILE_BYTES[:40] not in response.content
    assert FILE_NAME.encode() not in response.content
    assert IMAGE_NAME.encode() not in response.content
    assert IMAGE_BYTES[-200:] not in response.content
    assert DROP_BYTES[:40] not in response.content
    assert DROP_NAME.encode() not in response.content
    assert response.headers.get("content-type", "").split(";")[0] != "application/zip"


def route_ids(routes: Any) -> list[str]:
    return [f"{method} {path}" for method, path in routes]


Probe = Callable[[World, str, str | None], httpx.Response]


def web_probe(method: str, path: str, data: dict[str, Any] | None = None) -> Probe:
    def probe(world: World, principal: str, case_id: str | None) -> httpx.Response:
        client = world.web[principal]
        url = world.path(path, case_id)
        if method == "GET":
            return client.get(url)
        form = dict(data or {})
        if form.get("members") == ELSEWHERE_MEMBERS:  # keep the channel's members as they are
            form["members"] = [world.accounts[OTHER].username, world.victim.username]
        if principal in world.tokens:
            form["csrf"] = world.tokens[principal]
        return client.post(url, data=form)

    return probe


def api_probe(method: str, path: str, body: dict[str, Any] | None = None) -> Probe:
    def probe(world: World, principal: str, case_id: str | None) -> httpx.Response:
        url = world.path(path.removeprefix("/api/v1"), case_id)
        return world.api[principal].request(method, url, json=body)

    return probe


def refused_for(world: World, principals: tuple[str, ...], probe: Probe, *, api: bool) -> None:
    for principal in principals:
        before = world.snapshot()
        response = probe(world, principal, None)
        assert_refused(response, principal, api=api)
        assert world.snapshot() == before, f"a refused {principal} changed the database"


# Case routes: only the member may read or act.


def victim_case(world: World) -> str:
    """A fresh case for the destructive routes, so the shared one survives."""
    marker = world.server.unique("Victim case ")
    send_case(world.server, marker, world.default_channel_id)
    return str(find_case(world.api[MEMBER], marker)["id"])


def granted_case_page(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    assert MESSAGE in response.text
    assert FILE_NAME in response.text


def granted_reply(world: World, response: httpx.Response) -> None:
    assert response.status_code in (201, 303), response.text
    items = world.api[MEMBER].get(f"/cases/{world.case_id}").json()["items"]
    assert any(i["kind"] == "reply" and i["text"] == REPLY for i in items)


def granted_download(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.content == FILE_BYTES
    assert response.headers["content-disposition"].startswith("attachment;")


def granted_zip(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    assert FILE_BYTES in contents.values()
    assert MESSAGE.encode() in contents.values()


def granted_delete_form(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    pseudonym = world.api[MEMBER].get(f"/cases/{world.case_id}").json()["pseudonym"]
    assert pseudonym in response.text


def granted_case_json(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    texts = [item["text"] for item in response.json()["items"]]
    assert MESSAGE in texts


CASE_PROBES: dict[tuple[str, str], tuple[Probe, Callable[[World, httpx.Response], None]]] = {
    ("GET", "/cases/{case_id}"): (web_probe("GET", "/cases/{case_id}"), granted_case_page),
    ("POST", "/cases/{case_id}/replies"): (
        web_probe("POST", "/cases/{case_id}/replies", {"text": REPLY}),
        granted_reply,
    ),
    ("GET", "/cases/{case_id}/items/{item_id}/download"): (
        web_probe("GET", "/cases/{case_id}/items/{item_id}/download"),
        granted_download,
    ),
    ("GET", "/cases/{case_id}/download-all"): (
        web_probe("GET", "/cases/{case_id}/download-all"),
        granted_zip,
    ),
    ("GET", "/cases/{case_id}/delete"): (
        web_probe("GET", "/cases/{case_id}/delete"),
        granted_delete_form,
    ),
    ("GET", "/api/v1/cases/{case_id}"): (
        api_probe("GET", "/api/v1/cases/{case_id}"),
        granted_case_json,
    ),
    ("GET", "/api/v1/cases/{case_id}/items/{item_id}/content"): (
        api_probe("GET", "/api/v1/cases/{case_id}/items/{item_id}/content"),
        granted_download,
    ),
    ("POST", "/api/v1/cases/{case_id}/replies"): (
        api_probe("POST", "/api/v1/cases/{case_id}/replies", {"text": REPLY}),
        granted_reply,
    ),
}
DELETE_PROBES: dict[tuple[str, str], Probe] = {
    ("POST", "/cases/{case_id}/delete"): web_probe(
        "POST", "/cases/{case_id}/delete", {"confirm": "yes"}
    ),
    ("DELETE", "/api/v1/cases/{case_id}"): api_probe("DELETE", "/api/v1/cases/{case_id}"),
}


# Case work: the member acts for real; the others aim at real targets (the member's own
# assignment and key, the case's label) and OTHER tries to give itself the key.


def work_probe(method: str, path: str, body: dict[str, Any] | None = None) -> Probe:
    """Placeholders: ``{self}`` is the caller; ``{holder}`` the member; ``{second}`` the
    member for refused principals and, for the member, the victim (a recipient of another
    channel: revoking needs a second holder); ``{grantee}`` the caller itself (OTHER tries to
    give itself the key) or, for the member, the victim."""

    def probe(world: World, principal: str, case_id: str | None) -> httpx.Response:
        api = path.startswith("/api/")
        member, victim = world.accounts[MEMBER], world.victim
        me = world.accounts[principal].id if principal in world.accounts else member.id
        names = {
            "self": me,
            "holder": member.id,
            "second": victim.id if principal == MEMBER else member.id,
            "grantee": victim.id if principal == MEMBER else me,
            "label_id": world.label_id,
        }
        url = world.path(path.removeprefix("/api/v1").format_map(Keep(names)), case_id)
        data = {
            k: v.format_map(Keep(names)) if isinstance(v, str) else v
            for k, v in (body or {}).items()
        }
        if principal == MEMBER:
            prepare_member_probe(world, path)
        if api:
            return world.api[principal].request(method, url, json=data if body else None)
        if principal in world.tokens:
            data["csrf"] = world.tokens[principal]
        return world.web[principal].post(url, data=data)

    return probe


class Keep(dict[str, str]):
    """``format_map`` that leaves the placeholders World.path fills ({case_id}) alone."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def prepare_member_probe(world: World, path: str) -> None:
    """Put back what the member's own probe takes away, so that it acts on something."""
    api, case = world.api[MEMBER], f"/cases/{world.case_id}"
    if "/labels/" in path:
        assert api.post(f"{case}/labels", json={"name": WORK_LABEL}).status_code == 200
    elif "/assignees/" in path:
        member = world.accounts[MEMBER].id
        assert api.post(f"{case}/assignees", json={"user_id": member}).status_code == 200
    elif path.endswith("/access"):
        api.delete(f"{case}/access/{world.victim.id}")  # 204, or 404 if not held
    elif "/access/" in path:
        api.post(f"{case}/access", json={"user_id": world.victim.id})  # 200, or 409 if held


def work_state(world: World) -> dict[str, Any]:
    with world.runtime.default.db() as db:
        case = db.get(Case, world.case_id)
        assert case is not None
        labels = db.scalars(
            select(Label.name)
            .join(CaseLabel, CaseLabel.label_id == Label.id)
            .where(CaseLabel.case_id == case.id)
        )
        assigned = db.scalars(select(CaseAssignee.user_id).where(CaseAssignee.case_id == case.id))
        holders = db.scalars(select(CaseKeyWrap.user_id).where(CaseKeyWrap.case_id == case.id))
        notes = db.scalar(select(func.count()).where(Item.case_id == case.id, Item.kind == "note"))
        return {
            "status": case.status,
            "important": case.important,
            "labels": set(labels),
            "assigned": set(assigned),
            "holders": set(holders),
            "notes": notes,
        }


def worked(
    check: Callable[[World, dict[str, Any]], bool],
) -> Callable[[World, httpx.Response], None]:
    def granted(world: World, response: httpx.Response) -> None:
        assert response.status_code in (200, 201, 204, 303), response.text
        assert check(world, work_state(world)), work_state(world)
        assert_no_case_content(response)

    return granted


def granted_access_list(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    holders = {h["id"] for h in response.json()["holders"]}
    assert world.accounts[MEMBER].id in holders


def status_moved(world: World, state: dict[str, Any]) -> bool:
    return bool(state["status"] == "in_progress")


def flagged(world: World, state: dict[str, Any]) -> bool:
    return bool(state["important"])


def labelled(world: World, state: dict[str, Any]) -> bool:
    return "Authz other label" in state["labels"]


def unlabelled(world: World, state: dict[str, Any]) -> bool:
    return WORK_LABEL not in state["labels"]


def assigned(world: World, state: dict[str, Any]) -> bool:
    return world.accounts[MEMBER].id in state["assigned"]


def unassigned(world: World, state: dict[str, Any]) -> bool:
    return world.accounts[MEMBER].id not in state["assigned"]


def noted(world: World, state: dict[str, Any]) -> bool:
    return bool(state["notes"] >= 1)


def victim_holds(world: World, state: dict[str, Any]) -> bool:
    return world.victim.id in state["holders"]


def victim_dropped(world: World, state: dict[str, Any]) -> bool:
    return state["holders"] == {world.accounts[MEMBER].id}


WORK_PROBES: dict[tuple[str, str], tuple[Probe, Callable[[World, httpx.Response], None]]] = {}
for _web, _api, _body, _check in (
    ("POST status", "POST status", {"status": "in_progress"}, status_moved),
    ("POST important", "PUT important", {"important": "1"}, flagged),
    ("POST labels", "POST labels", {"name": "Authz other label"}, labelled),
    ("POST labels/{label_id}/remove", "DELETE labels/{label_id}", None, unlabelled),
    ("POST assignees", "POST assignees", {"user_id": "{self}"}, assigned),
    ("POST assignees/{holder}/remove", "DELETE assignees/{holder}", None, unassigned),
    ("POST notes", "POST notes", {"text": "Authz note"}, noted),
    ("POST access", "POST access", {"user_id": "{grantee}"}, victim_holds),
    ("POST access/{second}/revoke", "DELETE access/{second}", None, victim_dropped),
):
    for _template, _prefix in ((_web, "/cases/{case_id}/"), (_api, "/api/v1/cases/{case_id}/")):
        _method, _rest = _template.split(" ")
        _path = _prefix + _rest
        _json = dict(_body or {})
        if _prefix.startswith("/api/") and "important" in _json:
            _json["important"] = True
        # The route as the table names it: a person is a {user_id}.
        _route = re.sub(r"\{(holder|second)\}", "{user_id}", _path)
        WORK_PROBES[_method, _route] = (work_probe(_method, _path, _json or None), worked(_check))
WORK_PROBES["GET", "/api/v1/cases/{case_id}/access"] = (
    api_probe("GET", "/api/v1/cases/{case_id}/access"),
    granted_access_list,
)
CASE_PROBES.update(WORK_PROBES)


# Retention: keeping the case longer (each probe asks for a later date than the last).
KEEP_DAYS = itertools.count(400, 10)


def keep_probe(api: bool) -> Probe:
    def probe(world: World, principal: str, case_id: str | None) -> httpx.Response:
        until = datetime.date.today() + datetime.timedelta(days=next(KEEP_DAYS))
        body = {"until": until.isoformat(), "reason": "Authz retention"}
        if api:
            url = world.path("/cases/{case_id}/retention", case_id)
            return world.api[principal].post(url, json=body)
        if principal in world.tokens:
            body["csrf"] = world.tokens[principal]
        return world.web[principal].post(
            world.path("/cases/{case_id}/retention", case_id), data=body
        )

    return probe


def kept(world: World, response: httpx.Response) -> None:
    assert response.status_code in (200, 303), response.text
    with world.runtime.default.db() as db:
        case = db.get(Case, world.case_id)
        assert case is not None
        assert case.keep_until is not None
        assert case.keep_until > datetime.datetime.now(tz=datetime.UTC).timestamp() + 300 * 86400
    assert_no_case_content(response)


CASE_PROBES["POST", "/cases/{case_id}/retention"] = (keep_probe(api=False), kept)
CASE_PROBES["POST", "/api/v1/cases/{case_id}/retention"] = (keep_probe(api=True), kept)


# Documents: the report and the copy, of the photo (the text file is not a type Mailslot reads).


def granted_report_page(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    assert IMAGE_NAME in response.text
    assert "Location (GPS)" in response.text


def granted_copy(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.content.startswith(b"\xff\xd8")
    assert response.content != IMAGE_BYTES


def granted_report_json(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    (report,) = response.json()
    assert (report["file"], report["type"]) == (IMAGE_NAME, "jpeg")
    assert "gps" in {finding["kind"] for finding in report["findings"]}


for _route, _probe, _granted in (
    ("/cases/{case_id}/items/{item_id}/inspect", web_probe, granted_report_page),
    ("/cases/{case_id}/items/{item_id}/sanitized", web_probe, granted_copy),
    ("/api/v1/cases/{case_id}/items/{item_id}/metadata", api_probe, granted_report_json),
    ("/api/v1/cases/{case_id}/items/{item_id}/sanitized", api_probe, granted_copy),
):
    CASE_PROBES["GET", _route] = (_probe("GET", _route.replace("item_id", "image_id")), _granted)


# Sealed drops: what one holds, and its file (a plain age file: one file, named without .age).


def granted_drop_page(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    assert DROP_NAME in response.text


def granted_drop_json(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.json() == {
        "problem": None,
        "note": None,
        "files": [{"index": 0, "name": DROP_NAME, "size": len(DROP_BYTES)}],
    }


def granted_drop_file(world: World, response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.content == DROP_BYTES
    assert response.headers["content-disposition"].startswith("attachment;")


for _route, _probe, _granted, _path in (
    ("/cases/{case_id}/items/{item_id}/drop", web_probe, granted_drop_page, ""),
    ("/cases/{case_id}/items/{item_id}/drop/{index}", web_probe, granted_drop_file, "0"),
    ("/api/v1/cases/{case_id}/items/{item_id}/drop", api_probe, granted_drop_json, ""),
    ("/api/v1/cases/{case_id}/items/{item_id}/drop/{index}", api_probe, granted_drop_file, "0"),
):
    _concrete = _route.replace("item_id", "drop_id").replace("{index}", _path)
    CASE_PROBES["GET", _route] = (_probe("GET", _concrete), _granted)


def test_case_rules_have_probes() -> None:
    case_routes = {key for key, rule in TABLE.items() if rule.access == Access.CASE}
    assert case_routes == CASE_PROBES.keys() | DELETE_PROBES.keys()


@pytest.mark.parametrize(("method", "path"), list(CASE_PROBES), ids=route_ids(CASE_PROBES))
def test_case_route(world: World, method: str, path: str) -> None:
    probe, granted = CASE_PROBES[method, path]
    api = path.startswith("/api/")
    refused_for(world, (ANONYMOUS, OTHER, ADMIN), probe, api=api)
    granted(world, probe(world, MEMBER, None))


@pytest.mark.parametrize(("method", "path"), list(DELETE_PROBES), ids=route_ids(DELETE_PROBES))
def test_case_deletion(world: World, method: str, path: str) -> None:
    probe = DELETE_PROBES[method, path]
    api = path.startswith("/api/")
    case_id = victim_case(world)
    for principal in (ANONYMOUS, OTHER, ADMIN):
        before = world.snapshot()
        assert_refused(probe(world, principal, case_id), principal, api=api)
        assert world.snapshot() == before, principal
        assert world.case_exists(case_id)
    done = probe(world, MEMBER, case_id)
    assert done.status_code in (204, 303), done.text
    assert not world.case_exists(case_id)


def test_every_item_of_the_case_is_refused_to_others(world: World) -> None:
    """Not only the file: the message and the replies are items too."""
    items = world.api[MEMBER].get(f"/cases/{world.case_id}").json()["items"]
    if "reply" not in {i["kind"] for i in items}:  # when run on its own
        sent = world.api[MEMBER].post(f"/cases/{world.case_id}/replies", json={"text": REPLY})
        assert sent.status_code == 201
        items = world.api[MEMBER].get(f"/cases/{world.case_id}").json()["items"]
    assert {i["kind"] for i in items} >= {"message", "file", "reply"}
    for item in items:
        web_url = f"/cases/{world.case_id}/items/{item['id']}/download"
        api_url = f"/cases/{world.case_id}/items/{item['id']}/content"
        for principal in (ANONYMOUS, OTHER, ADMIN):
            assert_refused(world.web[principal].get(web_url), principal, api=False)
            assert_refused(world.api[principal].get(api_url), principal, api=True)
            for response in (world.web[principal].get(web_url), world.api[principal].get(api_url)):
                assert REPLY.encode() not in response.content
        assert world.web[MEMBER].get(web_url).status_code == 200
        content = world.api[MEMBER].get(api_url)
        assert content.status_code == 200
        if item["kind"] == "message":
            assert content.content == MESSAGE.encode()


def test_an_item_cannot_be_reached_through_another_case(world: World) -> None:
    """A recipient with a case of their own cannot fetch a foreign item under its URL."""
    marker = world.server.unique("Case of the other channel ")
    send_case(world.server, marker, world.other_channel_id)
    own = find_case(world.api[OTHER], marker)["id"]
    before = world.snapshot()
    for item_id in (world.file_id, world.message_id):
        web = world.web[OTHER].get(f"/cases/{own}/items/{item_id}/download")
        api = world.api[OTHER].get(f"/cases/{own}/items/{item_id}/content")
        for response in (web, api):
            assert response.status_code == 404, response.text
            assert_no_case_content(response)
    replied = world.api[OTHER].post(f"/cases/{world.case_id}/replies", json={"text": REPLY})
    assert replied.status_code == 404
    assert world.snapshot() == before
    # And the member cannot reach the other channel's case either.
    assert world.api[MEMBER].get(f"/cases/{own}").status_code == 404
    assert world.web[MEMBER].get(f"/cases/{own}").status_code == 404


# Listings: everyone signed in sees only their own cases.


def test_inbox_lists_only_the_callers_cases(world: World) -> None:
    link = f'href="/cases/{world.case_id}"'
    assert_refused(world.web[ANONYMOUS].get("/"), ANONYMOUS, api=False)
    other = world.web[OTHER].get("/")
    assert other.status_code == 200
    assert link not in other.text
    admin = world.web[ADMIN].get("/")
    assert (admin.status_code, admin.headers["location"]) == (303, "/admin")
    member = world.web[MEMBER].get("/")
    assert member.status_code == 200
    assert link in member.text


def test_api_lists_only_the_callers_cases(world: World) -> None:
    assert_refused(world.api[ANONYMOUS].get("/cases"), ANONYMOUS, api=True)
    for principal in (OTHER, ADMIN):
        listing = world.api[principal].get("/cases", params={"limit": 200})
        assert listing.status_code == 200
        assert world.case_id not in [c["id"] for c in listing.json()["cases"]]
        assert_no_case_content(listing)
    mine = world.api[MEMBER].get("/cases", params={"limit": 200}).json()["cases"]
    assert world.case_id in [c["id"] for c in mine]


# Admin routes: only administrators.


# A channel's questionnaire, as an administrator sets it (web/api_questionnaires.py).
QUESTIONNAIRE_PATH = "/api/v1/channels/{channel_id}/questionnaire"
QUESTIONNAIRE = {
    "version": 1,
    "title": {"en": "Authz report"},
    "steps": [
        {
            "title": {"en": "What happened"},
            "fields": [{"id": "detail", "type": "long_text", "label": {"en": "Describe it"}}],
        }
    ],
}


ADMIN_PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/admin"): web_probe("GET", "/admin"),
    ("GET", "/admin/invite"): web_probe("GET", "/admin/invite"),
    ("POST", "/admin/invite"): web_probe(
        "POST", "/admin/invite", {"role": "admin", "username": "intruder"}
    ),
    ("POST", "/admin/users/{user_id}/disable"): web_probe(
        "POST", "/admin/users/{user_id}/disable", {"disabled": "1"}
    ),
    ("GET", "/admin/channels/new"): web_probe("GET", "/admin/channels/new"),
    ("POST", "/admin/channels/new"): web_probe(
        "POST", "/admin/channels/new", {"name": "rogue channel", "description": "taken"}
    ),
    ("GET", "/admin/channels/{channel_id}"): web_probe("GET", "/admin/channels/{channel_id}"),
    ("POST", "/admin/channels/{channel_id}"): web_probe(
        "POST",
        "/admin/channels/{channel_id}",
        {"name": "elsewhere", "description": "renamed", "members": ELSEWHERE_MEMBERS},
    ),
    ("GET", "/admin/settings"): web_probe("GET", "/admin/settings"),
    ("POST", "/admin/settings"): web_probe(
        "POST", "/admin/settings", {"name": "Taken over", "guidance": "Hijacked"}
    ),
    ("GET", "/admin/audit"): web_probe("GET", "/admin/audit"),
    ("GET", "/api/v1/audit"): api_probe("GET", "/api/v1/audit"),
    ("GET", QUESTIONNAIRE_PATH): api_probe("GET", QUESTIONNAIRE_PATH),
    ("PUT", QUESTIONNAIRE_PATH): api_probe("PUT", QUESTIONNAIRE_PATH, QUESTIONNAIRE),
    ("DELETE", QUESTIONNAIRE_PATH): api_probe("DELETE", QUESTIONNAIRE_PATH),
}


# A channel's case settings: the probes act on the other channel and its custom status.
AUTHZ_STATUS = "Authz status"


@pytest.fixture(scope="module", autouse=True)
def channel_status(world: World) -> str:
    """A custom status on the other channel, there before any probe aims at it."""
    with world.runtime.default.db() as db:
        status = CustomStatus(
            channel_id=world.other_channel_id, phase="in_progress", name=AUTHZ_STATUS, position=1
        )
        db.add(status)
        db.flush()
        return status.id


def status_probe(world: World, principal: str, case_id: str | None) -> httpx.Response:
    with world.runtime.default.db() as db:
        status_id = db.scalar(
            select(CustomStatus.id).where(CustomStatus.channel_id == world.other_channel_id)
        )
    url = world.path("/admin/channels/{channel_id}/settings/statuses/") + str(status_id)
    data = {"action": "rename", "name": "Authz renamed"}
    if principal in world.tokens:
        data["csrf"] = world.tokens[principal]
    return world.web[principal].post(url, data=data)


def import_probe(world: World, principal: str, case_id: str | None) -> httpx.Response:
    """A questionnaire file read into the builder's draft (multipart, as a browser posts it)."""
    url = world.path("/admin/channels/{channel_id}/questionnaire/import")
    data = {"csrf": world.tokens[principal]} if principal in world.tokens else {}
    files = {"file": ("q.json", json.dumps(QUESTIONNAIRE).encode(), "application/json")}
    return world.web[principal].post(url, data=data, files=files)


ADMIN_PROBES.update(
    {
        ("GET", "/admin/channels/{channel_id}/settings"): web_probe(
            "GET", "/admin/channels/{channel_id}/settings"
        ),
        ("POST", "/admin/channels/{channel_id}/settings"): web_probe(
            "POST",
            "/admin/channels/{channel_id}/settings",
            {
                "acknowledge_days": "1",
                "feedback_days": "1",
                "retention_days": "1",
                "closed_retention_days": "0",
                "auto_reply_en": "Authz auto reply",
            },
        ),
        ("POST", "/admin/channels/{channel_id}/settings/statuses"): web_probe(
            "POST",
            "/admin/channels/{channel_id}/settings/statuses",
            {"phase": "new", "name": "Authz added"},
        ),
        ("POST", "/admin/channels/{channel_id}/settings/statuses/{status_id}"): status_probe,
        ("POST", "/admin/channels/{channel_id}/settings/recipient-choice"): web_probe(
            "POST",
            "/admin/channels/{channel_id}/settings/recipient-choice",
            {"sources_choose": "1"},
        ),
        ("GET", "/admin/channels/{channel_id}/questionnaire"): web_probe(
            "GET", "/admin/channels/{channel_id}/questionnaire"
        ),
        ("POST", "/admin/channels/{channel_id}/questionnaire"): web_probe(
            "POST",
            "/admin/channels/{channel_id}/questionnaire",
            {"action": "publish", "draft": json.dumps(QUESTIONNAIRE)},
        ),
        ("POST", "/admin/channels/{channel_id}/questionnaire/import"): import_probe,
    }
)


def test_admin_rules_have_probes() -> None:
    admin_routes = {key for key, rule in TABLE.items() if rule.access == Access.ADMIN}
    assert admin_routes == ADMIN_PROBES.keys()


@pytest.mark.parametrize(("method", "path"), list(ADMIN_PROBES), ids=route_ids(ADMIN_PROBES))
def test_admin_route(world: World, method: str, path: str) -> None:
    probe = ADMIN_PROBES[method, path]
    api = path.startswith("/api/")
    if path == QUESTIONNAIRE_PATH:  # one to read or remove, there before the refusals
        put = ADMIN_PROBES["PUT", QUESTIONNAIRE_PATH](world, ADMIN, None)
        assert put.status_code == 200, put.text
    refused_for(world, (ANONYMOUS, OTHER, MEMBER), probe, api=api)
    response = probe(world, ADMIN, None)
    if path == QUESTIONNAIRE_PATH:
        assert response.status_code == (204 if method == "DELETE" else 200), response.text
        if method != "DELETE":
            assert "Authz report" in response.text
    elif api:
        assert response.status_code == 200, response.text
        assert response.json()["total"] > 0
    elif method == "GET":
        assert response.status_code == 200, response.text
        assert "Administration" in response.text or "csrf" in response.text
    elif path == "/admin/invite":
        assert response.status_code == 200
        assert "/setup/" in response.text
    elif path.endswith("/questionnaire/import"):  # the draft, shown; nothing stored
        assert response.status_code == 200, response.text
        assert "Authz report" in response.text
    else:
        assert response.status_code == 303, response.text
        assert response.headers["location"] in (
            "/admin?saved=1",
            world.path("/admin/channels/{channel_id}/settings?saved=1"),
            world.path("/admin/channels/{channel_id}/questionnaire?published=1"),
        )
    assert_no_case_content(response)


# Public routes: anyone, by design; a wrong credential changes nothing.


def test_public_pages_are_public(world: World) -> None:
    for principal in PRINCIPALS:
        for path in ("/login", "/recover", "/static/mailslot.css"):
            response = world.web[principal].get(path)
            assert response.status_code == 200, (principal, path)
            assert_no_case_content(response)
        described = world.api[principal].get("/openapi.json")
        assert described.status_code == 200
        assert "/cases/{case_id}" in described.json()["paths"]


def test_public_forms_refuse_wrong_credentials_and_change_nothing(world: World) -> None:
    member = world.accounts[MEMBER]
    wrong = {"username": member.username, "password": "wrong password", "totp": "000000"}
    fake_setup = world.path("/setup/{token}")
    with httpx.Client(base_url=world.server.staff_url, timeout=60) as stranger:
        before = world.snapshot()
        login = stranger.post("/login", data=wrong)
        assert login.status_code == 401
        assert not stranger.cookies
        recover = stranger.post(
            "/recover",
            data={
                "username": member.username,
                "recovery_key": "AAAA-BBBB",
                "totp": "000000",
                "password": "a brand new passphrase",
                "password_again": "a brand new passphrase",
            },
        )
        assert recover.status_code in (400, 401), recover.text
        assert stranger.get(fake_setup).status_code == 404
        enrol = stranger.post(
            fake_setup,
            data={
                "username": "intruder",
                "password": "a long passphrase",
                "password_again": "a long passphrase",
                "totp": "000000",
            },
        )
        assert enrol.status_code == 404
        token = stranger.post(f"{world.server.staff_url}/api/v1/auth/token", json=wrong)
        assert token.status_code == 401
        after = world.snapshot()
        # The audit trail is meant to change: each failed login of an existing account is
        # recorded (the web form and the API token; recovery only counts against the throttle).
        new = set(after.pop("audit_events")) - set(before.pop("audit_events"))
        assert len(new) == 2, new
        assert all("'auth.login_failed'" in row and f"'{member.username}'" in row for row in new)
        after.pop("audit_head")
        before.pop("audit_head")
        assert after == before


def test_public_rules_have_checks() -> None:
    checked = {
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/recover"),
        ("POST", "/recover"),
        ("GET", "/setup/{token}"),
        ("POST", "/setup/{token}"),
        ("GET", "/static/{path}"),
        ("POST", "/login/webauthn/begin"),
        ("POST", "/login/webauthn/finish"),
        ("GET", "/api/v1/openapi.json"),
        ("POST", "/api/v1/auth/token"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    }
    assert {key for key, rule in TABLE.items() if rule.access == Access.PUBLIC} == checked


def test_health_pages_say_nothing_but_status(world: World) -> None:
    for principal in PRINCIPALS:
        for path in ("/healthz", "/readyz"):
            response = world.web[principal].get(path)
            assert response.status_code == 200, (principal, path)
            body = response.json()
            assert body["status"] == "ok"
            assert set(body) <= {"status", "checks"}
            assert MESSAGE not in response.text
    listings = {("GET", "/"), ("GET", "/api/v1/cases")}
    assert {key for key, rule in TABLE.items() if rule.access == Access.LISTING} == listings


def test_recipient_lists_are_for_recipients_only(world: World) -> None:
    for path in ("/labels", "/recipients"):
        assert_refused(world.api[ANONYMOUS].get(path), ANONYMOUS, api=True)
        assert world.api[ADMIN].get(path).status_code == 403
        for principal in (OTHER, MEMBER):
            listed = world.api[principal].get(path)
            assert listed.status_code == 200
            assert_no_case_content(listed)
    names = {r["username"] for r in world.api[OTHER].get("/recipients").json()["recipients"]}
    assert world.accounts[ADMIN].username not in names
    assert world.accounts[MEMBER].username in names
    checked = {("GET", "/api/v1/labels"), ("GET", "/api/v1/recipients")}
    assert {key for key, rule in TABLE.items() if rule.access == Access.RECIPIENT} == checked


def test_key_fingerprints_are_for_signed_in_staff_and_hold_no_case_content(world: World) -> None:
    assert_refused(world.web[ANONYMOUS].get("/keys"), ANONYMOUS, api=False)
    for principal in (MEMBER, OTHER, ADMIN, ANALYST):
        page = world.web[principal].get("/keys")
        assert page.status_code == 200, principal
        assert world.accounts[MEMBER].username in page.text
        assert_no_case_content(page)
    checked = {("GET", "/keys")}
    assert {key for key, rule in TABLE.items() if rule.access == Access.STAFF} == checked


def test_a_notice_address_is_set_only_on_ones_own_account(world: World) -> None:
    def emails() -> dict[str, str | None]:
        with world.runtime.default.db() as db:
            return dict(db.execute(select(User.id, User.email)).all())

    before = emails()
    anonymous = world.web[ANONYMOUS].post("/account/email", data={"email": "x@evil.example"})
    assert_refused(anonymous, ANONYMOUS, api=False)
    forged = world.web[MEMBER].post("/account/email", data={"email": "x@evil.example"})
    assert forged.status_code == 403
    assert emails() == before
    for principal in (OTHER, ADMIN, MEMBER):
        token = world.tokens[principal]
        address = f"{principal}@newsroom.example"
        done = world.web[principal].post("/account/email", data={"csrf": token, "email": address})
        assert done.status_code == 303
        expected = dict(before, **{world.accounts[principal].id: address})
        assert emails() == expected
        before = expected


# The analyst: statistics, and nothing else.


def analyst_probes() -> dict[tuple[str, str], Probe]:
    """A probe for every route an analyst must not use: each case route (deletions on a
    fresh case), each admin route, each listing and recipient-only route."""
    probes: dict[tuple[str, str], Probe] = {key: probe for key, (probe, _) in CASE_PROBES.items()}
    probes.update(ADMIN_PROBES)
    probes.update(IDENTITY_PROBES)
    for key, rule in TABLE.items():
        if rule.access in (Access.LISTING, Access.RECIPIENT) and key[0] == "GET":
            method, path = key
            make = api_probe if path.startswith("/api/") else web_probe
            probes[key] = make(method, path)
    return probes


def test_analysts_reach_nothing_but_statistics(world: World) -> None:
    probes = analyst_probes()
    forbidden = {
        key
        for key, rule in TABLE.items()
        if rule.access not in (Access.PUBLIC, Access.SELF, Access.STATS, Access.STAFF)
    }
    assert forbidden == probes.keys() | DELETE_PROBES.keys()
    for (method, path), probe in probes.items():
        before = world.snapshot()
        response = probe(world, ANALYST, None)
        if (method, path) == ("GET", "/"):
            # The inbox sends an analyst to the statistics: there is no inbox for them.
            assert (response.status_code, response.headers["location"]) == (303, "/stats")
        else:
            assert response.status_code in (403, 404), (method, path, response.status_code)
        assert_no_case_content(response)
        assert world.snapshot() == before, (method, path)
    for (method, path), probe in DELETE_PROBES.items():
        case_id = victim_case(world)
        before = world.snapshot()
        response = probe(world, ANALYST, case_id)
        assert response.status_code in (403, 404), (method, path)
        assert world.snapshot() == before, (method, path)
        assert world.case_exists(case_id)


STATS_PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/stats"): web_probe("GET", "/stats"),
    ("GET", "/stats.csv"): web_probe("GET", "/stats.csv"),
    ("GET", "/api/v1/stats"): api_probe("GET", "/api/v1/stats"),
}


def test_stats_rules_have_probes() -> None:
    assert {key for key, rule in TABLE.items() if rule.access == Access.STATS} == (
        STATS_PROBES.keys()
    )


@pytest.mark.parametrize(("method", "path"), list(STATS_PROBES), ids=route_ids(STATS_PROBES))
def test_stats_route(world: World, method: str, path: str) -> None:
    """Administrators and analysts see aggregates; recipients are refused (they work cases,
    and the figures of other channels are not theirs)."""
    probe = STATS_PROBES[method, path]
    api = path.startswith("/api/")
    refused_for(world, (ANONYMOUS,), probe, api=api)
    for principal in (OTHER, MEMBER):
        before = world.snapshot()
        response = probe(world, principal, None)
        assert response.status_code == 403, (principal, response.status_code)
        assert world.snapshot() == before
    for principal in (ADMIN, ANALYST):
        response = probe(world, principal, None)
        assert response.status_code == 200, (principal, response.text)
        assert_no_case_content(response)


# Self routes: a user acts only on their own account. These run last: they end sessions.


# Identity on request, before the tests below end sessions and tokens. In this world no
# source gave an identity and nobody is a custodian, so every principal is refused;
# tests/functional/test_identity.py grants them.
NO_REQUEST = "/identity/" + "0" * 32
IDENTITY_PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/cases/{case_id}/identity"): web_probe("GET", "/cases/{case_id}/identity"),
    ("POST", "/cases/{case_id}/identity/request"): web_probe(
        "POST", "/cases/{case_id}/identity/request", {"reason": "Authz reason"}
    ),
    ("GET", "/identity"): web_probe("GET", "/identity"),
    ("POST", "/identity/{request_id}/approve"): web_probe("POST", NO_REQUEST + "/approve"),
    ("POST", "/identity/{request_id}/deny"): web_probe("POST", NO_REQUEST + "/deny"),
    ("GET", "/api/v1/cases/{case_id}/identity"): api_probe("GET", "/cases/{case_id}/identity"),
    ("POST", "/api/v1/cases/{case_id}/identity/requests"): api_probe(
        "POST", "/cases/{case_id}/identity/requests", {"reason": "Authz reason"}
    ),
    ("GET", "/api/v1/identity/requests"): api_probe("GET", "/identity/requests"),
    ("POST", "/api/v1/identity/requests/{request_id}/approve"): api_probe(
        "POST", "/identity/requests/" + "0" * 32 + "/approve"
    ),
    ("POST", "/api/v1/identity/requests/{request_id}/deny"): api_probe(
        "POST", "/identity/requests/" + "0" * 32 + "/deny"
    ),
}


def test_identity_rules_have_probes() -> None:
    kinds = (Access.IDENTITY, Access.CUSTODIAN)
    assert {key for key, rule in TABLE.items() if rule.access in kinds} == IDENTITY_PROBES.keys()


@pytest.mark.parametrize(("method", "path"), list(IDENTITY_PROBES), ids=route_ids(IDENTITY_PROBES))
def test_identity_routes_refuse_all_without_an_identity_or_custodian_role(
    world: World, method: str, path: str
) -> None:
    probe = IDENTITY_PROBES[method, path]
    refused_for(world, (ANONYMOUS, OTHER, ADMIN, MEMBER), probe, api=path.startswith("/api/"))


def test_account_page_shows_only_ones_own_account(world: World) -> None:
    assert_refused(world.web[ANONYMOUS].get("/account"), ANONYMOUS, api=False)
    for principal, account in world.accounts.items():
        page = world.web[principal].get("/account")
        assert page.status_code == 200
        assert f'class="whoami" href="/account">{account.username}<' in page.text
        others = [a.username for p, a in world.accounts.items() if p != principal]
        assert not any(name in page.text for name in others)


def test_password_change_needs_a_session_and_the_current_password(world: World) -> None:
    before = world.snapshot()
    anonymous = world.web[ANONYMOUS].post(
        "/account/password",
        data={"current": "x", "password": "new passphrase 1234", "password_again": "x"},
    )
    assert_refused(anonymous, ANONYMOUS, api=False)
    # A signed-in user naming someone else gets nowhere: the form acts on the caller only,
    # and a wrong current password changes nothing at all.
    member = world.accounts[MEMBER]
    attempt = world.web[OTHER].post(
        "/account/password",
        data={
            "csrf": world.tokens[OTHER],
            "username": member.username,
            "user_id": member.id,
            "current": member.password,
            "password": "an attacker's new passphrase",
            "password_again": "an attacker's new passphrase",
        },
    )
    assert attempt.status_code in (400, 401, 403), attempt.text
    after = world.snapshot()
    # Nothing changed but the trail: the wrong current password counts as a failed login
    # of the caller (issue 18), like one at the login form.
    audit = ("audit_events", "audit_head")
    assert {k: v for k, v in after.items() if k not in audit} == {
        k: v for k, v in before.items() if k not in audit
    }
    with world.runtime.default.db() as db:
        newest = db.execute(
            select(AuditEvent.action, AuditEvent.actor).order_by(AuditEvent.seq.desc()).limit(1)
        ).one()
    assert tuple(newest) == ("auth.login_failed", world.accounts[OTHER].username)
    assert len(after["audit_events"]) == len(before["audit_events"]) + 1


def test_security_key_pages_are_ones_own(world: World) -> None:
    assert_refused(world.web[ANONYMOUS].get("/account/keys"), ANONYMOUS, api=False)
    for path, data in (
        ("/account/keys", {"name": "rogue key", "credential": "{}"}),
        ("/account/keys/remove", {"key": "0" * 32, "current": "x"}),
    ):
        before = world.snapshot()
        assert_refused(world.web[ANONYMOUS].post(path, data=data), ANONYMOUS, api=False)
        assert world.snapshot() == before
    member = world.accounts[MEMBER]
    for principal, account in world.accounts.items():
        page = world.web[principal].get("/account/keys")
        assert page.status_code == 200
        assert f'class="whoami" href="/account">{account.username}<' in page.text
        token = csrf(page.text)
        before = world.snapshot()
        # A forged key, and a removal naming another user's password: nothing changes.
        added = world.web[principal].post(
            "/account/keys", data={"csrf": token, "name": "rogue key", "credential": "{}"}
        )
        assert added.status_code in (400, 401, 403), added.text
        removed = world.web[principal].post(
            "/account/keys/remove",
            data={"csrf": token, "key": "0" * 32, "current": member.password},
        )
        assert removed.status_code in (400, 401, 403, 404), removed.text
        assert world.snapshot() == before, principal


def test_a_half_finished_key_login_is_no_session(world: World) -> None:
    """The password step of a security-key login gives a cookie that opens nothing."""
    member = world.accounts[MEMBER]
    with httpx.Client(base_url=world.server.staff_url, timeout=60) as stranger:
        before = world.snapshot()
        finish = stranger.post("/login/webauthn/finish", data={"credential": "{}"})
        assert finish.status_code in (400, 401, 403)
        begun = stranger.post(
            "/login/webauthn/begin",
            data={"username": member.username, "password": member.password},
        )
        assert begun.status_code == 200, begun.text
        assert_no_case_content(begun)
        for path in ("/", "/account", f"/cases/{world.case_id}", "/admin"):
            response = stranger.get(path)
            assert response.status_code in (303, 404), (path, response.status_code)
            assert_no_case_content(response)
        api = stranger.get(
            f"/api/v1/cases/{world.case_id}",
            headers={"Authorization": f"Bearer {stranger.cookies.get('mailslot_staff', '')}"},
        )
        assert api.status_code == 401
        finish = stranger.post("/login/webauthn/finish", data={"credential": "{}"})
        assert finish.status_code in (400, 401, 403)
        assert stranger.get("/account").status_code == 303
        assert world.snapshot() == before


def test_no_one_can_end_someone_elses_session(world: World) -> None:
    member_page = world.web[MEMBER].get("/account").text
    current = CURRENT_SESSION.search(member_page)
    assert current, member_page
    for principal in (ANONYMOUS, OTHER, ADMIN):
        before = world.snapshot()
        form = {"session": current[1]}
        if principal in world.tokens:
            form["csrf"] = world.tokens[principal]
        response = world.web[principal].post("/account/sessions/end", data=form)
        if principal == ANONYMOUS:
            assert_refused(response, principal, api=False)
        assert world.snapshot() == before
        # Whatever the answer, the member's session is alive.
        assert world.web[MEMBER].get("/account").status_code == 200, principal
    # "End all other sessions" ends the caller's other sessions, and nobody else's.
    spare = world.server.api_token(world.accounts[OTHER])
    with httpx.Client(
        base_url=f"{world.server.staff_url}/api/v1", headers={"Authorization": f"Bearer {spare}"}
    ) as spare_api:
        assert spare_api.get("/cases").status_code == 200
        ended = world.web[OTHER].post(
            "/account/sessions/end", data={"csrf": world.tokens[OTHER], "session": "others"}
        )
        assert (ended.status_code, ended.headers["location"]) == (303, "/account?ended=1")
        assert spare_api.get("/cases").status_code == 401
    assert world.web[OTHER].get("/account").status_code == 200
    for principal in (ADMIN, MEMBER):
        assert world.web[principal].get("/account").status_code == 200
        assert world.api[principal].get("/cases").status_code == 200


def test_revoking_a_token_revokes_only_ones_own(world: World) -> None:
    assert_refused(world.api[ANONYMOUS].delete("/auth/token"), ANONYMOUS, api=True)
    assert world.api[ADMIN].delete("/auth/token").status_code == 204
    assert world.api[ADMIN].get("/cases").status_code == 401
    assert world.api[MEMBER].get("/cases").status_code == 200
    assert world.web[ADMIN].get("/admin").status_code == 200  # a token is not the browser session


def test_logging_out_ends_only_ones_own_session(world: World) -> None:
    anonymous = world.web[ANONYMOUS].post("/logout")
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/login?bye=1")
    order = [OTHER, ADMIN, MEMBER]
    for position, leaving in enumerate(order):
        out = world.web[leaving].post("/logout")
        assert (out.status_code, out.headers["location"]) == (303, "/login?bye=1")
        assert world.web[leaving].get("/account").status_code == 303
        for principal in order[position + 1 :]:
            assert world.web[principal].get("/account").status_code == 200, (leaving, principal)
    assert world.api[MEMBER].get("/cases").status_code == 200  # an API token outlives a logout


def test_self_rules_have_checks() -> None:
    checked = {
        ("POST", "/logout"),
        ("GET", "/account"),
        ("POST", "/account/password"),
        ("POST", "/account/sessions/end"),
        ("POST", "/account/email"),
        ("GET", "/account/keys"),
        ("POST", "/account/keys"),
        ("POST", "/account/keys/remove"),
        ("DELETE", "/api/v1/auth/token"),
    }
    assert {key for key, rule in TABLE.items() if rule.access == Access.SELF} == checked


def test_every_rule_says_why() -> None:
    assert all(rule.why for rule in TABLE.values())
