"""Many organisations on one install (docs/hosting.md), driven as the host operator and the
organisations' users would: ``mailslot orgs`` on the command line, and the two interfaces
through each organisation's own host names.

The tests of a module run in order: first the install with only its default organisation,
then a second organisation is added, then quotas, disabling, ``--org``, migrations and
removal. The upgrade of an install made before organisations existed has its own server.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text

from mailslot.db.migrate import HEAD, downgrade, stored_revision
from mailslot.orgs import placement
from tests.conftest import LiveServer, start_server, stop_server
from tests.databases import TEST_DATABASE, drop_database
from tests.functional.helpers import csrf, find_case, login, new_source, submit
from tests.functional.org_helpers import (
    Org,
    add_org,
    claim_default,
    cli,
    runtime_of,
    wait_for,
)

pytestmark = pytest.mark.timeout(300)

SECRET_RE = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')
# What every refused host gets, whatever it asked.
PLAIN_404 = b"Not Found"


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("orgs"))
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def default_org(install: LiveServer) -> Org:
    return claim_default(install)


@pytest.fixture(scope="module")
def beta(install: LiveServer, default_org: Org) -> tuple[Org, dict[str, Any]]:
    return add_org(install, "beta", "Beta Desk")


def listing(server: LiveServer) -> dict[str, dict[str, Any]]:
    done = cli(server.env, "orgs", "list", "--json")
    assert done.returncode == 0, done.stderr
    return {org["slug"]: org for org in json.loads(done.stdout)["organisations"]}


def host_client(server: LiveServer, kind: str, host: str) -> httpx.Client:
    base = server.source_url if kind == "source" else server.staff_url
    return httpx.Client(
        base_url=base, headers={"Host": host, "Origin": f"http://{host}"}, timeout=60
    )


def test_with_only_the_default_organisation_every_host_is_served(install: LiveServer) -> None:
    for host in ("anything.example", "127.0.0.1", "tips.beta.test", "staff.default.test"):
        with host_client(install, "source", host) as source:
            assert source.get("/").status_code == 200, host
        with host_client(install, "staff", host) as staff:
            assert staff.get("/login").status_code == 200, host
    orgs = listing(install)
    assert list(orgs) == ["default"]
    assert orgs["default"]["default"] is True
    assert orgs["default"]["usage"]["cases"] == 0


def test_a_new_organisation_gets_a_setup_link_on_its_own_staff_host(
    install: LiveServer, beta: tuple[Org, dict[str, Any]], default_org: Org
) -> None:
    org, added = beta
    assert set(added) == {"id", "slug", "name", "source_hosts", "staff_hosts", "setup_link"}
    assert (added["slug"], added["name"]) == ("beta", "Beta Desk")
    link = urlsplit(added["setup_link"])
    assert link.hostname == org.staff_host
    assert link.port == urlsplit(install.staff_url).port
    # Its files are under a random id, not its name.
    assert (install.data_dir / "orgs" / added["id"]).is_dir()
    assert not any("beta" in p.name for p in install.data_dir.rglob("*"))
    # The link is the new organisation's: unknown to the default one.
    with default_org.staff() as elsewhere:
        assert elsewhere.get(link.path).status_code == 404
    with org.staff() as client:
        form = client.get(link.path)
        assert form.status_code == 200, form.text
        secret = SECRET_RE.search(form.text)
        assert secret
        password = "a beta admin passphrase " + os.urandom(4).hex()
        done = client.post(
            link.path,
            data={"username": "beta-chief", "password": password, "password_again": password,
                  "totp": install.totp.code(secret[1])},
        )  # fmt: skip
        assert done.status_code == 200, done.text
        signed_in = client.post(
            "/login",
            data={"username": "beta-chief", "password": password,
                  "totp": install.totp.code(secret[1])},
        )  # fmt: skip
        assert signed_in.status_code == 303, signed_in.text
        admin = client.get("/admin/settings")
        assert admin.status_code == 200
        assert "Beta Desk" in admin.text  # the instance is named after the organisation
    # The same username does not exist in the default organisation.
    with default_org.staff() as elsewhere:
        refused = elsewhere.post(
            "/login",
            data={"username": "beta-chief", "password": password,
                  "totp": install.totp.code(secret[1])},
        )  # fmt: skip
        assert refused.status_code == 401


def plain_404s(server: LiveServer, host: str) -> list[httpx.Response]:
    responses = []
    for kind in ("source", "staff"):
        with host_client(server, kind, host) as client:
            for method, path in (("GET", "/"), ("GET", "/login"), ("GET", "/static/mailslot.css"),
                                 ("POST", "/new"), ("GET", "/api/v1/cases"),
                                 ("GET", "/api/v1/openapi.json"), ("POST", "/login"),
                                 ("GET", "/no/such/page")):  # fmt: skip
                responses.append(client.request(method, path))
    return responses


def assert_plain_404(response: httpx.Response) -> None:
    assert response.status_code == 404, (response.request.url, response.status_code)
    assert response.content == PLAIN_404
    assert "set-cookie" not in response.headers
    assert "onion-location" not in response.headers
    assert response.headers["content-type"].startswith("text/plain")
    assert b"mailslot" not in response.content.lower()


def test_a_host_no_organisation_claims_gets_a_plain_404(
    install: LiveServer, beta: tuple[Org, dict[str, Any]]
) -> None:
    for host in ("unclaimed.test", "127.0.0.1", "tips.beta.test.evil.example"):
        for response in plain_404s(install, host):
            assert_plain_404(response)
    # Each interface answers only the hosts claimed for it.
    org, _ = beta
    with host_client(install, "staff", org.source_host) as client:
        assert_plain_404(client.get("/login"))
    with host_client(install, "source", org.staff_host) as client:
        assert_plain_404(client.get("/"))
    # A host name's case, port and final dot do not matter.
    with host_client(install, "source", "TIPS.Beta.Test.:8443") as client:
        assert client.get("/").status_code == 200
    # The health checks answer on any host (a load balancer probes by address).
    with host_client(install, "staff", "127.0.0.1") as client:
        assert client.get("/healthz").json() == {"status": "ok"}


def test_a_disabled_organisation_looks_like_an_unclaimed_host(
    install: LiveServer, beta: tuple[Org, dict[str, Any]], default_org: Org
) -> None:
    org, _ = beta
    unclaimed = [(r.status_code, r.content, dict(r.headers)) for r in plain_404s(install, "x.test")]
    assert cli(install.env, "orgs", "disable", "beta").returncode == 0
    assert wait_for(lambda: not org.served())
    disabled = [
        (r.status_code, r.content, dict(r.headers)) for r in plain_404s(install, org.source_host)
    ]
    assert disabled == unclaimed
    assert listing(install)["beta"]["enabled"] is False
    with default_org.source() as source:
        assert source.get("/").status_code == 200  # the others are untouched
    refused = cli(install.env, "orgs", "disable", "default")
    assert refused.returncode == 1
    assert "cannot be disabled" in refused.stderr
    assert cli(install.env, "orgs", "enable", "beta").returncode == 0
    assert wait_for(org.served)


def test_commands_take_the_organisation_from_org(
    install: LiveServer, beta: tuple[Org, dict[str, Any]], default_org: Org
) -> None:
    org, _ = beta
    member = org.add_user("recipient")  # MAILSLOT_ORG=beta
    org.login(member).close()
    with default_org.staff() as elsewhere:
        assert elsewhere.post(
            "/login",
            data={"username": member.username, "password": member.password,
                  "totp": install.totp.code(member.totp_secret)},
        ).status_code == 401  # fmt: skip
    listed = cli(install.env, "users", "list", "--org", "beta")
    assert member.username in listed.stdout
    assert member.username not in cli(install.env, "users", "list").stdout
    unknown = cli(install.env, "users", "list", "--org", "nobody")
    assert unknown.returncode == 1
    assert "No organisation has the slug 'nobody'" in unknown.stderr


def settle() -> None:
    """Let the server see a registry change that no request can reveal (a quota): it looks
    at the registry's generation every second (``mailslot.jobs.watch_registry``)."""
    time.sleep(3)


