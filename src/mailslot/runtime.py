"""What one Mailslot process shares: configuration, the host registry, the Argon2id limiter,
and the organisation contexts built on them.

Built once by :func:`open_runtime` and handed to ``create_app`` and the CLI; nothing here is a
module-level singleton. Use cases never take a ``Runtime``: they take the
:class:`~mailslot.context.OrgContext` of one organisation, which a request resolves with
:meth:`Runtime.for_host` and a CLI command with :meth:`Runtime.context`.

Organisations other than the default are opened lazily, on their first request or command,
and kept in a least-recently-used cache of ``MAILSLOT_ORG_CACHE_SIZE`` contexts: the one
pushed out is closed (its owed rewrite settled, its pool's idle connection closed), so a
thousand organisations do not hold a thousand idle pools. A request still using a context
that was pushed out finishes normally. The default organisation is always open. Closing
connections can block (SQLite checkpoints its write-ahead log when the last one closes),
and requests resolve their organisation on the event loop: an eviction there is disposed of
by a worker thread (``mailslot-dispose``), never on the loop itself.

Background jobs visit every organisation each round (:meth:`Runtime.each`): one not in the
cache is opened for its turn only and closed after it, outside the cache, so that a round
over a thousand organisations neither evicts the contexts serving requests nor keeps a
thousand engines (see docs/performance.md, "A thousand organisations"). A context nobody
has used for a minute is closed too (:meth:`Runtime.rest`, from ``jobs.watch_registry``): a
quiet server keeps no connection of an organisation nobody is using.

Which host belongs to which organisation comes from an in-memory :class:`Directory`, a
snapshot of the registry: resolving a request costs no query. :meth:`Runtime.refresh` reads
the registry's generation (one small query) and reloads the snapshot only when it moved;
``mailslot serve`` calls it every second (``mailslot.jobs.watch_registry``), so a change made
by ``mailslot orgs`` reaches every serving process within about a second.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine

from mailslot.config import Config
from mailslot.context import DEFAULT_ORG, KdfLimiter, OrgContext, Quotas, sessions
from mailslot.db.base import make_engine
from mailslot.db.migrate import HEAD, stored_revision, upgrade, upgrade_if_needed
from mailslot.documents.sandbox import WorkerSlots
from mailslot.dropkeys.pages import catch_up
from mailslot.errors import NotFound
from mailslot.i18n import N_, LazyText
from mailslot.instance.services import ensure_instance
from mailslot.orgs import placement
from mailslot.orgs.registry import Directory, OrgRecord, Registry
from mailslot.storage import open_blob_store
from mailslot.tor import OnionAddresses

Progress = Callable[[str], None]
# Seconds without a request after which an organisation's context is closed (Runtime.rest).
REST_AFTER: Final = 60.0


def _quotas(record: OrgRecord) -> Quotas:
    return Quotas(storage=record.storage_quota, cases=record.case_quota)


@dataclass(eq=False)
class Runtime:
    """The process: its configuration, the KDF limiter, the registry, and the organisations'
    contexts (the default always; the others in a bounded LRU cache)."""

    config: Config
    limiter: KdfLimiter
    default: OrgContext
    registry: Registry = field(repr=False)
    directory: Directory = field(repr=False)
    _open: OrderedDict[str, OrgContext] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _disposer: ThreadPoolExecutor | None = field(default=None, repr=False)
    # When each open context was last resolved (time.monotonic; see rest()).
    _used: dict[str, float] = field(default_factory=dict, repr=False)
    # Contexts taken out of the cache so far, pushed out or quiet (see closed_count()).
    _closed: int = field(default=0, repr=False)

    def context(self, slug: str | None = None) -> OrgContext:
        """An organisation's context by slug (the default organisation when None), enabled or
        not: the CLI works on disabled organisations too."""
        if not slug or slug == DEFAULT_ORG:
            return self.default
        record = self.directory.by_slug.get(slug)
        if record is None and self.refresh():
            record = self.directory.by_slug.get(slug)
        if record is None:
            raise NotFound("No such organisation.")
        return self._context(record)

    def for_host(self, host: str, kind: str) -> OrgContext | None:
        """The organisation that serves a request's ``Host`` on its ``kind`` interface
        (``source`` or ``staff``), or None for a host no enabled organisation claims. With
        only the default organisation, it serves every host."""
        record = self.directory.resolve(host, kind)
        if record is None:
            return None
        return self.default if record.is_default else self._context(record)

    def each(self) -> Iterator[OrgContext]:
        """Every enabled organisation's context in turn (blocking: from a worker thread).
        One not already open is opened for its turn only, and closed after it, so that a
        round over every organisation does not push the busy ones out of the cache."""
        for record in self.directory.orgs:
            if not record.enabled:
                continue
            if record.is_default:
                yield self.default
                continue
            with self._lock:
                cached = self._open.get(record.id)
            if cached is not None:
                yield cached
                continue
            passing = self._build(record)
            try:
                yield passing
            finally:
                passing.close()

    def closed_count(self) -> int:
        """How many contexts were taken out of the cache (pushed out or quiet) so far: their
        memory comes back with a full garbage collection (``memory.Collector``)."""
        with self._lock:
            return self._closed

    def open_count(self) -> int:
        """How many organisations other than the default have an open context."""
        with self._lock:
            return len(self._open)

    def refresh(self) -> bool:
        """Reload the registry if it changed since the last look (blocking: one small query
        when nothing changed). Contexts of removed or disabled organisations are closed;
        the others learn their new quotas and addresses. True if something changed."""
        if self.registry.generation() == self.directory.generation:
            return False
        directory = self.registry.load()
        with self._lock:
            self.directory = directory
            for org_id, context in list(self._open.items()):
                record = directory.by_id.get(org_id)
                if record is None or not record.enabled:
                    del self._open[org_id]
                    self._used.pop(org_id, None)
                    context.engine.dispose()
                else:
                    self._open[org_id] = dataclasses.replace(
                        context, config=self._org_config(record), quotas=_quotas(record)
                    )
            default = directory.by_slug.get(DEFAULT_ORG)
            if default is not None:
                self.default = dataclasses.replace(self.default, quotas=_quotas(default))
        return True

    def still_serves(self, context: OrgContext) -> bool:
        """Whether ``context``'s organisation is still enabled, from a fresh look at the
        registry (blocking: one small query). A request that failed in the second before a
        removal or a disabling reached this process asks it (``web.hosts.HostGate``)."""
        if context.slug == DEFAULT_ORG:
            return True
        self.refresh()
        record = self.directory.by_slug.get(context.slug)
        return record is not None and record.enabled

    def close(self) -> None:
        """Close every context (each settles the rewrite it owes) and the registry."""
        with self._lock:
            closing = list(self._open.values())
            self._open.clear()
            disposer, self._disposer = self._disposer, None
        for context in closing:
            context.close()
        if disposer is not None:
            disposer.shutdown(wait=True)
        self.default.close()
        self.registry.close()

    def _retire(self, contexts: list[OrgContext]) -> None:
        """Close evicted contexts: at once from a worker thread or the CLI; from the event
        loop (a request resolving its organisation), in the disposer thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            for context in contexts:
                context.close()
            return
        with self._lock:
            if self._disposer is None:
                self._disposer = ThreadPoolExecutor(1, thread_name_prefix="mailslot-dispose")
            disposer = self._disposer
        for context in contexts:
            disposer.submit(context.close)

    def rest(self, idle_for: float = REST_AFTER) -> int:
        """Close the contexts not resolved for ``idle_for`` seconds (blocking): each is taken
        out of the cache and closed; the next request builds it again (about 0.2 ms, no
        query). An open context costs about 0.5 MiB: its SQLite connection's schema,
        statements and page cache (0.3 MiB) and its engine's dialect and compiled statements
        (0.1 to 0.2 MiB, freed only by a full garbage collection: ``memory.Collector``). How
        much of it the process gives back is measured in docs/performance.md, "A thousand
        organisations". Returns how many were closed."""
        cutoff = time.monotonic() - idle_for
        with self._lock:
            quiet = [org_id for org_id in self._open if self._used.get(org_id, 0.0) < cutoff]
            closed = [self._open.pop(org_id) for org_id in quiet]
            for org_id in quiet:
                self._used.pop(org_id, None)
            self._closed += len(closed)
        for context in closed:
            context.close()
        return len(closed)

    def settle(self) -> None:
        """Wait until every engine evicted so far is disposed of (blocking)."""
        with self._lock:
            disposer = self._disposer
        if disposer is not None:
            disposer.submit(lambda: None).result()

    def _context(self, record: OrgRecord) -> OrgContext:
        evicted: list[OrgContext] = []
        with self._lock:
            found = self._open.get(record.id)
            if found is not None:
                self._open.move_to_end(record.id)
                self._used[record.id] = time.monotonic()
                return found
            made = self._build(record)
            self._open[record.id] = made
            self._used[record.id] = time.monotonic()
            while len(self._open) > self.config.org_cache_size:
                org_id, pushed_out = self._open.popitem(last=False)
                self._used.pop(org_id, None)
                evicted.append(pushed_out)
            self._closed += len(evicted)
        self._retire(evicted)
        return made

    def _org_config(self, record: OrgRecord) -> Config:
        return placement.org_config(
            self.config, list(record.source_hosts), list(record.staff_hosts)
        )

    def _build(self, record: OrgRecord) -> OrgContext:
        """A context for an organisation other than the default (its engine connects only
        when first used)."""
        engine = placement.engine(self.config, record.id)
        return OrgContext(
            slug=record.slug,
            instance_id=record.instance_id,
            config=self._org_config(record),
            engine=engine,
            session_factory=sessions(engine),
            blobs=placement.blob_store(self.config, record.id, shared=self.default.blobs),
            limiter=self.limiter,
            document_slots=self.default.document_slots,
            onions=OnionAddresses(placement.tor_dir(self.config, record.id)),
            clock=self.default.clock,
            quotas=_quotas(record),
        )


