"""The server-seizure test (``test_seizure.py``) on one organisation of a multi-organisation
install: the same newsroom's week, played in an organisation other than the default, then
``tools/adversary.py`` run on that organisation's own files (``DATA_DIR/orgs/<id>/``, laid
out like a single-organisation data directory), and every test of ``test_seizure.py`` that
judges the seizure run again on them.

The organisation under test claims ``127.0.0.1`` (the address every client of the scenario
uses), and the CLI reaches it through ``MAILSLOT_ORG``. The default organisation claims
``default.test`` and receives a case of its own, so that the tests below can also check that
neither organisation's secrets reach the other's files, and that the host registry holds
none of them.
"""

from __future__ import annotations

import inspect
import json
import shutil
import time
from dataclasses import dataclass, fields
from pathlib import Path

import httpx
import pytest

from mailslot.runtime import Runtime, open_runtime
from tests.conftest import LiveServer, start_server, stop_server
from tests.functional import test_seizure as single
from tests.functional.helpers import new_source, submit
from tests.functional.org_helpers import cli, wait_for

# Its install runs on SQLite files whatever the pass, as test_seizure.py does.
pytestmark = [pytest.mark.timeout(300), pytest.mark.sqlite_only]

SLUG = "seized"


@dataclass
class OrgServer(LiveServer):
    """The live server as the scenario sees it: its data directory is the organisation's,
    its CLI and its runtime's ``default`` are the organisation's."""

    slug: str = SLUG

    def runtime(self) -> Runtime:
        runtime = open_runtime(self.config(), migrate=False)
        runtime.default = runtime.context(self.slug)
        return runtime


@dataclass
class Install:
    """What the tests below look at beyond the seized organisation's own files."""

    data_dir: Path
    default_markers: list[str]


@pytest.fixture(scope="module")
def install_and_seized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Install, single.Seized]:
    work = tmp_path_factory.mktemp("seizure-org")
    base = work / "instance"
    base.mkdir()
    server = start_server(base, {"MAILSLOT_DATABASE_URL": ""})
    try:
        hosts = ("--source-host", "default.test", "--staff-host", "default.test")
        assert cli(server.env, "orgs", "hosts", "default", *hosts).returncode == 0
        loopback = ("--source-host", "127.0.0.1", "--staff-host", "127.0.0.1")
        added = cli(server.env, "orgs", "add", "--slug", SLUG, "--name", "Seized Desk", *loopback,
                    "--json")  # fmt: skip
        assert added.returncode == 0, added.stderr
        org = json.loads(added.stdout)
        with httpx.Client(base_url=server.source_url, timeout=60) as probe:
            assert wait_for(lambda: "Seized Desk" in probe.get("/").text)
        # A case in the default organisation: none of it may reach the seized one's files.
        server.add_user("recipient")  # a channel without recipients takes no submissions
        default_markers = [single.marker("DEFAULT-MSG"), single.marker("DEFAULT-FILE")]
        local = {"Host": "default.test", "Origin": "http://default.test"}
        with httpx.Client(base_url=server.source_url, headers=local, timeout=60) as source:
            new_source(source)
            files = [(f"{default_markers[1]}.txt", default_markers[1].encode(), "text/plain")]
            assert submit(source, default_markers[0], files=files).status_code == 303
        org_server = OrgServer(
            **{f.name: getattr(server, f.name) for f in fields(server)},
        )
        org_server.data_dir = server.data_dir / "orgs" / org["id"]
        org_server.env = {**server.env, "MAILSLOT_ORG": SLUG}
        org_server.setup_link = org["setup_link"]
        scenario = single.run_scenario(org_server, work)
    finally:
        stop_server(server)
    copy = work / "seized"
    shutil.copytree(org_server.data_dir, copy)
    start = time.monotonic()
    report = single.adversary(copy)
    seconds = time.monotonic() - start
    (work / "report.json").write_text(json.dumps(report, indent=1))
    seized = single.Seized(org_server, scenario, copy, report, json.dumps(report), seconds, work)
    return Install(server.data_dir, default_markers), seized


@pytest.fixture(scope="module")
def seized(install_and_seized: tuple[Install, single.Seized]) -> single.Seized:
    return install_and_seized[1]


# Every test of test_seizure.py that judges the seizure, run on this organisation's files
# (collected here under the same names), except the one about file kinds, replaced below:
# an organisation's directory has no host registry, which is the install's.
REPLACED = {"test_every_file_kind_is_documented"}
for _name, _test in list(vars(single).items()):
    if (
        _name.startswith("test_")
        and _name not in REPLACED
        and "seized" in inspect.signature(_test).parameters
    ):
        globals()[_name] = _test


def test_every_file_kind_is_documented_for_an_organisation(seized: single.Seized) -> None:
    documented = single.documented_files()
    found = set(seized.report["file_kinds"])
    hot = set(single.adversary(seized.scenario.hot_copy or Path())["file_kinds"])
    assert found | hot == set(documented) - {"partial-blob", "host-registry"}


def test_nothing_crosses_between_the_organisations_files(
    install_and_seized: tuple[Install, single.Seized],
) -> None:
    install, seized = install_and_seized
    org_dir = seized.server.data_dir
    theirs = {str(p): p.read_bytes() for p in org_dir.rglob("*") if p.is_file()}
    rest = {
        str(p): p.read_bytes()
        for p in install.data_dir.rglob("*")
        if p.is_file() and org_dir not in p.parents
    }
    assert any(path.endswith("host.sqlite3") for path in rest)
    assert any(path.endswith("mailslot.sqlite3") for path in rest)
    secrets = seized.scenario.markers + seized.scenario.codenames
    leaks = [
        f"{where}: {text}"
        for text in secrets
        for needle in single.encodings(text).values()
        for where, data in rest.items()
        if needle in data
    ]
    assert leaks == []
    assert len(install.default_markers) == 2
    leaks = [
        f"{where}: {text}"
        for text in install.default_markers
        for needle in single.encodings(text).values()
        for where, data in theirs.items()
        if needle in data
    ]
    assert leaks == []
    # The staff of the seized organisation are not named anywhere else either.
    usernames = [account.username for account in seized.scenario.accounts.values()]
    assert [n for n in usernames for data in rest.values() if n.encode() in data] == []