def new_case(org: Org, message: str) -> tuple[httpx.Response, httpx.Client]:
    client = org.source()
    new_source(client)
    return submit(client, message, files=[("a.txt", b"quota bytes " * 100, "text/plain")]), client


def test_quotas_refuse_a_submission_and_keep_what_the_source_typed(
    install: LiveServer, beta: tuple[Org, dict[str, Any]]
) -> None:
    org, _ = beta
    assert cli(install.env, "orgs", "quota", "beta", "--cases", "1").returncode == 0
    assert listing(install)["beta"]["quotas"]["cases"] == 1
    settle()
    first, returning = new_case(org, "The first case fits.")
    assert first.status_code == 303, first.text
    typed = "A second source writes a long message that must not be lost " + os.urandom(4).hex()
    response, client = new_case(org, typed)
    assert response.status_code == 507
    assert "cannot take more submissions right now" in response.text
    assert typed in response.text  # shown again in the form
    client.close()
    assert listing(install)["beta"]["usage"]["cases"] == 1
    # Storage: what is stored already is over one KiB, so a returning source is refused too.
    assert cli(install.env, "orgs", "quota", "beta", "--storage", "1K").returncode == 0
    settle()
    assert submit(returning, "More for the first case.").status_code == 507
    # 0 lifts a quota; the other keeps its value.
    assert cli(install.env, "orgs", "quota", "beta", "--storage", "0").returncode == 0
    settle()
    assert submit(returning, "Now it fits.").status_code == 303
    entry = listing(install)["beta"]
    assert entry["quotas"] == {"storage_bytes": None, "cases": 1}
    assert entry["usage"]["cases"] == 1
    assert entry["usage"]["items"] == 3  # the message, the file and the later message
    assert entry["usage"]["stored_bytes"] > 1024
    returning.close()


