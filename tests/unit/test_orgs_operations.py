"""The host operator's operations in process (docs/hosting.md): host names keep the order
they were given in (and an older registry is upgraded to keep it), ``mailslot orgs`` changes
are in the operator log, the operator's list reads the usage figures kept in the registry and
opens no organisation's database however many there are, the background round keeps those
figures, and ``check`` warns about an operator address beyond loopback."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from click.testing import CliRunner, Result
from sqlalchemy import select, text, update

from mailslot import check, check_network, jobs
from mailslot.config import Config
from mailslot.orgs import accounts, operator, placement, usage
from mailslot.orgs.accounts import HostContext
from mailslot.orgs.models import RegistryState
from mailslot.orgs.operator_models import OperatorEvent
from mailslot.runtime import Runtime
from mailslot.web.operator import create_operator_app

ORIGIN = "http://127.0.0.1:8082"


def invoke(config: Config, *args: str) -> Result:
    from mailslot.cli.orgs import orgs

    return CliRunner().invoke(orgs, list(args), obj={"config": config})


# Host order.


def test_host_names_keep_the_order_they_were_given_in(runtime: Runtime) -> None:
    registry = runtime.registry
    registry.add(
        secrets.token_hex(16),
        "beta",
        "Beta",
        instance_id=1,
        source_hosts=["zulu.beta.test", "alpha.beta.test"],
        staff_hosts=["staff-z.beta.test", "staff-a.beta.test"],
        now=runtime.default.now(),
    )
    beta = registry.get("beta")
    assert beta.source_hosts == ("zulu.beta.test", "alpha.beta.test")
    assert beta.staff_hosts == ("staff-z.beta.test", "staff-a.beta.test")
    operator.set_hosts(
        registry,
        "beta",
        source_hosts=["alpha.beta.test", "mike.beta.test", "zulu.beta.test"],
        staff_hosts=["staff-a.beta.test"],
    )
    beta = registry.get("beta")
    assert beta.source_hosts == ("alpha.beta.test", "mike.beta.test", "zulu.beta.test")
    operator.set_hosts(
        registry, "beta", source_hosts=["zulu.beta.test", "alpha.beta.test"], staff_hosts=[]
    )
    assert registry.get("beta").source_hosts == ("zulu.beta.test", "alpha.beta.test")


def test_a_registry_of_the_first_layout_is_upgraded_in_place(runtime: Runtime) -> None:
    """A registry made before host order was kept gains the position column (SQLite file or
    PostgreSQL schema, as the run's backend); its names keep the alphabetical order they had,
    and names claimed from then on keep the order given."""
    registry = runtime.registry
    engine = registry.engine
    with engine.begin() as connection:  # back to layout 1
        connection.execute(text("ALTER TABLE organisation_hosts DROP COLUMN position"))
        connection.execute(update(RegistryState).values(version=1))
        org_id = connection.execute(
            text("SELECT id FROM organisations WHERE slug = 'default'")
        ).scalar_one()
        for host in ("b.old.test", "a.old.test"):
            connection.execute(
                text(
                    "INSERT INTO organisation_hosts (host, kind, org_id) VALUES (:h, 'source', :o)"
                ),
                {"h": host, "o": org_id},
            )
    registry.ensure(1_700_000_000)
    with engine.connect() as connection:
        assert connection.execute(select(RegistryState.version)).scalar_one() == 2
    assert registry.get("default").source_hosts == ("a.old.test", "b.old.test")
    operator.set_hosts(
        registry, "default", source_hosts=["b.old.test", "a.old.test"], staff_hosts=[]
    )
    assert registry.get("default").source_hosts == ("b.old.test", "a.old.test")
    registry.ensure(1_700_000_000)  # again: nothing to do
    assert registry.get("default").source_hosts == ("b.old.test", "a.old.test")


# The command line in the operator log.


def logged(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.registry.engine.connect() as connection:
        rows = connection.execute(
            select(OperatorEvent.operator, OperatorEvent.action, OperatorEvent.org).order_by(
                OperatorEvent.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_orgs_commands_are_written_to_the_operator_log(config: Config, runtime: Runtime) -> None:
    steps = [
        ("add", "--slug", "beta", "--name", "Beta Desk", "--staff-host", "staff.beta.test"),
        ("quota", "beta", "--cases", "5"),
        ("hosts", "beta", "--staff-host", "staff2.beta.test"),
        ("disable", "beta"),
        ("enable", "beta"),
    ]
    for args in steps:
        done = invoke(config, *args)
        assert done.exit_code == 0, done.output
    line = accounts.COMMAND_LINE
    assert logged(runtime) == [
        (line, "org.added", "beta"),
        (line, "org.quota", "beta"),
        (line, "org.hosts", "beta"),
        (line, "org.disabled", "beta"),
        (line, "org.enabled", "beta"),
    ]
    refused = invoke(config, "disable", "default")  # refused: nothing logged
    assert refused.exit_code != 0
    removed = invoke(config, "remove", "beta", "--yes")
    assert removed.exit_code == 0, removed.output
    # The removal strikes its slug from the log, and says that one was removed.
    assert logged(runtime) == [
        (line, "org.added", ""),
        (line, "org.quota", ""),
        (line, "org.hosts", ""),
        (line, "org.disabled", ""),
        (line, "org.enabled", ""),
        (line, "org.removed", ""),
    ]


# The operator's list.


@pytest.fixture
def many(runtime: Runtime) -> list[str]:
    """120 organisations in the registry with no database at all: opening any would fail."""
    slugs = [f"desk-{number:03d}" for number in range(120)]
    for number, slug in enumerate(slugs):
        runtime.registry.add(
            secrets.token_hex(16),
            slug,
            f"Desk number {number}",
            instance_id=1,
            source_hosts=[f"tips.{slug}.test"],
            staff_hosts=[f"staff.{slug}.test"],
            now=runtime.default.now(),
        )
    runtime.refresh()
    return slugs


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every organisation database an engine is made for (the operator's and the CLI's way,
    and the serving processes' way)."""
    seen: list[str] = []
    real_engine = placement.engine

    def counted(config: Config, org_id: str) -> object:
        seen.append(org_id)
        return real_engine(config, org_id)

    monkeypatch.setattr(placement, "engine", counted)
    real_make = operator.make_engine

    def counted_default(*args: object, **kwargs: object) -> object:
        seen.append("default")
        return real_make(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(operator, "make_engine", counted_default)
    return seen


class Pages:
    """The operator's pages in process, as a logged-in operator's browser asks for them."""

    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self.portal = portal
        self.client = client

    def get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        response: httpx.Response = self.portal.call(partial(self.client.get, path, params=params))
        return response


@contextmanager
def logged_in(runtime: Runtime) -> Iterator[Pages]:
    host = HostContext(runtime.config, runtime.registry, runtime.limiter)
    made = accounts.add_operator(host, "hostop", "violet kettle harbour nine")
    state = accounts.start_session(host, made.account, None)
    transport = httpx.ASGITransport(app=create_operator_app(runtime))
    cookies: dict[str, Any] = {"mailslot_operator": state.token}
    with start_blocking_portal() as portal:
        client = httpx.AsyncClient(transport=transport, base_url=ORIGIN, cookies=cookies)
        try:
            yield Pages(portal, client)
        finally:
            portal.call(client.aclose)


def test_the_list_of_a_thousand_organisations_opens_none_of_them(
    runtime: Runtime, many: list[str], opened: list[str]
) -> None:
    figures = usage.Figures(usage.Usage(cases=7, items=19, stored_bytes=3 * 1024**2), 4, 600)
    first = runtime.registry.get("desk-000")
    usage.store(runtime.registry, {first.id: figures})
    with logged_in(runtime) as client:
        page = client.get("/")
        assert page.status_code == 200, page.text
        rows = re.findall(r'<a href="/orgs/([a-z0-9-]+)">', page.text)
        assert rows == ["default", *many[:49]]  # by slug, 50 a page
        assert "121 organisations." in page.text
        assert "Page 1 of 3" in page.text
        row = page.text.split('<code lang="en">desk-000</code>', 1)[1].split("</tr>", 1)[0]
        assert "<td>7</td>" in row  # cases
        assert "<td>4</td>" in row  # staff accounts
        assert "3.0 MiB" in row
        assert 'datetime="1970-01-01T00:10' in row  # counted at
        assert "not measured yet" in page.text.split("desk-001", 1)[1].split("</tr>", 1)[0]
        last = client.get("/", params={"page": "3"})
        assert re.findall(r'<a href="/orgs/([a-z0-9-]+)">', last.text) == many[99:]
        found = client.get("/", params={"q": "STAFF.desk-07"})  # a host name, any case
        assert re.findall(r'<a href="/orgs/([a-z0-9-]+)">', found.text) == many[70:80]
        assert "10 organisations match." in found.text
        by_name = client.get("/", params={"q": "number 119"})
        assert re.findall(r'<a href="/orgs/([a-z0-9-]+)">', by_name.text) == ["desk-119"]
        nothing = client.get("/", params={"q": "100%_"})  # wildcards are plain characters
        assert re.findall(r'<a href="/orgs/([a-z0-9-]+)">', nothing.text) == []
    assert opened == []
    assert not (runtime.config.data_dir / placement.ORGS_DIR / first.id).exists()


def test_one_organisations_page_counts_it_and_keeps_the_figures(
    runtime: Runtime, opened: list[str]
) -> None:
    with logged_in(runtime) as client:
        assert "not measured yet" in client.get("/").text
        shown = client.get("/orgs/default")
        assert shown.status_code == 200
        assert "Counted at" in shown.text
        assert opened == ["default"]  # that one only
        assert "not measured yet" not in client.get("/").text
    assert opened == ["default"]


def test_the_background_round_keeps_stale_figures_fresh(runtime: Runtime) -> None:
    operator.add(runtime.config, runtime.registry, slug="beta", name="Beta", now=0)
    runtime.refresh()
    beta = runtime.registry.get("beta")
    stale = usage.Figures(usage.Usage(cases=99, items=99, stored_bytes=99), 99, 0)
    usage.store(runtime.registry, {beta.id: stale})
    now = runtime.default.now()
    assert set(usage.due(runtime.registry, now)) == {"default", "beta"}
    jobs.run_round(runtime, None)
    assert usage.due(runtime.registry, now) == {}
    (entry,) = usage.page(runtime.registry, search="beta").entries
    assert entry.figures is not None
    assert entry.figures.usage == usage.Usage(cases=0, items=0, stored_bytes=0)
    counted = entry.figures.measured_at
    assert counted % 60 == 0
    assert now - 60 < counted <= runtime.default.now()
    # Fresh figures are not counted again until they are MEASURE_EVERY seconds old.
    assert usage.due(runtime.registry, counted + usage.MEASURE_EVERY - 1) == {}
    later = usage.due(runtime.registry, counted + usage.MEASURE_EVERY)
    assert set(later) == {"default", "beta"}


# ``mailslot check``.


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - the address under test
        ("::", False),
        ("192.0.2.10", False),
        ("operator.example", False),
    ],
)
def test_check_warns_about_an_operator_address_beyond_loopback(
    config: Config, host: str, ok: bool
) -> None:
    finding = check_network.operator_address(
        dataclasses.replace(config, operator_addr=(host, 8082))
    )
    assert finding.ok is ok
    assert not finding.fails  # a warning: `check` still passes
    if not ok:
        assert "SSH tunnel" in finding.fix
        assert "8082" in finding.detail


def test_check_runs_the_operator_address_check(config: Config) -> None:
    wide = dataclasses.replace(config, operator_addr=("0.0.0.0", 8082))  # noqa: S104
    names = {f.name: f for f in check.run_checks(wide)}
    assert names["operator address"].ok is False
