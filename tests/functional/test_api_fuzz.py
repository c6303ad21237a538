"""Schemathesis against the staff API of a live ``mailslot serve``: no 5xx, and every response
(status code, content type, headers, body) is one that ``/api/v1/openapi.json`` documents.

- Every operation except the two that destroy state is fuzzed with random input (Schemathesis'
  examples, coverage and fuzzing phases, valid and invalid data), authenticated with a bearer
  token everywhere but ``POST /auth/token``.
- The same checks run with the path aimed at real cases and items, which random ids never hit.
- ``DELETE /auth/token`` and ``DELETE /cases/{case_id}`` are fuzzed with their own account,
  token and cases, then checked to have done exactly what they say.

Examples are bounded and derandomised (no example database) so that a failure reproduces and
the module stays well under two minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mailslot.runtime import Runtime
from mailslot.web.api import create_api
from tests.conftest import Account, LiveServer
from tests.functional.helpers import new_source, submit

CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def served_document() -> dict[str, Any]:
    """The document ``/api/v1/openapi.json`` serves, built without a server.

    Schemathesis needs the schema when pytest collects (one test per operation). Its loader
    from a fixture does not work with pytest 9 (it reads ``Node._nodeid``, which pytest 9 no
    longer has), so the document is built from the code, and
    ``test_the_fuzzed_schema_is_the_served_one`` keeps it equal to the served one.
    ``create_api`` only stores the runtime: nothing of it is touched until a request.
    """
    runtime = cast(Runtime, SimpleNamespace())
    return {**create_api(runtime).openapi(), "servers": [{"url": "/api/v1"}]}


schema = schemathesis.openapi.from_dict(served_document())
# The bearer token is ours to send (see Target.call), not a parameter to generate; unknown query
# parameters are ignored, as HTTP servers usually do, which is no failure to report.
schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
# A body over the API's 1 MiB cap is refused with 413 before it is read: a rejection too.
schema.config.checks.negative_data_rejection.expected_statuses = [
    *schema.config.checks.negative_data_rejection.expected_statuses,
    "413",
]


class Target:
    """An account's token and the real cases it can see, for aiming requests at real ids."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.base_url = f"{server.staff_url}/api/v1"
        self.token = token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.auth, timeout=60)

    def cases(self) -> list[dict[str, Any]]:
        with self.client() as api:
            listing = api.get("/cases", params={"limit": 200})
            assert listing.status_code == 200, listing.text
            return [api.get(f"/cases/{c['id']}").json() for c in listing.json()["cases"]]

    def call(self, case: Any) -> Any:
        headers = {} if case.path == "/auth/token" else self.auth
        return case.call_and_validate(base_url=self.base_url, headers=headers, checks=CHECKS)


def send(server: LiveServer, message: str, files: list[tuple[str, bytes, str]], **kw: Any) -> None:
    with httpx.Client(base_url=server.source_url, timeout=60) as client:
        new_source(client)
        response = submit(client, message, files=files, **kw)
        assert response.status_code == 303, response.text


def seed(server: LiveServer, tag: str, channel: str | None = None) -> None:
    """Three cases: a message, a message with files (one with a non-ASCII name), a file."""
    kw = {"channel": channel} if channel else {}
    send(server, f"{tag}: a plain message", [], **kw)
    files = [
        ("notes.txt", b"hello", "text/plain"),
        ("보고서.pdf", b"%PDF-1.4 x", "application/pdf"),
    ]
    send(server, f"{tag}: with files", files, **kw)
    send(server, "", [("only-a-file.bin", b"\x00\x01", "application/octet-stream")], **kw)


@pytest.fixture(scope="module")
def target(server: LiveServer) -> Target:
    account = server.add_user("recipient")
    seed(server, "fuzz")
    found = Target(server, server.api_token(account))
    with found.client() as api:  # one reply, so that replies are in the listings too
        case_id = found.cases()[0]["id"]
        assert api.post(f"/cases/{case_id}/replies", json={"text": "seed"}).status_code == 201
    return found


@pytest.fixture(scope="module")
def cases(target: Target) -> list[dict[str, Any]]:
    found = target.cases()
    assert len(found) >= 3
    assert any(item["kind"] == "file" for case in found for item in case["items"])
    return found