def test_the_operators_list_holds_counts_and_never_case_data(
    install: LiveServer, beta: tuple[Org, dict[str, Any]]
) -> None:
    done = cli(install.env, "orgs", "list", "--json")
    entry = {org["slug"]: org for org in json.loads(done.stdout)["organisations"]}["beta"]
    assert set(entry) == {"id", "slug", "name", "enabled", "default", "created_at",
                          "source_hosts", "staff_hosts", "quotas", "usage"}  # fmt: skip
    assert set(entry["usage"]) == {"cases", "items", "stored_bytes", "staff_accounts"}
    assert entry["created_at"] % 86400 == 0  # to the day
    assert "The first case fits." not in done.stdout
    text_listing = cli(install.env, "orgs", "list")
    assert text_listing.returncode == 0
    assert "beta" in text_listing.stdout


def test_migrate_brings_every_organisation_to_the_head(
    install: LiveServer, beta: tuple[Org, dict[str, Any]]
) -> None:
    org, added = beta
    runtime = runtime_of(install)
    try:
        engine = placement.engine(runtime.config, added["id"])
        try:
            downgrade(engine, "-1")
            assert stored_revision(engine) != HEAD
        finally:
            engine.dispose()
        done = cli(install.env, "migrate")
        assert done.returncode == 0, done.stderr
        # Progress goes to stderr, never into what a script reads from stdout.
        assert "Migrating organisation 1 of 1 (beta)" in done.stderr
        assert "Migrating" not in done.stdout
        assert "Every database is up to date." in done.stdout
        engine = placement.engine(runtime.config, added["id"])
        try:
            assert stored_revision(engine) == HEAD
        finally:
            engine.dispose()
        again = cli(install.env, "db", "upgrade")
        assert "Migrating" not in again.stderr  # nothing left to do
    finally:
        runtime.close()
    assert org.served()


