"""Many organisations on one install, in process: ``demo-data --orgs`` makes them (copies of
the first one's database file or schema), a round of background jobs over more organisations
than the context cache holds leaves the cache serving requests alone, and an eviction caused
by a request on the event loop closes the evicted pool in the disposer thread, not on the loop.
``bench/orgs.py`` measures the same at a thousand organisations (docs/performance.md)."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.pool import QueuePool

from mailslot.cases.models import Item
from mailslot.cli._demo_orgs import DemoOrgs, make_orgs
from mailslot.config import load_config
from mailslot.context import OrgContext
from mailslot.crypto import TEST_KDF
from mailslot.db.base import make_engine
from mailslot.db.migrate import HEAD, stored_revision
from mailslot.instance.models import Instance
from mailslot.jobs import run_round
from mailslot.orgs import placement
from mailslot.recipients.models import User
from mailslot.runtime import Runtime, migrate_organisations, open_runtime
from mailslot.tor import SOURCE
from tests.databases import drop_database, migrated_database

pytestmark = pytest.mark.timeout(300)

ORGS = 4
CACHE = 2


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, DemoOrgs]]:
    data_dir = tmp_path_factory.mktemp("orgs-scale") / "data"
    database = migrated_database(data_dir)
    overrides = {"database_url": database} if database else {}
    config = load_config({}, data_dir=data_dir, kdf=TEST_KDF, org_cache_size=CACHE, **overrides)
    runtime = open_runtime(config)
    try:
        rng = random.Random(1)  # noqa: S311 - the shape of demo data
        made = make_orgs(runtime, ORGS, 2, rng, lambda done: None)
        yield runtime, made
    finally:
        runtime.close()
        drop_database(database)


def host(slug: str) -> str:
    return f"{slug}.source.demo.test"


def serving(runtime: Runtime, slug: str) -> OrgContext:
    """Resolve ``slug`` as a request would and use its pool once."""
    ctx = runtime.for_host(host(slug), SOURCE)
    assert ctx is not None
    assert ctx.slug == slug
    with ctx.db() as db:
        db.scalar(select(func.count()).select_from(User))
    return ctx


def idle(engine: Engine) -> int:
    """Connections open and idle in the engine's pool."""
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedin()


def closes(engine: Engine) -> list[str]:
    """The names of the threads that close ``engine``'s connections from now on."""
    seen: list[str] = []

    def closed(*_: Any) -> None:
        seen.append(threading.current_thread().name)

    event.listen(engine.pool, "close", closed)
    return seen


def test_demo_orgs_are_complete_and_each_their_own(world: tuple[Runtime, DemoOrgs]) -> None:
    runtime, made = world
    assert made.slugs == [f"demo-{n:04d}" for n in range(1, ORGS + 1)]
    assert made.copied  # the first one's accounts, not three Argon2id runs per organisation
    salts, names = set(), set()
    for slug in made.slugs:
        ctx = runtime.context(slug)
        with ctx.db() as db:
            instance = db.get_one(Instance, ctx.instance_id)
            salts.add(instance.codename_salt)
            names.add(instance.name)
            staff = sorted(db.scalars(select(User.username)))
            blob_ids = list(db.scalars(select(Item.blob_id)))
        assert staff == ["demo-admin", "demo-alice", "demo-bob"]
        assert len(blob_ids) >= 2  # two cases, each with items, in its own blob store
        assert all(ctx.blobs.exists(blob_id) for blob_id in blob_ids)
        assert runtime.for_host(f"{slug}.staff.demo.test", "staff") is ctx
    assert len(salts) == len(names) == ORGS  # own codename salt and name, not the template's
    # No template copy is left behind (it holds the shared accounts' wrapped keys).
    orgs_dir = runtime.config.data_dir / placement.ORGS_DIR
    assert not list(orgs_dir.glob(".demo-*"))
    if placement.postgresql(runtime.config):
        with runtime.registry.engine.connect() as connection:
            names = connection.execute(text("SELECT nspname FROM pg_namespace")).scalars()
            assert not [name for name in names if name.startswith("mailslot_demo_")]


