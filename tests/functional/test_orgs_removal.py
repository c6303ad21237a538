"""Issue 13: an organisation removed while a server runs must not come back.

For about a second after ``mailslot orgs remove`` a serving process still resolves the
organisation (its registry snapshot is reloaded once a second). Requests reaching it then
must get the plain 404 of an unknown host (or its normal page, before the removal took
effect), never a 500, and must not make its database, blob folder or tor folder again.

The server keeps a single organisation's context open (``MAILSLOT_ORG_CACHE_SIZE=1``) and the
requests alternate with another organisation's, so that nearly every request to the removed
one builds its context again: the path that used to make its folder again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailslot.orgs import placement
from tests.conftest import LiveServer, start_server, stop_server
from tests.functional.org_helpers import Org, add_org, claim_default, cli, wait_for

pytestmark = pytest.mark.timeout(300)

PLAIN_404 = b"Not Found"
# How long requests keep coming after the removal: twice the registry's reload interval.
KEEP_ASKING = 2.0


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    base = tmp_path_factory.mktemp("orgs-removal")
    extra = {"MAILSLOT_TOR_DIR": str(base / "hs"), "MAILSLOT_ORG_CACHE_SIZE": "1"}
    live = start_server(base, extra)
    claim_default(live)
    yield live
    stop_server(live)


def give_onion_names(server: LiveServer, org_id: str) -> Path:
    """The organisation's tor folder, as tor would have made it (``mailslot tor-config``)."""
    folder = server.config().tor_dir
    assert folder is not None
    made = folder / "orgs" / org_id
    for service, name in (("source", "a" * 56), ("staff", "b" * 56)):
        (made / service).mkdir(parents=True)
        (made / service / "hostname").write_text(f"{name}.onion\n")
    return made


class Asker(threading.Thread):
    """Asks the removed organisation's hosts, between requests to another organisation's,
    until told to stop; keeps every answer to the removed one."""

    def __init__(self, gone: Org, other: Org) -> None:
        super().__init__(daemon=True)
        self.gone, self.other = gone, other
        self.answers: list[tuple[str, int, bytes]] = []
        self.stop = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            with (
                self.gone.source() as source,
                self.gone.staff() as staff,
                self.other.source() as other,
            ):
                while not self.stop.is_set():
                    for kind, client, path in (("source", source, "/"), ("staff", staff, "/login")):
                        answer = client.get(path)
                        self.answers.append((kind, answer.status_code, answer.content))
                        # Pushes the removed organisation's context out of the cache.
                        assert other.get("/").status_code == 200
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.failure = exc


def test_a_removed_organisation_stays_removed_while_requests_reach_it(
    install: LiveServer,
) -> None:
    other, _ = add_org(install, "keeper", "Keeper Desk")
    gone, added = add_org(install, "leaving", "Leaving Desk")
    org_id = added["id"]
    config = install.config()
    tor = give_onion_names(install, org_id)
    database = placement.org_dir(config, org_id) / placement.DATABASE_FILE
    blobs = placement.org_dir(config, org_id) / placement.BLOBS_DIR
    if placement.postgresql(config):
        assert not database.exists()
    else:
        assert database.is_file()
    assert blobs.is_dir()
    asker = Asker(gone, other)
    asker.start()
    try:
        assert wait_for(lambda: len(asker.answers) >= 4)
        done = cli(install.env, "orgs", "remove", "leaving", "--yes")
        assert done.returncode == 0, done.stderr
        removed_at = len(asker.answers)
        time.sleep(KEEP_ASKING)
    finally:
        asker.stop.set()
        asker.join(timeout=60)
    assert asker.failure is None, repr(asker.failure)
    answers = asker.answers
    assert len(answers) > removed_at + 4, "too few requests after the removal"
    statuses = {status for _, status, _ in answers}
    assert statuses <= {200, 404}, statuses
    # Once refused, refused for good, with the same bytes as an unclaimed host.
    first_refusal = next(n for n, (_, status, _) in enumerate(answers) if status == 404)
    assert all(status == 404 for _, status, _ in answers[first_refusal:])
    assert {body for _, status, body in answers if status == 404} == {PLAIN_404}
    # Nothing of it came back.
    assert not database.exists()
    assert not blobs.exists()
    assert not placement.org_dir(config, org_id).exists()
    assert not tor.exists()
    # A request after everything settled is a plain 404 as well, and still makes nothing.
    with gone.source() as source:
        late = source.get("/")
    assert (late.status_code, late.content) == (404, PLAIN_404)
    assert not placement.org_dir(config, org_id).exists()
    assert other.served()
