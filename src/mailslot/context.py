"""The organisation context every use case takes, and the process-wide parts it borrows.

An :class:`OrgContext` is one organisation's world: its database (its engine and a session
factory bound to it), its blob store, its settings, its clock and onion addresses, the id
of its instance row and its quotas. Use cases (``sources.submissions.submit``,
``cases.replies.send_reply``, ``recipients.login.log_in`` …) take one as their first
argument, open their unit of work with :meth:`OrgContext.db`, and record their own audit
events; the HTML views, the JSON API and the CLI only resolve the context and translate to
and from their medium.

What stays process-wide lives in :class:`mailslot.runtime.Runtime`: the host registry, the
open contexts, the Argon2id limiter (:class:`KdfLimiter`, shared so that every
organisation's logins count against one memory bound) and, in the web layer, the
templates. A context only borrows the limiter.

Layering::

    Runtime (process)  ── registry, KdfLimiter, contexts by organisation (bounded, LRU)
      └── OrgContext   ── engine, session_factory, blobs, config, clock, onions, instance_id,
                          quotas
            └── use cases (blocking; run in a worker thread by the web layer)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from mailslot.config import Config
from mailslot.db.base import Rewrites, unit_of_work
from mailslot.documents.sandbox import WorkerSlots
from mailslot.errors import TooManyRequests
from mailslot.storage import BlobStore
from mailslot.tor import SOURCE, OnionAddresses

T = TypeVar("T")

DEFAULT_ORG = "default"


class KdfLimiter:
    """A cap on concurrent Argon2id computations (each costs its memory parameter), with a
    bounded queue: past ``concurrency + queue`` waiting or running, work is refused at once
    with :class:`TooManyRequests`, so a flood cannot pile up threads without limit."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self.pending = 0

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` within the cap (blocking: call it from a worker thread)."""
        with self._lock:
            if self.pending >= self.concurrency + self.queue:
                raise TooManyRequests(
                    "Mailslot is very busy right now. Please wait a minute and try again; "
                    "nothing was sent.",
                    retry_after=30,
                )
            self.pending += 1
        try:
            with self._slots:
                return work()
        finally:
            with self._lock:
                self.pending -= 1


def sessions(engine: Engine) -> Callable[[], Session]:
    """A context's session factory: plain ``Session`` objects bound to ``engine``.

    Not a ``sessionmaker``: each of those makes a ``Session`` subclass of its own, which
    with SQLAlchemy's event bookkeeping for it costs about 25 KiB and, being a class, is
    freed only by a full garbage collection. A round of background jobs builds a context for
    each of a thousand organisations (docs/performance.md, "A thousand organisations")."""
    return partial(Session, engine, expire_on_commit=False)


@dataclass(frozen=True, slots=True)
class Quotas:
    """An organisation's quotas, set by the host operator (``mailslot.orgs.quotas`` checks
    them); None: no limit."""

    storage: int | None = None
    cases: int | None = None


@dataclass(frozen=True, eq=False)
class OrgContext:
    """One organisation, as its use cases see it. Immutable; shared by every request of the
    organisation; safe to use from several threads (each unit of work is its own session)."""

    slug: str
    instance_id: int
    config: Config
    engine: Engine = field(repr=False)
    session_factory: Callable[[], Session] = field(repr=False)
    blobs: BlobStore = field(repr=False)
    limiter: KdfLimiter = field(repr=False)
    onions: OnionAddresses = field(repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)
    quotas: Quotas = field(default_factory=Quotas)
    # The process-wide cap on document workers (mailslot.documents.sandbox), shared by every
    # organisation's context like ``limiter``.
    document_slots: WorkerSlots = field(default_factory=lambda: WorkerSlots(2, 30), repr=False)
    # The SQLite file rewrites this database owes after deletions (db.base.Rewrites); kept
    # by a context made again from this one (dataclasses.replace) with the same engine.
    rewrites: Rewrites = field(default_factory=Rewrites, repr=False)

    def now(self) -> int:
        return int(self.clock())

    @contextmanager
    def db(self, *, rewrite: bool = True) -> Iterator[Session]:
        """One unit of work on this organisation's database: committed when the block ends,
        rolled back if it raises. One that destroys secrets rewrites the SQLite file after
        its commit; with ``rewrite=False`` the rewrite stays owed (``rewrites``) for the
        caller to settle once after several (the retention purge)."""
        with unit_of_work(self.session_factory, self.rewrites, settle=rewrite) as session:
            yield session

    def transact(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one unit of work (blocking: call it from a worker thread)."""
        with self.db() as session:
            return work(session)

    def close(self) -> None:
        """Settle an owed rewrite (one attempt), then close the engine's idle connections."""
        self.rewrites.settle(self.engine)
        self.engine.dispose()

    def kdf(self, work: Callable[[], T]) -> T:
        """Run an Argon2id computation under the process-wide cap (blocking)."""
        return self.limiter.run(work)

    def source_onion_url(self) -> str:
        """The source interface's onion URL: configured, or as tor created it; else ""."""
        if self.config.source_onion:
            return self.config.source_onion
        address = self.onions.address(SOURCE)
        return f"http://{address}" if address else ""