def test_a_job_round_over_more_orgs_than_the_cache_keeps_the_serving_contexts(
    world: tuple[Runtime, DemoOrgs],
) -> None:
    runtime, made = world
    busy = [serving(runtime, slug) for slug in made.slugs[-CACHE:]]
    cached = dict(runtime._open)
    assert len(cached) == CACHE
    passing: list[Engine] = []
    original = runtime._build

    def build(record: Any) -> OrgContext:
        made_ctx = original(record)
        passing.append(made_ctx.engine)
        return made_ctx

    runtime._build = build  # type: ignore[method-assign]
    try:
        run_round(runtime, None)
    finally:
        del runtime._build
    # The busy contexts are the same objects, their pools untouched, and still the cache.
    assert runtime._open == cached
    assert [runtime.for_host(host(ctx.slug), SOURCE) for ctx in busy] == busy
    assert [idle(ctx.engine) for ctx in busy] == [1] * CACHE
    # The others were opened for their turn only and closed after it.
    assert len(passing) == ORGS - CACHE
    assert [idle(engine) for engine in passing] == [0] * (ORGS - CACHE)


def test_an_eviction_on_the_event_loop_is_disposed_off_it(
    world: tuple[Runtime, DemoOrgs],
) -> None:
    runtime, made = world
    first, second, third = made.slugs[:3]
    # Positive control: evicted from a plain thread (the CLI, a worker), it closes there.
    oldest = serving(runtime, first)
    serving(runtime, second)
    seen = closes(oldest.engine)
    serving(runtime, third)  # pushes ``first`` out
    assert seen == [threading.current_thread().name]

    oldest = next(iter(runtime._open.values()))  # the least recently used: ``second``
    assert oldest.slug == second
    seen = closes(oldest.engine)
    loop_thread: list[str] = []

    async def request() -> None:
        loop_thread.append(threading.current_thread().name)
        assert runtime.for_host(host(first), SOURCE) is not None  # pushes ``second`` out

    asyncio.run(request())
    runtime.settle()
    assert seen, "the evicted pool was not closed"
    assert loop_thread[0] not in seen
    assert all(name.startswith("mailslot-dispose") for name in seen)


def test_orgs_at_an_older_revision_are_migrated_at_start_up(tmp_path: Path) -> None:
    """Demo organisations are copies of one SQLite file (``--revision`` leaves them at an older
    schema), so this install is the embedded one on both passes."""
    config = load_config({}, data_dir=tmp_path / "data", kdf=TEST_KDF)
    runtime = open_runtime(config)
    try:
        rng = random.Random(2)  # noqa: S311 - the shape of demo data
        made = make_orgs(runtime, 2, 5, rng, lambda done: None, revision="0010")
        directory = runtime.registry.load()
    finally:
        runtime.close()

    def revisions() -> list[str | None]:
        found = []
        for slug in made.slugs:
            engine = make_engine(
                f"sqlite:///{placement.org_dir(config, directory.by_slug[slug].id)}/"
                f"{placement.DATABASE_FILE}"
            )
            try:
                found.append(stored_revision(engine))
            finally:
                engine.dispose()
        return found

    assert revisions() == ["0010", "0010"]
    progress: list[str] = []
    assert migrate_organisations(config, directory, progress.append) == 2
    assert revisions() == [HEAD, HEAD]
    assert len(progress) == 2


def test_resting_closes_the_contexts_of_organisations_nobody_uses(
    world: tuple[Runtime, DemoOrgs],
) -> None:
    runtime, made = world
    busy = [serving(runtime, slug) for slug in made.slugs[:CACHE]]
    assert [idle(ctx.engine) for ctx in busy] == [1] * CACHE
    assert runtime.rest(idle_for=60) == 0  # both used just now
    assert list(runtime._open.values()) == busy
    assert [idle(ctx.engine) for ctx in busy] == [1] * CACHE
    assert runtime.rest(idle_for=0) == CACHE
    assert runtime.open_count() == 0
    assert [idle(ctx.engine) for ctx in busy] == [0] * CACHE  # their pools closed
    assert runtime.rest(idle_for=0) == 0
    # Asked for again, an organisation gets a new context that works as before.
    again = serving(runtime, busy[0].slug)
    assert again is not busy[0]
    assert runtime.open_count() == 1
