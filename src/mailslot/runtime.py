"""The running instance's shared parts: configuration, database, blob store and limits.

Built once by :func:`open_runtime` and handed to ``create_app`` and the CLI; nothing here is a
module-level singleton.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailslot.config import Config
from mailslot.db.base import make_engine, unit_of_work
from mailslot.db.migrate import upgrade_if_needed
from mailslot.errors import TooManyRequests
from mailslot.instance.services import ensure_instance
from mailslot.storage import BlobStore, FilesystemBlobStore
from mailslot.tor import SOURCE, OnionAddresses

T = TypeVar("T")


@dataclass
class Runtime:
    config: Config
    engine: Engine
    session_factory: sessionmaker[Session]
    blobs: BlobStore
    clock: Callable[[], float] = time.time
    onions: OnionAddresses = field(default_factory=lambda: OnionAddresses(None))
    kdf_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(4)
    )
    # Derivations running or waiting for a slot; more than slots + queue are turned away.
    kdf_pending: int = 0
    kdf_lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> int:
        return int(self.clock())

    @contextmanager
    def db(self) -> Iterator[Session]:
        with unit_of_work(self.session_factory) as session:
            yield session

    def transact(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one unit of work (blocking: call it from a worker thread)."""
        with self.db() as session:
            return work(session)

    def kdf(self, work: Callable[[], T]) -> T:
        """Run an Argon2id computation within the concurrency cap (bounds peak memory).

        A flood beyond the cap waits in a bounded queue; past that it is refused at once
        with :class:`TooManyRequests`, so waiting work cannot pile up without limit.
        """
        with self.kdf_lock:
            if self.kdf_pending >= self.config.kdf_concurrency + self.config.kdf_queue:
                raise TooManyRequests(
                    "Mailslot is very busy right now. Please wait a minute and try again; "
                    "nothing was sent.",
                    retry_after=30,
                )
            self.kdf_pending += 1
        try:
            with self.kdf_slots:
                return work()
        finally:
            with self.kdf_lock:
                self.kdf_pending -= 1

    def source_onion_url(self) -> str:
        """The source interface's onion URL: configured, or as tor created it; else ""."""
        if self.config.source_onion:
            return self.config.source_onion
        address = self.onions.address(SOURCE)
        return f"http://{address}" if address else ""

    def close(self) -> None:
        self.engine.dispose()


def open_runtime(config: Config, *, migrate: bool = True) -> Runtime:
    """Create the data directory, connect, migrate, and make sure the instance exists."""
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)
    engine = make_engine(config.resolved_database_url)
    if migrate:
        upgrade_if_needed(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    runtime = Runtime(
        config=config,
        engine=engine,
        session_factory=factory,
        blobs=FilesystemBlobStore(config.blob_dir),
        kdf_slots=threading.BoundedSemaphore(config.kdf_concurrency),
        onions=OnionAddresses(config.tor_dir),
    )
    runtime.blobs.cleanup_incomplete()
    with runtime.db() as db:
        ensure_instance(db, config.kdf, runtime.now())
    return runtime