def test_the_fuzzed_schema_is_the_served_one(server: LiveServer) -> None:
    served = httpx.get(f"{server.staff_url}/api/v1/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == schema.raw_schema


@schema.exclude(method="DELETE").parametrize()
@FUZZ
def test_random_input(case: Any, target: Target) -> None:
    target.call(case)


MODES = st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@FUZZ
@given(data=st.data(), mode=MODES)
def test_real_cases(data: st.DataObject, mode: GenerationMode, target: Target, cases: Any) -> None:
    case_id = data.draw(st.sampled_from([c["id"] for c in cases]), label="case")
    operation = schema["/cases/{case_id}"]["GET"]
    target.call(data.draw(operation.as_strategy(mode, path_parameters={"case_id": case_id})))


@FUZZ
@given(data=st.data(), mode=MODES)
def test_real_items(data: st.DataObject, mode: GenerationMode, target: Target, cases: Any) -> None:
    pairs = [(c["id"], item["id"]) for c in cases for item in c["items"]]
    case_id, item_id = data.draw(st.sampled_from(pairs), label="item")
    operation = schema["/cases/{case_id}/items/{item_id}/content"]["GET"]
    params = {"case_id": case_id, "item_id": item_id}
    response = target.call(data.draw(operation.as_strategy(mode, path_parameters=params)))
    assert response.status_code in {200, 404}  # 404: a reply the source deleted, never here


@FUZZ
@given(data=st.data(), mode=MODES)
def test_real_replies(
    data: st.DataObject, mode: GenerationMode, target: Target, cases: Any
) -> None:
    case_id = data.draw(st.sampled_from([c["id"] for c in cases if c["can_reply"]]))
    operation = schema["/cases/{case_id}/replies"]["POST"]
    target.call(data.draw(operation.as_strategy(mode, path_parameters={"case_id": case_id})))


def test_an_id_with_a_line_break_is_answered_by_the_api(target: Target) -> None:
    """Starlette's ``Mount`` matches ``.*`` without DOTALL, so a path whose parameter holds a
    line feed (``%0A``) passes the API by and reaches the staff pages' HTML 404."""
    operation = schema["/cases/{case_id}/items/{item_id}/content"]["GET"]
    case = operation.Case(path_parameters={"case_id": "a\nb", "item_id": "c"})
    assert target.call(case).status_code == 404


# The destructive operations, each with an account, a token and cases of its own.


@pytest.fixture(scope="module")
def revoker(server: LiveServer) -> Target:
    return Target(server, server.api_token(server.add_user("recipient")))


@schema.include(method="DELETE", path="/auth/token").parametrize()
@FUZZ
def test_revoking_the_token(case: Any, revoker: Target) -> None:
    response = revoker.call(case)
    if case.method == "DELETE":  # the coverage phase also tries methods the path lacks
        assert response.status_code in {204, 401}


def test_a_revoked_token_is_refused(server: LiveServer, revoker: Target) -> None:
    with revoker.client() as api:
        api.delete("/auth/token")
        assert api.get("/cases").status_code == 401
        assert api.delete("/auth/token").status_code == 401


@pytest.fixture(scope="module")
def deleter(server: LiveServer) -> Target:
    """A recipient alone on a channel of its own, so deleting spares the other tests' cases."""
    account: Account = server.add_user("recipient", channels=())
    channel = server.unique("fuzz-delete-")
    channel_id = server.add_channel(channel, (account.username,))
    seed(server, "doomed", channel_id)
    return Target(server, server.api_token(account))


@schema.include(method="DELETE", path="/cases/{case_id}").parametrize()
@FUZZ
def test_deleting_random_cases(case: Any, deleter: Target) -> None:
    deleter.call(case)


def test_deleting_real_cases(deleter: Target) -> None:
    operation = schema["/cases/{case_id}"]["DELETE"]
    doomed = deleter.cases()
    assert len(doomed) == 3
    for found in doomed:
        gone = operation.Case(path_parameters={"case_id": found["id"]})
        assert deleter.call(gone).status_code == 204
        assert deleter.call(gone).status_code == 404
        getter = schema["/cases/{case_id}"]["GET"].Case(path_parameters={"case_id": found["id"]})
        assert deleter.call(getter).status_code == 404
    assert deleter.cases() == []
