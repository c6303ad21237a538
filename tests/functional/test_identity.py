"""Identity on request and recipients chosen by sources, over HTTP with forms only (no
JavaScript): an admin lets sources choose; a source leaves one recipient out and gives their
identity; a recipient asks to see it, a custodian approves, the recipient reads it; another
is denied. Checked against the database the live server writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from mailslot.audit.models import AuditEvent
from mailslot.cases.models import Case, CaseKeyWrap
from mailslot.channels.models import Channel
from mailslot.identity.models import Identity, IdentityKeyWrap, IdentityRequest
from mailslot.runtime import Runtime
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, new_source

IDENTITY = "Identity marker: Jana Novak, accounts payable, Signal +420 600 000 000"
MESSAGE = "Choice marker: the invoices were split to stay under the threshold."
REASON = "Reason marker: to warn her before the audit reaches her unit."
REQUEST_ID = re.compile(r"/identity/([0-9a-f]{32})/approve")


@dataclass
class Desk:
    server: LiveServer
    runtime: Runtime
    alice: Account  # chosen by the source
    bob: Account  # left out by the source
    carol: Account  # another recipient of the channel
    cora: Account  # the custodian
    web: dict[str, httpx.Client]
    case_id: str = ""

    def post(self, who: str, path: str, data: dict[str, str] | None = None) -> httpx.Response:
        client = self.web[who]
        token = csrf(client.get("/account").text)
        return client.post(path, data={"csrf": token, **(data or {})})


@pytest.fixture(scope="module")
def desk(server: LiveServer) -> Iterator[Desk]:
    alice, bob, carol = (server.add_user("recipient") for _ in range(3))
    cora = server.add_user("custodian")
    admin = server.add_user("admin")
    runtime = server.runtime()
    with ExitStack() as stack:
        stack.callback(runtime.close)
        web = {
            name: stack.enter_context(closing(server.staff_client(account)))
            for name, account in (
                ("alice", alice),
                ("bob", bob),
                ("carol", carol),
                ("cora", cora),
                ("admin", admin),
            )
        }
        yield Desk(server, runtime, alice, bob, carol, cora, web)


def test_a_source_chooses_recipients_and_gives_an_identity(desk: Desk) -> None:
    with desk.runtime.default.db() as db:
        channel_id = db.scalar(select(Channel.id).where(Channel.name == "default"))
    settings = f"/admin/channels/{channel_id}/settings"
    page = desk.web["admin"].get(settings)
    assert "Identity on request" in page.text
    assert "has no custodian" not in page.text  # there is one
    saved = desk.post(
        "admin",
        settings + "/recipient-choice",
        {"sources_choose": "1", f"display_name_{desk.bob.id}": "Bob (legal desk)"},
    )
    assert saved.status_code == 303, saved.text

    with httpx.Client(base_url=desk.server.source_url, timeout=60) as source:
        new_source(source)
        form = source.get("/submit")
        assert "Bob (legal desk)" in form.text
        assert "Give your identity" in form.text
        assert "custodian" in form.text  # told who can see it, before giving it
        data = {
            "csrf": csrf(form.text),
            "message": MESSAGE,
            "choosing": "1",
            "recipient": desk.alice.id,
            "identity": IDENTITY,
        }
        sent = source.post("/submit", data=data, files=[("files", ("", b"", "text/plain"))])
        assert sent.status_code == 303, sent.text

    with desk.runtime.default.db() as db:
        case = db.scalar(select(Case).where(Case.recipients_chosen.is_(True)))
        assert case is not None
        desk.case_id = case.id
        held = set(db.scalars(select(CaseKeyWrap.user_id).where(CaseKeyWrap.case_id == case.id)))
        assert held == {desk.alice.id}
        identity = db.scalar(select(Identity).where(Identity.case_id == case.id))
        assert identity is not None
        custodians = db.scalars(
            select(IdentityKeyWrap.user_id).where(IdentityKeyWrap.identity_id == identity.id)
        )
        assert list(custodians) == [desk.cora.id]

    # Left out: the case is not there for Bob, and the chosen one's page says who chose.
    assert desk.web["bob"].get(f"/cases/{desk.case_id}").status_code == 404
    page = desk.web["alice"].get(f"/cases/{desk.case_id}")
    assert MESSAGE in page.text
    assert IDENTITY not in page.text
    assert "The source gave their identity" in page.text
    assert "The source chose who receives this case" in page.text


def test_a_custodian_approves_and_the_recipient_reads(desk: Desk) -> None:
    case = f"/cases/{desk.case_id}"
    assert desk.web["alice"].get(case + "/identity").status_code == 403
    empty = desk.post("alice", case + "/identity/request", {"reason": "  "})
    assert empty.status_code == 400
    asked = desk.post("alice", case + "/identity/request", {"reason": REASON})
    assert asked.status_code == 303, asked.text
    assert "waiting for a custodian" in desk.web["alice"].get(case).text

    waiting = desk.web["cora"].get("/identity")
    assert waiting.status_code == 200
    assert REASON in waiting.text
    assert MESSAGE not in waiting.text  # the custodian never sees the case
    request_id = REQUEST_ID.search(waiting.text)
    assert request_id is not None
    # A recipient cannot decide, nor open the custodian's page.
    assert desk.web["alice"].get("/identity").status_code == 403
    refused = desk.post("alice", f"/identity/{request_id[1]}/approve")
    assert refused.status_code == 403
    approved = desk.post("cora", f"/identity/{request_id[1]}/approve")
    assert approved.status_code == 303, approved.text

    shown = desk.web["alice"].get(case + "/identity")
    assert shown.status_code == 200
    assert IDENTITY in shown.text
    with desk.runtime.default.db() as db:
        events = list(
            db.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.case_id == desk.case_id, AuditEvent.action.like("identity.%"))
                .order_by(AuditEvent.seq)
            )
        )
        reasons = db.scalars(select(IdentityRequest.reason))
        assert all(REASON.encode() not in reason for reason in reasons)
    assert events == ["identity.request", "identity.approve", "identity.read"]
    # The API calls the same use cases.
    with desk.server.api_client(desk.alice) as api:
        read = api.get(f"/cases/{desk.case_id}/identity")
        assert read.status_code == 200
        assert read.json()["text"] == IDENTITY
    with desk.server.api_client(desk.cora) as api:
        assert api.get("/identity/requests").json() == []
        assert api.get(f"/cases/{desk.case_id}/identity").status_code == 404  # holds no case


def test_only_chosen_recipients_grant_and_a_denied_request_opens_nothing(desk: Desk) -> None:
    case = f"/cases/{desk.case_id}"
    # An admin holds no key and is refused; the chosen recipient may give access.
    admin = desk.post("admin", case + "/access", {"user_id": desk.bob.id})
    assert admin.status_code == 403
    assert desk.web["bob"].get(case).status_code == 404
    granted = desk.post("alice", case + "/access", {"user_id": desk.bob.id})
    assert granted.status_code == 303, granted.text
    # Bob was given access, not chosen: he cannot pass it on.
    passed = desk.post("bob", case + "/access", {"user_id": desk.carol.id})
    assert passed.status_code == 403
    assert desk.web["carol"].get(case).status_code == 404

    asked = desk.post("bob", case + "/identity/request", {"reason": "Curious."})
    assert asked.status_code == 303
    request_id = REQUEST_ID.search(desk.web["cora"].get("/identity").text)
    assert request_id is not None
    denied = desk.post("cora", f"/identity/{request_id[1]}/deny")
    assert denied.status_code == 303
    assert desk.web["bob"].get(case + "/identity").status_code == 403
    assert "denied your last request" in desk.web["bob"].get(case).text


def identity_rows(runtime: Runtime) -> dict[str, list[str]]:
    """Every row of the identity tables, and the identity events of the audit trail."""
    with runtime.default.db() as db:
        rows = {
            table.name: sorted(repr(tuple(row)) for row in db.execute(select(table)))
            for table in (Identity.__table__, IdentityKeyWrap.__table__, IdentityRequest.__table__)
        }
        rows["audit"] = list(
            db.scalars(
                select(AuditEvent.detail)
                .where(AuditEvent.action.like("identity.%"))
                .order_by(AuditEvent.seq)
            )
        )
        return rows


def test_a_later_custodian_decides_once_a_colleague_logs_in(desk: Desk) -> None:
    case = f"/cases/{desk.case_id}"
    with desk.server.api_client(desk.alice) as api:
        shown = api.get(case).json()["identity"]
        assert shown == {"allowed": True, "pending": False, "denied": False}
    asked = desk.post("bob", case + "/identity/request", {"reason": "To protect her."})
    assert asked.status_code == 303
    with desk.server.api_client(desk.bob) as api:
        shown = api.get(case).json()
        assert shown["identity"] == {"allowed": False, "pending": True, "denied": False}
        assert IDENTITY not in str(shown)
    dora = desk.server.add_user("custodian")  # appointed after the identity arrived
    with closing(desk.server.staff_client(dora)) as client:
        desk.web["dora"] = client
        assert "another custodian who holds it logs in" in client.get("/identity").text
        with desk.runtime.default.db() as db:
            request_id = db.scalar(
                select(IdentityRequest.id).where(
                    IdentityRequest.requester_id == desk.bob.id, IdentityRequest.status == "pending"
                )
            )
        early = desk.post("dora", f"/identity/{request_id}/approve")
        assert early.status_code == 403  # holds no wrap to this identity yet
        before = identity_rows(desk.runtime)
        assert desk.web["cora"].get("/identity").status_code == 200  # a GET writes nothing
        assert identity_rows(desk.runtime) == before
        assert desk.post("dora", f"/identity/{request_id}/approve").status_code == 403
        with closing(desk.server.staff_client(desk.cora)):  # her login shares it
            pass
        approved = desk.post("dora", f"/identity/{request_id}/approve")
        assert approved.status_code == 303, approved.text
    assert IDENTITY in desk.web["bob"].get(case + "/identity").text
    with desk.runtime.default.db() as db:
        shared = db.scalars(select(AuditEvent.detail).where(AuditEvent.action == "identity.share"))
        assert any(dora.id in detail for detail in shared)
