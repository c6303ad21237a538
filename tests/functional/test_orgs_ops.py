"""The host operator's whole-install operations with several organisations (docs/hosting.md):
``tor-config`` for every organisation (run by a real tor), ``check`` with one line per
organisation, ``backup``/``restore`` of one organisation and of the whole install.

One install serves the module: the default organisation and ``beta``, which holds a case
with a file. The tests run in order; each leaves the install as it found it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mailslot.cases.models import Case
from mailslot.cases.sealing import open_case
from mailslot.context import Quotas
from mailslot.db.base import make_engine
from mailslot.db.planner import analyze
from mailslot.orgs.errors import QuotaReached
from mailslot.orgs.quotas import check as quota_check
from mailslot.sources.submissions import choose_channel
from mailslot.tor import ONION_RE
from tests.conftest import LiveServer, start_server, stop_server
from tests.databases import TEST_DATABASE
from tests.functional.helpers import new_source, submit
from tests.functional.org_helpers import Org, add_org, claim_default, cli, runtime_of, wait_for
from tests.functional.test_backup import Target
from tests.functional.test_tor import tor_binary

pytestmark = pytest.mark.timeout(600)

PASSPHRASE = "lantern orchard quietly folding maps"
MESSAGE = "Beta's case: the minutes are in the blue folder."


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_server(tmp_path_factory.mktemp("ops"))
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def beta(install: LiveServer) -> dict[str, Any]:
    """``beta`` with an admin, a recipient, an API token of theirs, and a case with a file."""
    claim_default(install)
    org, added = add_org(install, "beta", "Beta Desk")
    org.add_user("admin")
    member = org.add_user("recipient")
    with org.source() as source:
        new_source(source)
        sent = submit(source, MESSAGE, files=[("minutes.txt", b"minutes " * 300, "text/plain")])
        assert sent.status_code == 303, sent.text
    return {"org": org, "id": added["id"], "token": org.token(member)}


def case_count(org: Org, token: str) -> int:
    with org.api(token) as api:
        response = api.get("/cases")
        assert response.status_code == 200, response.text
        return len(response.json()["cases"])


def listing(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    done = cli(env, "orgs", "list", "--json")
    assert done.returncode == 0, done.stderr
    return {org["slug"]: org for org in json.loads(done.stdout)["organisations"]}


def run_tor(torrc: Path, data: Path, hostnames: list[Path]) -> None:
    """A real tor, offline (DisableNetwork), until it has written every hostname file."""
    main = data.parent / "main.torrc"
    log = data.parent / "tor.log"
    main.write_text(
        f"DataDirectory {data}\nDisableNetwork 1\nLog notice file {log}\n%include {torrc}\n"
    )
    tor = subprocess.Popen(
        [tor_binary(), "-f", str(main), "--defaults-torrc", os.devnull],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not all(h.exists() for h in hostnames) and tor.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert tor.poll() is None, log.read_text()
    finally:
        tor.terminate()
        tor.wait(timeout=30)


def test_tor_config_serves_every_organisation_on_its_own_onion_names(
    install: LiveServer, beta: dict[str, Any], tmp_path: Path
) -> None:
    data = tmp_path / "tor"
    data.mkdir(mode=0o700)
    tor_dir, torrc = data / "mailslot", tmp_path / "mailslot.torrc"
    done = cli(install.env, "tor-config", "--out", str(torrc), "--tor-dir", str(tor_dir), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # One staff client key for each organisation's staff service.
    assert sorted(c["org"] for c in report["clients"]) == ["beta", "default"]
    beta_dir = tor_dir / "orgs" / beta["id"]
    text = torrc.read_text()
    assert text.count("HiddenServiceVersion 3") == 4
    for place in (tor_dir, beta_dir):
        for service in ("source", "staff"):
            assert f"HiddenServiceDir {place / service}\n" in text
        assert len(list((place / "staff" / "authorized_clients").glob("*.auth"))) == 1

    hostnames = [p / s / "hostname" for p in (tor_dir, beta_dir) for s in ("source", "staff")]
    run_tor(torrc, data, hostnames)
    names = [h.read_text().strip() for h in hostnames]
    assert all(ONION_RE.fullmatch(name) for name in names)
    assert len(set(names)) == 4

    claimed = cli(install.env, "tor-config", "--claim", "--tor-dir", str(tor_dir), "--json")
    assert claimed.returncode == 0, claimed.stderr
    assert {c["org"]: (c["source"], c["staff"]) for c in json.loads(claimed.stdout)["claimed"]} == {
        "default": (names[0], names[1]),
        "beta": (names[2], names[3]),
    }
    entry = listing(install.env)["beta"]
    assert sorted(entry["source_hosts"]) == sorted(["tips.beta.test", names[2]])
    assert sorted(entry["staff_hosts"]) == sorted(["staff.beta.test", names[3]])
    # Over the onion service, the Host header is the onion name: beta answers on its own.
    over_tor = Org(install, "beta", names[2], names[3], "Beta Desk")
    assert wait_for(over_tor.served)
    with over_tor.source() as source:
        assert "Beta Desk" in source.get("/").text

    # --org writes one organisation's services; its client key is kept, none is added.
    only = cli(install.env, "tor-config", "--org", "beta", "--out", str(tmp_path / "beta.torrc"),
               "--tor-dir", str(tor_dir), "--json")  # fmt: skip
    assert only.returncode == 0, only.stderr
    assert json.loads(only.stdout)["clients"] == []
    beta_text = (tmp_path / "beta.torrc").read_text()
    assert beta_text.count("HiddenServiceDir /") == 2
    assert str(beta_dir) in beta_text
    again = cli(install.env, "tor-config", "--claim", "--tor-dir", str(tor_dir))
    assert listing(install.env)["beta"]["source_hosts"] == entry["source_hosts"]  # no duplicate
    assert again.returncode == 0
    # Back to the hosts the other tests expect.
    for slug in ("default", "beta"):
        hosts = ("--source-host", f"tips.{slug}.test", "--staff-host", f"staff.{slug}.test")
        assert cli(install.env, "orgs", "hosts", slug, *hosts).returncode == 0


def check(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    done = cli(env, "check", "--json", *args)
    assert done.stdout, done.stderr
    return done.returncode, {f["name"]: f for f in json.loads(done.stdout)}


def settled_statistics(install: LiveServer) -> None:
    """On PostgreSQL, the planner's statistics of the default organisation as a maintained
    install has them. A test database is reused after being emptied, and keeps the activity
    counters of earlier tests (``pg_stat_user_tables``), which ``check`` rightly reports as
    statistics out of date; this test is about the lines ``check`` writes, not about them."""
    url = install.env.get("MAILSLOT_DATABASE_URL", "")
    if url.startswith("postgresql"):
        engine = make_engine(url)
        try:
            analyze(engine)
        finally:
            engine.dispose()


def test_check_has_a_line_for_each_organisation(install: LiveServer, beta: dict[str, Any]) -> None:
    settled_statistics(install)
    code, findings = check(install.env)
    assert findings["host registry"]["ok"], findings["host registry"]
    assert findings["host registry"]["detail"] == "2 organisation(s), 2 enabled"
    line = findings["organisation beta"]
    assert line["ok"], line
    assert line["detail"].startswith("enabled: 2 active accounts, keys in order, 1 case(s)")
    # The default organisation has no admin yet: a warning, as on a new install.
    assert findings["organisation default"]["warn"], findings["organisation default"]
    assert findings["organisation default"]["detail"] == "enabled: 0 active admin(s)"
    assert code == 0, findings

    # A quota nearly full is a warning; the command still passes.
    assert cli(install.env, "orgs", "quota", "beta", "--cases", "1").returncode == 0
    code, findings = check(install.env, "--org", "beta")
    assert "organisation default" not in findings
    assert findings["organisation beta"]["warn"]
    assert "case quota nearly full: 1 of 1 cases" in findings["organisation beta"]["detail"]
    assert code == 0
    assert cli(install.env, "orgs", "quota", "beta", "--cases", "0").returncode == 0

    # A blob that cannot be found fails that organisation, and the command.
    blobs = install.data_dir / "orgs" / beta["id"] / "blobs"
    moved = install.data_dir.parent / "moved"
    shutil.move(blobs, moved)
    blobs.mkdir(mode=0o700)
    try:
        code, findings = check(install.env)
        assert code == 1
        assert not findings["organisation beta"]["ok"]
        assert not findings["organisation beta"]["warn"]
        assert "2 item(s) have no stored blob" in findings["organisation beta"]["detail"]
        assert findings["organisation default"]["warn"]
    finally:
        blobs.rmdir()
        shutil.move(moved, blobs)
    unknown, findings = check(install.env, "--org", "nobody")
    assert unknown == 1
    assert findings["organisation nobody"]["detail"] == "no such organisation"


def passphrase_file(where: Path) -> str:
    path = where / "passphrase.txt"
    path.write_text(PASSPHRASE + "\n")
    return str(path)


def test_one_organisation_restores_into_the_install_as_a_new_one_or_in_place(
    install: LiveServer, beta: dict[str, Any], tmp_path: Path
) -> None:
    secret = passphrase_file(tmp_path)
    archive = tmp_path / "beta.msla"
    made = cli(install.env, "backup", "--org", "beta", "--out", str(archive),
               "--passphrase-file", secret)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert archive.read_bytes()[:5] == b"MSLA\x01"
    assert MESSAGE.encode() not in archive.read_bytes()

    hosts = ("--source-host", "tips.gamma.test", "--staff-host", "staff.gamma.test")
    restored = cli(install.env, "restore", str(archive), "--org", "gamma", *hosts,
                   "--passphrase-file", secret)  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert "as the organisation gamma" in restored.stdout
    gamma = Org(install, "gamma", "tips.gamma.test", "staff.gamma.test", "Beta Desk")
    assert wait_for(gamma.served)
    # Its own copy: beta's token, restored with its sessions, reads the same case there.
    assert case_count(gamma, beta["token"]) == case_count(beta["org"], beta["token"]) == 1
    first_id = listing(install.env)["gamma"]["id"]

    refusals = {
        ("--org", "gamma"): "The slug 'gamma' is taken",
        ("--org", "delta", "--source-host", "tips.beta.test"): "claims tips.beta.test",
        ("--org", "default", "--replace"): "restored only into an empty install",
    }
    for args, message in refusals.items():
        refused = cli(install.env, "restore", str(archive), *args, "--passphrase-file", secret)
        assert refused.returncode == 1
        assert message in refused.stderr, refused.stderr

    # In place: the old gamma is destroyed, the new one keeps its hosts and quotas.
    assert cli(install.env, "orgs", "quota", "gamma", "--cases", "7").returncode == 0
    replaced = cli(install.env, "restore", str(archive), "--org", "gamma", "--replace",
                   "--passphrase-file", secret)  # fmt: skip
    assert replaced.returncode == 0, replaced.stderr
    entry = listing(install.env)["gamma"]
    assert entry["id"] != first_id
    assert entry["source_hosts"] == ["tips.gamma.test"]
    assert entry["quotas"]["cases"] == 7
    assert not (install.data_dir / "orgs" / first_id).exists()
    assert wait_for(lambda: case_count(gamma, beta["token"]) == 1)
    assert cli(install.env, "orgs", "remove", "gamma", "--yes").returncode == 0


def test_the_whole_install_restores_into_an_empty_one(
    install: LiveServer, beta: dict[str, Any], tmp_path: Path
) -> None:
    secret = passphrase_file(tmp_path)
    out = tmp_path / "install"
    assert cli(install.env, "orgs", "quota", "beta", "--storage", "5M").returncode == 0
    made = cli(install.env, "backup", "--all", "--out", str(out), "--passphrase-file", secret)
    assert made.returncode == 0, made.stderr
    assert "Backing up organisation 1 of 2 (beta)" in made.stderr  # in the order of slugs
    assert sorted(p.name for p in out.iterdir()) == ["0001.msla", "0002.msla", "install.msla"]
    assert (out.stat().st_mode & 0o777) == 0o700
    for path in out.iterdir():
        assert b"beta" not in path.read_bytes()
        assert b"Beta Desk" not in path.read_bytes()
    origin = listing(install.env)

    target = Target(tmp_path / "target", TEST_DATABASE)
    try:
        restored = cli(target.env(install.env), "restore", "--all", str(out),
                       "--passphrase-file", secret)  # fmt: skip
        assert restored.returncode == 0, restored.stderr
        copy = listing(target.env(install.env))
        assert copy["beta"]["id"] == origin["beta"]["id"]  # the default's is made anew
        for slug in ("default", "beta"):
            for key in ("name", "enabled", "source_hosts", "staff_hosts", "quotas", "usage"):
                assert copy[slug][key] == origin[slug][key], (slug, key)
        # Into a target that holds anything: refused; and a file swapped for another
        # organisation's archive is refused before anything is written.
        again = cli(target.env(install.env), "restore", "--all", str(out),
                    "--passphrase-file", secret)  # fmt: skip
        assert again.returncode == 1
        assert "not empty" in again.stderr
    finally:
        target.close()
    swapped = tmp_path / "swapped"
    shutil.copytree(out, swapped)
    shutil.copy(swapped / "0001.msla", swapped / "0002.msla")
    other = Target(tmp_path / "other", TEST_DATABASE)
    try:
        refused = cli(other.env(install.env), "restore", "--all", str(swapped),
                      "--passphrase-file", secret)  # fmt: skip
        assert refused.returncode == 1
        assert "Nothing was restored" in refused.stderr
        assert not other.data_dir.exists()
    finally:
        other.close()
    lifted = cli(install.env, "orgs", "quota", "beta", "--storage", "0")
    assert lifted.returncode == 0, lifted.stderr


def test_concurrent_submissions_pass_a_case_quota_by_none(
    install: LiveServer, beta: dict[str, Any]
) -> None:
    """Two sources open a case at the same moment with room for one: exactly one is taken."""
    org = beta["org"]
    held = listing(install.env)["beta"]["usage"]["cases"]
    assert cli(install.env, "orgs", "quota", "beta", "--cases", str(held + 1)).returncode == 0
    time.sleep(3)  # the server reloads the registry every second
    clients = [org.source() for _ in range(2)]
    try:
        for client in clients:
            new_source(client)
        start = threading.Barrier(len(clients))
        statuses: list[int] = []

        def send(client: httpx.Client) -> None:
            start.wait()
            files = [("part.bin", os.urandom(20_000), "application/octet-stream")]
            statuses.append(submit(client, "At the same moment.", files=files).status_code)

        threads = [threading.Thread(target=send, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        for client in clients:
            client.close()
    assert sorted(statuses) == [303, 507]
    assert listing(install.env)["beta"]["usage"]["cases"] == held + 1
    assert cli(install.env, "orgs", "quota", "beta", "--cases", "0").returncode == 0


def test_a_quota_check_waits_for_the_one_before_it(
    install: LiveServer, beta: dict[str, Any]
) -> None:
    """The check is serialised: while one submission that passed it is still being recorded,
    the next one's check waits, then sees that case and refuses (without the lock it would
    count the cases as they were, and both would be taken)."""
    runtime = runtime_of(install)
    try:
        ctx = runtime.context("beta")
        with ctx.db() as db:
            held = int(db.scalar(select(func.count()).select_from(Case)) or 0)
        quotas = Quotas(storage=None, cases=held + 1)
        passed = threading.Event()
        outcome: list[str] = []

        def second() -> None:
            passed.wait(30)
            try:
                with ctx.db() as db:
                    quota_check(db, quotas, new_case=True, adding=0)
                outcome.append("taken")
            except QuotaReached:
                outcome.append("refused")

        thread = threading.Thread(target=second)
        thread.start()
        with ctx.db() as db:
            quota_check(db, quotas, new_case=True, adding=0)
            open_case(db, choose_channel(db, None), None, ctx.now())
            passed.set()
            time.sleep(1)  # the second check runs meanwhile, or waits
            assert outcome == []
        thread.join(60)
        assert outcome == ["refused"]
        with ctx.db() as db:
            assert db.scalar(select(func.count()).select_from(Case)) == held + 1
    finally:
        runtime.close()
