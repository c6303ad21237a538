"""The host operator's pages on their own address (``MAILSLOT_OPERATOR_ADDR``), driven over
HTTP as an operator's browser would, behind a TLS proxy (``X-Forwarded-Proto: https``, so the
cookie is the ``__Host-`` one): login with TOTP, every action and its errors, who is refused,
host confusion with the source and staff interfaces, and that no case metadata shows.

The tests run in order on one server: the operator logs in once and keeps the session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from starlette.routing import Route

from mailslot.orgs.operator_models import OperatorEvent
from mailslot.web.operator import create_operator_app
from tests.conftest import Account, LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, find_case, new_source, submit
from tests.functional.org_helpers import Org, claim_default, cli, runtime_of, wait_for

pytestmark = pytest.mark.timeout(300)

PASSWORD = "violet kettle harbour nine"
COOKIE = "__Host-mailslot_operator"
SETUP_RE = re.compile(r'<code class="secret setup-link" lang="en">([^<]+)</code>')
MESSAGE = "The harbour master keeps two ledgers"
LABEL = "ledger-inquiry"


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("operator"))
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def secret(install: LiveServer) -> str:
    done = cli(install.env, "operators", "add", "hostop", "--password-stdin", "--json",
               stdin=PASSWORD + "\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["totp_secret"])


@pytest.fixture(scope="module")
def default_org(install: LiveServer) -> Org:
    return claim_default(install)


@pytest.fixture(scope="module")
def admin(default_org: Org) -> Account:
    return default_org.add_user("admin")


@pytest.fixture(scope="module")
def seeded(default_org: Org) -> dict[str, Any]:
    """A case in the default organisation, labelled: what the operator must never see."""
    recipient = default_org.add_user("recipient")
    with default_org.source() as source:
        new_source(source)
        assert submit(source, MESSAGE).status_code == 303
    with default_org.api(default_org.token(recipient)) as api:
        case = find_case(api, MESSAGE)
        labelled = api.post(f"/cases/{case['id']}/labels", json={"name": LABEL})
        assert labelled.status_code == 200, labelled.text
    return case


def browser(install: LiveServer, host: str | None = None) -> httpx.Client:
    """A client as a browser behind a TLS proxy sends: its Host and a matching Origin."""
    host = host or urlsplit(install.operator_url).netloc
    headers = {"Host": host, "Origin": f"https://{host}", "X-Forwarded-Proto": "https"}
    return httpx.Client(base_url=install.operator_url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def operator(install: LiveServer, secret: str, default_org: Org) -> Iterator[httpx.Client]:
    """The operator, logged in once for the whole module."""
    client = browser(install)
    wrong = client.post(
        "/login", data={"username": "hostop", "password": PASSWORD, "totp": "000000"}
    )
    assert wrong.status_code == 401
    assert 'value="hostop"' in wrong.text  # what was typed stays
    response = client.post(
        "/login",
        data={"username": "hostop", "password": PASSWORD, "totp": install.totp.code(secret)},
    )
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(COOKIE + "=")
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag in cookie, cookie
    # httpx keeps Secure cookies for https only: send it as the browser would.
    client.headers["Cookie"] = cookie.split(";", 1)[0]
    yield client
    client.close()


def token_of(client: httpx.Client, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf(page.text)


# Every route of the operator app but the login: what an anonymous visitor gets there.
GUARDED = {
    ("GET", "/"): 303,
    ("GET", "/orgs/new"): 303,
    ("GET", "/orgs/{slug}"): 303,
    ("GET", "/orgs/{slug}/remove"): 303,
    ("POST", "/orgs/new"): 401,
    ("POST", "/orgs/{slug}/state"): 401,
    ("POST", "/orgs/{slug}/quota"): 401,
    ("POST", "/orgs/{slug}/hosts"): 401,
    ("POST", "/orgs/{slug}/remove"): 401,
    ("POST", "/logout"): 401,
}


def test_anonymous_visitors_get_the_login_page(install: LiveServer) -> None:
    runtime = runtime_of(install)
    try:
        app = create_operator_app(runtime)
    finally:
        runtime.close()
    routes = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert routes == {*GUARDED, ("GET", "/login"), ("POST", "/login")}
    with browser(install) as client:
        for (method, path), status in GUARDED.items():
            form = {"x": "1"} if method == "POST" else None
            response = client.request(method, path.replace("{slug}", "default"), data=form)
            assert response.status_code == status, (method, path)
            if status == 303:
                assert response.headers["location"] == "/login"
        assert client.get("/login").status_code == 200


def test_the_list_shows_counts_and_no_case_metadata(
    operator: httpx.Client, seeded: dict[str, Any]
) -> None:
    # The list shows the figures last counted (every few minutes by the background round);
    # an organisation's own page counts them now, and keeps them for the list.
    counted = operator.get("/orgs/default")
    assert counted.status_code == 200
    assert re.search(r"<dt>Cases</dt><dd>1</dd>", counted.text), counted.text
    page = operator.get("/")
    assert page.status_code == 200
    assert '<code lang="en">default</code>' in page.text
    assert "staff.default.test" in page.text
    row = page.text.split('<code lang="en">default</code>', 1)[1].split("</tr>", 1)[0]
    assert re.search(r"<td>1</td>", row), row  # one case
    text = unescape(page.text)
    for secret_bit in (MESSAGE, LABEL, seeded["id"], seeded["pseudonym"]):
        assert secret_bit not in text, secret_bit
    for path in ("/orgs/default", "/orgs/default/remove"):
        shown = unescape(operator.get(path).text)
        for secret_bit in (MESSAGE, LABEL, seeded["id"], seeded["pseudonym"]):
            assert secret_bit not in shown, (path, secret_bit)


def test_adding_an_organisation_refuses_mistakes_then_shows_its_setup_link_once(
    operator: httpx.Client,
) -> None:
    token = token_of(operator, "/orgs/new")
    good = {"csrf": token, "slug": "gamma", "name": "Gamma Desk",
            "source": "tips.gamma.test", "staff": "staff.gamma.test"}  # fmt: skip
    mistakes = [
        ({"slug": "Not A Slug"}, 400, "A slug is 1 to 63"),
        ({"slug": "default"}, 409, "This slug is taken."),
        ({"staff": "staff.default.test"}, 409, "Another organisation already claims"),
        ({"source": "tips gamma_test!"}, 400, "is not a host name"),
        ({"name": "   "}, 400, "A name has 1 to"),
    ]
    for change, status, message in mistakes:
        response = operator.post("/orgs/new", data={**good, **change})
        assert response.status_code == status, (change, response.text)
        assert message in unescape(response.text)
        assert 'value="Gamma Desk"' in response.text or change.get("name")  # typed, kept
    added = operator.post("/orgs/new", data=good)
    assert added.status_code == 200, added.text
    link = SETUP_RE.search(added.text)
    assert link is not None
    assert link[1].startswith("http://staff.gamma.test") or "staff.gamma.test" in link[1]
    assert "/setup/" in link[1]
    page = operator.get("/orgs/gamma")
    assert "Gamma Desk" in page.text
    assert "/setup/" not in page.text  # shown once only
    assert "tips.gamma.test" in page.text


def test_quotas_hosts_and_state_change_with_clear_errors(
    operator: httpx.Client, install: LiveServer
) -> None:
    token = token_of(operator, "/orgs/gamma")
    bad = operator.post("/orgs/gamma/quota", data={"csrf": token, "storage": "lots", "cases": "7"})
    assert bad.status_code == 400
    assert "The storage quota must be a size" in unescape(bad.text)
    assert 'value="lots"' in bad.text
    bad = operator.post("/orgs/gamma/quota", data={"csrf": token, "storage": "1GiB", "cases": "x"})
    assert bad.status_code == 400
    assert "The case quota must be a whole number" in unescape(bad.text)
    saved = operator.post(
        "/orgs/gamma/quota", data={"csrf": token, "storage": "10GiB", "cases": "100"}
    )
    assert saved.status_code == 303
    page = operator.get("/orgs/gamma")
    assert 'value="10GiB"' in page.text
    assert 'value="100"' in page.text

    taken = operator.post(
        "/orgs/gamma/hosts",
        data={"csrf": token, "source": "tips.gamma.test", "staff": "staff.default.test"},
    )
    assert taken.status_code == 409
    assert "Another organisation already claims staff.default.test" in unescape(taken.text)
    assert "staff.default.test</textarea>" in taken.text  # what was typed
    moved = operator.post(
        "/orgs/gamma/hosts",
        data={
            "csrf": token,
            "source": "tips.gamma.test\nnews.gamma.test",
            "staff": "desk.gamma.test",
        },
    )
    assert moved.status_code == 303
    with httpx.Client(base_url=install.staff_url, headers={"Host": "desk.gamma.test"}) as staff:
        assert wait_for(lambda: staff.get("/login").status_code == 200)

    assert (
        operator.post("/orgs/gamma/state", data={"csrf": token, "enabled": "0"}).status_code == 303
    )
    assert "Disabled" in operator.get("/").text
    with httpx.Client(base_url=install.source_url, headers={"Host": "news.gamma.test"}) as source:
        assert wait_for(lambda: source.get("/").status_code == 404)
        assert (
            operator.post("/orgs/gamma/state", data={"csrf": token, "enabled": "1"}).status_code
            == 303
        )
        assert wait_for(lambda: source.get("/").status_code == 200)
    refused = operator.post("/orgs/default/state", data={"csrf": token, "enabled": "0"})
    assert refused.status_code == 409


def test_forms_need_the_session_token_and_the_same_origin(
    operator: httpx.Client, install: LiveServer
) -> None:
    assert operator.post("/orgs/gamma/state", data={"enabled": "0"}).status_code == 403
    forged = operator.post(
        "/orgs/gamma/state",
        data={"csrf": token_of(operator), "enabled": "0"},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert "Enabled" in operator.get("/orgs/gamma").text


def test_operator_pages_answer_on_no_organisation_host_and_vice_versa(
    operator: httpx.Client, install: LiveServer
) -> None:
    cookie = operator.headers["Cookie"]
    for host in ("staff.default.test", "tips.default.test", "desk.gamma.test", "tips.gamma.test"):
        with browser(install, host) as client:
            for path in ("/", "/login", "/orgs/gamma", "/static/mailslot.css"):
                response = client.get(path, headers={"Cookie": cookie})
                assert response.status_code == 404, (host, path)
                assert response.content == b"Not Found"
    # The source and staff interfaces have none of the operator's routes, on any host.
    for base, host in ((install.staff_url, "staff.default.test"),
                       (install.source_url, "tips.default.test")):  # fmt: skip
        with httpx.Client(base_url=base, headers={"Host": host, "Cookie": cookie}) as client:
            for path in ("/orgs/new", "/orgs/gamma", "/orgs/gamma/remove"):
                assert client.get(path).status_code == 404, (base, path)
    operator_host = urlsplit(install.operator_url).netloc
    with httpx.Client(base_url=install.staff_url, headers={"Host": operator_host}) as client:
        assert client.get("/login").content == b"Not Found"


def test_organisation_staff_sessions_are_not_operator_sessions(
    install: LiveServer, default_org: Org, admin: Account
) -> None:
    staff = default_org.login(admin)
    token = next(value for name, value in staff.cookies.items() if name.startswith("mailslot"))
    assert staff.get("/admin").status_code == 200
    staff.close()
    for name in (COOKIE, "mailslot_operator", "mailslot_staff", "__Host-mailslot_staff"):
        with browser(install) as client:
            response = client.get("/", headers={"Cookie": f"{name}={token}"})
            assert response.status_code == 303, name
            assert response.headers["location"] == "/login"


def test_removing_needs_the_slug_typed_then_shreds_and_forgets_it(
    operator: httpx.Client, install: LiveServer
) -> None:
    page = operator.get("/orgs/gamma/remove")
    assert page.status_code == 200
    token = csrf(page.text)
    wrong = operator.post("/orgs/gamma/remove", data={"csrf": token, "confirm": "gama"})
    assert wrong.status_code == 400
    assert "Type the organisation" in unescape(wrong.text)
    assert 'value="gama"' in wrong.text
    default = operator.post("/orgs/default/remove", data={"csrf": token, "confirm": "default"})
    assert default.status_code == 409
    runtime = runtime_of(install)
    try:
        org_id = runtime.registry.get("gamma").id
        removed = operator.post("/orgs/gamma/remove", data={"csrf": token, "confirm": "gamma"})
        assert removed.status_code == 303
        assert removed.headers["location"] == "/?removed=1"
        assert "gamma" not in runtime.registry.load().by_slug
        assert not (install.data_dir / "orgs" / org_id).exists()
        with runtime.registry.engine.connect() as connection:
            logged = connection.execute(select(OperatorEvent.action, OperatorEvent.org)).all()
    finally:
        runtime.close()
    assert ("org.removed", "") in logged
    assert ("org.added", "") in logged  # its slug struck from the log too
    assert all(org != "gamma" for _, org in logged)
    assert operator.get("/orgs/gamma").status_code == 404


def test_operator_accounts_from_the_command_line_and_logout(
    operator: httpx.Client, install: LiveServer
) -> None:
    listed = cli(install.env, "operators", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [op["username"] for op in json.loads(listed.stdout)["operators"]] == ["hostop"]
    out = operator.post("/logout", data={"csrf": token_of(operator)})
    assert out.status_code == 303
    assert out.headers["location"] == "/login?bye=1"
    assert operator.get("/").status_code == 303  # the old cookie opens nothing now