def migrate_organisations(
    config: Config,
    directory: Directory,
    progress: Progress | None = None,
    registry: Engine | None = None,
) -> int:
    """Bring every organisation's database other than the default's to the head revision,
    saying which as it goes; returns how many it migrated. With the ``registry``'s engine,
    the revisions are read over its one connection where the database allows
    (``placement.revisions``), and only an organisation behind is opened."""
    others = [org for org in directory.orgs if not org.is_default]
    known = placement.revisions(config, registry, [org.id for org in others]) if registry else {}
    migrated = 0
    for number, record in enumerate(others, start=1):
        if known.get(record.id, "") == HEAD:
            continue
        engine = placement.engine(config, record.id)
        try:
            if stored_revision(engine) != HEAD:
                if progress is not None:
                    progress(
                        LazyText(
                            N_("Migrating organisation %(number)s of %(total)s (%(slug)s)"),
                            number=number,
                            total=len(others),
                            slug=record.slug,
                        )
                    )
                upgrade(engine)
                catch_up(engine, record.instance_id, int(time.time()))
                migrated += 1
        finally:
            engine.dispose()
    return migrated


def open_runtime(
    config: Config, *, migrate: bool = True, progress: Progress | None = None
) -> Runtime:
    """Create the data directory and the host registry (with the default organisation in it)
    if they are missing, connect, migrate every organisation's database, and make sure the
    default organisation's instance exists."""
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)
    limiter = KdfLimiter(config.kdf_concurrency, config.kdf_queue)
    registry = Registry(placement.registry_engine(config))
    engine = make_engine(config.resolved_database_url)
    try:
        if migrate:
            upgrade_if_needed(engine)
        blobs = open_blob_store(config)
        blobs.cleanup_incomplete()
        context = OrgContext(
            slug=DEFAULT_ORG,
            instance_id=0,
            config=config,
            engine=engine,
            session_factory=sessions(engine),
            blobs=blobs,
            limiter=limiter,
            document_slots=WorkerSlots(config.document_workers, config.document_wait),
            onions=OnionAddresses(config.tor_dir),
        )
        registry.ensure(context.now())
        directory = registry.load()
        if migrate:
            migrate_organisations(config, directory, progress, registry.engine)
        for record in directory.orgs:
            if not record.is_default:
                placement.blob_store(config, record.id, shared=blobs).cleanup_incomplete()
        with context.db() as db:
            instance_id = ensure_instance(db, config.kdf, context.now()).id
        if migrate:  # drop keys for members added before they were synced where they change
            catch_up(engine, instance_id, context.now())
    except BaseException:
        engine.dispose()
        registry.close()
        raise
    # The context is immutable: made again with the id its database gave the instance.
    default = dataclasses.replace(
        context,
        instance_id=instance_id,
        quotas=_quotas(directory.by_slug[DEFAULT_ORG]),
    )
    return Runtime(
        config=config, limiter=limiter, default=default, registry=registry, directory=directory
    )