def every_byte(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_removing_an_organisation_leaves_nothing_of_it(
    install: LiveServer, default_org: Org, beta: tuple[Org, dict[str, Any]]
) -> None:
    tag = os.urandom(4).hex()
    slug, name = f"gamma-{tag}", f"Gamma Desk {tag}"
    org, added = add_org(install, slug, name)
    member = org.add_user("recipient")
    marker = f"GAMMA-MARKER-{os.urandom(8).hex()}"
    sent, client = new_case(org, marker)
    assert sent.status_code == 303
    client.close()
    with org.api(org.token(member)) as api:
        assert find_case(api, marker)
    # Without --yes it asks, and "no" keeps everything.
    kept = cli(install.env, "orgs", "remove", slug, stdin="n\n")
    assert kept.returncode == 1
    assert org.served()
    done = cli(install.env, "orgs", "remove", slug, "--yes")
    assert done.returncode == 0, done.stderr
    assert wait_for(lambda: not org.served())
    assert not (install.data_dir / "orgs" / added["id"]).exists()
    assert slug not in listing(install)
    needles = [marker, slug, name, added["id"], member.username, org.source_host]
    leaks = [
        f"{needle} in {where}"
        for where, data in every_byte(install.data_dir).items()
        for needle in needles
        if needle.encode() in data
    ]
    assert leaks == []
    if TEST_DATABASE == "postgresql":
        runtime = runtime_of(install)
        try:
            with runtime.registry.engine.connect() as connection:
                names = connection.execute(text("SELECT nspname FROM pg_namespace")).scalars()
                assert f"org_{added['id']}" not in set(names)
        finally:
            runtime.close()
    # The others are untouched.
    assert beta[0].served()
    assert default_org.served()


# An install made before organisations existed.


def test_an_install_from_before_organisations_becomes_the_default_organisation(
    tmp_path: Path,
) -> None:
    base = tmp_path / "old"
    base.mkdir()
    old = start_server(base)
    url = old.database or f"sqlite:///{(old.data_dir / 'mailslot.sqlite3').resolve()}"
    try:
        member = old.add_user("recipient")
        with httpx.Client(base_url=old.source_url, timeout=60) as source:
            codename = new_source(source)
            assert submit(source, "Written before organisations.").status_code == 303
        old.proc.terminate()
        old.proc.wait(timeout=10)
        # What such an install has: its database and blobs, and no host registry.
        if TEST_DATABASE == "postgresql":
            runtime = runtime_of(old)
            with runtime.registry.engine.begin() as connection:
                connection.execute(text('DROP SCHEMA "mailslot_host" CASCADE'))
            runtime.close()
        else:
            (old.data_dir / "host.sqlite3").unlink()
        again = start_server(base, {"MAILSLOT_DATABASE_URL": url})
        try:
            orgs = listing(again)
            assert list(orgs) == ["default"]
            assert orgs["default"]["usage"]["cases"] == 1
            assert orgs["default"]["usage"]["staff_accounts"] == 1
            with again.api_client(member) as api:
                case = find_case(api, "Written before organisations.")
                assert case["items"][0]["text"] == "Written before organisations."
            with httpx.Client(base_url=again.source_url, timeout=60) as source:
                assert login(source, codename).status_code == 303
                assert source.get("/conversation").status_code == 200
                form = source.get("/submit")
                assert csrf(form.text)
        finally:
            again.proc.terminate()
            again.proc.wait(timeout=10)
    finally:
        if old.proc.poll() is None:
            old.proc.kill()
        drop_database(old.database)


def test_orgs_add_refuses_a_taken_slug_or_host(
    install: LiveServer, beta: tuple[Org, dict[str, Any]]
) -> None:
    org, _ = beta
    for args, message in (
        (("--slug", "beta", "--name", "Again"), "is taken"),
        (("--slug", "delta", "--name", "D", "--source-host", org.staff_host), "claims"),
        (("--slug", "Bad Slug", "--name", "D"), "is not a slug"),
        (("--slug", "delta", "--name", "D", "--staff-host", "bad host"), "is not a host name"),
    ):
        done = cli(install.env, "orgs", "add", *args)
        assert done.returncode == 1, args
        assert message in done.stderr, (args, done.stderr)
    assert "delta" not in listing(install)
    assert sorted(os.listdir(install.data_dir / "orgs")) == [beta[1]["id"]]


def test_removing_the_default_organisation_is_refused(install: LiveServer) -> None:
    done = cli(install.env, "orgs", "remove", "default", "--yes")
    assert done.returncode == 1
    assert "cannot be removed" in done.stderr
