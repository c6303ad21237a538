"""What an organisation's context costs and gives back: one session class for all of them,
one idle connection each, a debt of rewrites settled when the context is closed, and the
spaced full garbage collections that return what closed contexts held (docs/performance.md,
"A thousand organisations")."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import weakref
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from mailslot import jobs, memory
from mailslot.config import Config
from mailslot.context import OrgContext
from mailslot.orgs import operator
from mailslot.runtime import Runtime, open_runtime


@pytest.fixture
def small(config: Config) -> Iterator[Runtime]:
    """A runtime whose cache holds two organisations besides the default, with three."""
    runtime = open_runtime(dataclasses.replace(config, org_cache_size=2))
    for slug in ("alpha", "beta", "gamma"):
        operator.add(
            runtime.config,
            runtime.registry,
            slug=slug,
            name=f"Desk {slug}",
            source_hosts=[],
            staff_hosts=[],
            now=runtime.default.now(),
        )
    assert runtime.refresh()
    yield runtime
    runtime.close()


def pool(ctx: OrgContext) -> QueuePool:
    found = ctx.engine.pool
    assert isinstance(found, QueuePool)
    return found


def test_contexts_share_one_session_class(small: Runtime) -> None:
    before = set(Session.__subclasses__())  # weakly held: earlier tests' may go meanwhile
    contexts = [small.context(slug) for slug in ("alpha", "beta", "gamma")]
    sessions = [ctx.session_factory() for ctx in contexts]
    try:
        # A sessionmaker per context would make a Session subclass per organisation.
        assert {type(session) for session in sessions} == {Session}
        assert set(Session.__subclasses__()) - before == set()
        assert [session.get_bind() for session in sessions] == [c.engine for c in contexts]
        assert not any(session.expire_on_commit for session in sessions)
    finally:
        for session in sessions:
            session.close()


def test_an_organisation_keeps_one_idle_connection(small: Runtime) -> None:
    ctx = small.context("alpha")
    with ctx.db() as first, ctx.db() as second:
        first.execute(text("SELECT 1"))
        second.execute(text("SELECT 1"))
        assert pool(ctx).checkedout() == 2  # overlapping units of work each get one
    assert pool(ctx).checkedin() == 1


def test_closing_a_context_settles_the_rewrite_it_owes(small: Runtime) -> None:
    resting = small.context("alpha")
    resting.rewrites.owe()
    assert small.closed_count() == 0
    assert small.rest(idle_for=0) == 1
    assert not resting.rewrites.pending
    assert small.closed_count() == 1  # a full collection is owed for it
    # Pushed out of the cache (from a plain thread: closed at once).
    evicted = small.context("beta")
    evicted.rewrites.owe()
    small.context("gamma")
    small.context("alpha")
    assert small.open_count() == 2
    assert small.closed_count() == 2
    assert not evicted.rewrites.pending
    assert pool(evicted).checkedin() == 0


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_collection_is_owed_by_closed_contexts_and_spaced() -> None:
    now = [1000.0]
    collector = memory.Collector(every=60, clock=lambda: now[0])
    assert not collector.due()  # nothing closed yet
    collector.owe()
    assert collector.due()
    collector.collect()
    assert not collector.due()
    collector.owe()
    now[0] += 59
    assert not collector.due()  # at most one a minute
    now[0] += 1
    assert collector.due()


def test_a_collection_frees_what_only_refers_to_itself() -> None:
    collector = memory.Collector()
    enabled = gc.isenabled()
    gc.disable()  # so that only the collector can free the cycle
    try:
        held = Cycle()
        alive = weakref.ref(held)
        del held
        assert alive() is not None  # positive control: reference counts alone keep it
        assert collector.collect() >= 1
        assert alive() is None
    finally:
        if enabled:
            gc.enable()


def test_the_registry_watch_collects_after_a_context_is_pushed_out(
    small: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    collected: list[int] = []
    real = memory.Collector.collect

    def collect(self: memory.Collector) -> int:
        collected.append(1)
        return real(self)

    monkeypatch.setattr(memory.Collector, "collect", collect)

    async def serve() -> None:
        watch = asyncio.create_task(jobs.watch_registry(small, interval=0.01))
        try:
            await asyncio.sleep(0.2)
            assert collected == []  # nothing closed: no collection
            for slug in ("alpha", "beta", "gamma"):  # the third pushes ``alpha`` out
                small.context(slug)
            for _ in range(200):
                await asyncio.sleep(0.01)
                if collected:
                    break
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    asyncio.run(serve())
    small.settle()
    assert collected == [1]
