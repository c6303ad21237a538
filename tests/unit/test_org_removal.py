"""Issue 13: opening an organisation makes nothing, and a request that reaches one removed in
the second before its process reloaded the registry gets the plain 404 of an unknown host.

The window is held open here: the runtime serving the app is not refreshed until a request
fails, as ``jobs.watch_registry`` would have done up to a second later.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError
from starlette.types import ASGIApp

from mailslot.config import Config
from mailslot.orgs import operator, placement
from mailslot.orgs.registry import Registry
from mailslot.runtime import Runtime, open_runtime
from mailslot.storage import FilesystemBlobStore
from mailslot.web.app import create_source_app, create_staff_app

SOURCE_HOST = "tips.leaving.test"
STAFF_HOST = "staff.leaving.test"
PLAIN_404 = b"Not Found"


@pytest.fixture
def served(config: Config) -> Iterator[tuple[Runtime, str]]:
    """A runtime with organisations ``keeper`` and ``leaving`` besides the default (which
    claims hosts of its own), keeping one context open; and the id of ``leaving``."""
    runtime = open_runtime(dataclasses.replace(config, org_cache_size=1))
    now = runtime.default.now()
    operator.set_hosts(
        runtime.registry,
        "default",
        source_hosts=["tips.default.test"],
        staff_hosts=["staff.default.test"],
    )
    # A third one: with the default alone left, it would serve every host.
    for slug, hosts in (("keeper", ["tips.keeper.test"]), ("leaving", [SOURCE_HOST])):
        added = operator.add(
            runtime.config,
            runtime.registry,
            slug=slug,
            name=f"Desk {slug}",
            source_hosts=hosts,
            staff_hosts=[STAFF_HOST] if slug == "leaving" else [],
            now=now,
        )
    assert runtime.refresh()
    yield runtime, added.id
    runtime.close()


def ask(app: ASGIApp, host: str, path: str) -> httpx.Response:
    """One request, as a client would send it (a server error comes back as a 500)."""

    async def one() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
            return await client.get(path)

    return asyncio.run(one())


def remove_elsewhere(config: Config) -> None:
    """``mailslot orgs remove leaving``, as another process would run it: the serving
    runtime does not hear of it."""
    registry = Registry(placement.registry_engine(config))
    try:
        operator.remove(config, registry, "leaving")
    finally:
        registry.close()


def test_a_request_in_the_second_after_removal_gets_the_plain_404_and_makes_nothing(
    served: tuple[Runtime, str],
) -> None:
    runtime, org_id = served
    source = create_source_app(runtime)
    staff = create_staff_app(runtime)
    assert ask(source, SOURCE_HOST, "/").status_code == 200
    assert ask(staff, STAFF_HOST, "/login").status_code == 200
    # Its context closed (as after a quiet minute): the next request builds it again.
    assert runtime.rest(idle_for=-1.0) == 1
    remove_elsewhere(runtime.config)
    assert runtime.directory.by_slug["leaving"].enabled  # the stale snapshot still serves it
    assert not placement.org_dir(runtime.config, org_id).exists()

    home = ask(source, SOURCE_HOST, "/")
    assert (home.status_code, home.content) == (404, PLAIN_404)
    assert "leaving" not in runtime.directory.by_slug  # the failure made it look again
    login = ask(staff, STAFF_HOST, "/login")
    assert (login.status_code, login.content) == (404, PLAIN_404)
    assert not placement.org_dir(runtime.config, org_id).exists()
    assert runtime.open_count() == 0


def test_a_request_on_a_context_still_open_gets_no_500(served: tuple[Runtime, str]) -> None:
    runtime, org_id = served
    source = create_source_app(runtime)
    assert ask(source, SOURCE_HOST, "/").status_code == 200
    remove_elsewhere(runtime.config)
    home = ask(source, SOURCE_HOST, "/")
    # Its page from what the open connection still reads, or the plain 404: never an error.
    assert home.status_code in (200, 404), home.status_code
    if home.status_code == 404:
        assert home.content == PLAIN_404
    assert not placement.org_dir(runtime.config, org_id).exists()


def test_opening_an_organisation_makes_no_database(config: Config) -> None:
    """Neither its SQLite file (connecting fails) nor its PostgreSQL schema (connections
    only name it in their search path: its tables are not there)."""
    org_id = "0" * 32
    engine = placement.engine(config, org_id)
    try:
        if placement.postgresql(config):
            with pytest.raises(ProgrammingError), engine.connect() as connection:
                connection.execute(text("SELECT id FROM instance"))
            with engine.connect() as connection:
                found = connection.execute(
                    text("SELECT count(*) FROM pg_namespace WHERE nspname = :name"),
                    {"name": placement.schema(org_id)},
                ).scalar_one()
            assert found == 0
        else:
            with pytest.raises(OperationalError), engine.connect() as connection:
                connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert not placement.org_dir(config, org_id).exists()


def test_an_organisations_blob_store_is_made_by_the_first_write_only(tmp_path: Path) -> None:
    place = tmp_path / "org"
    place.mkdir()
    store = FilesystemBlobStore(place / "blobs", create=False)
    assert not (place / "blobs").exists()
    assert list(store.blob_ids()) == []
    assert store.cleanup_incomplete() == 0
    assert not store.exists("a" * 64)
    assert not (place / "blobs").exists()
    writer = store.create()
    writer.write(b"sealed")
    assert writer.commit() == len(b"sealed")
    blob_id = writer.blob_id
    assert b"".join(store.open(blob_id)) == b"sealed"
    assert list(store.blob_ids()) == [blob_id]


def test_a_write_after_the_organisation_went_makes_nothing(tmp_path: Path) -> None:
    place = tmp_path / "org"
    store = FilesystemBlobStore(place / "blobs", create=False)
    with pytest.raises(FileNotFoundError):
        store.create()
    assert not place.exists()
