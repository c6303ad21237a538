"""The declarative base, engine creation and the unit-of-work helper."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import BigInteger, Connection, Engine, MetaData, String, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column
from sqlalchemy.pool import QueuePool

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def new_id() -> str:
    """A random 128-bit identifier, hex encoded: reveals neither order nor time."""
    return secrets.token_hex(16)


def now() -> int:
    return int(time.time())


COARSE = 3600


def coarse(timestamp: int) -> int:
    """Timestamps about cases are kept in clear only to the hour (exact times are sealed)."""
    return timestamp - timestamp % COARSE


def insert_ignoring_conflict(
    dialect: str,
    table: Any,
    values: Mapping[str, Any],
    index_elements: Sequence[str] | None = None,
) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for ``dialect`` ("postgresql" or "sqlite").

    Each dialect's module is imported when first used: PostgreSQL's would otherwise cost an
    instance on SQLite about 2 MiB of memory for nothing.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql as module  # noqa: PLC0415 - see above
    else:
        from sqlalchemy.dialects import sqlite as module  # type: ignore[no-redef]  # noqa: PLC0415
    return module.insert(table).values(values).on_conflict_do_nothing(index_elements=index_elements)


def id_column(**kwargs: Any) -> Any:
    return mapped_column(String(32), primary_key=True, default=new_id, **kwargs)


def time_column(**kwargs: Any) -> Any:
    return mapped_column(BigInteger, **kwargs)


# How long a connection waits for SQLite's write lock. Writers take turns; under a burst on a
# busy machine (200 slow uploads ending together at a load average of 15) a queue of
# submissions waited more than 10 s and a few were lost to a 500 (`docs/performance.md`).
BUSY_TIMEOUT_MS: Final = 30000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # secure_delete overwrites freed pages so deleted rows don't linger in the file.
    for pragma in (
        # For a new file only (a no-op once the database exists): tables keyed by random ids
        # are WITHOUT ROWID (db/models.py), whose rows spill to an overflow page of their
        # own beyond about a quarter of a page. 8 KiB keeps key wraps, public keys and
        # sessions (1.1 to 1.6 KiB) inline: 4 KiB pages made such tables 3 times larger.
        "PRAGMA page_size=8192",
        "PRAGMA foreign_keys=ON",
        "PRAGMA secure_delete=ON",
        "PRAGMA journal_mode=WAL",
        # FULL: every commit reaches the disk before the request is answered (with NORMAL,
        # WAL mode could lose the last commits in a power cut while their blobs survive).
        "PRAGMA synchronous=FULL",
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        # Each pooled connection keeps its own page cache (2 MiB by default, and a pool holds
        # several); the operating system caches the file anyway. 512 KiB each is plenty for
        # the hot pages of a submission (indexes of sessions, cases, items).
        "PRAGMA cache_size=-512",
    ):
        cursor.execute(pragma)
    cursor.close()


def make_engine(url: str, *, pool_size: int | None = None, schema: str | None = None) -> Engine:
    """An engine for ``url``. ``pool_size``: connections kept open when idle (an organisation
    other than the default keeps fewer, see ``mailslot.orgs.placement``); ``schema``: on
    PostgreSQL, the only schema the connections see (``search_path``), so that unqualified
    names are that organisation's tables."""
    if url.startswith("sqlite"):
        # A small pool of long-lived connections: opening one per transaction costs the
        # pragmas each time, and closing the last one checkpoints and deletes the WAL. Two
        # stay open when idle; a burst opens up to 16, closed as they come back: each keeps
        # its own schema and page cache, and eight kept after 200 concurrent uploads held
        # several MiB that an idle server does not need (docs/performance.md).
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
            poolclass=QueuePool,
            pool_size=2 if pool_size is None else pool_size,
            max_overflow=16 - (2 if pool_size is None else pool_size),
            pool_timeout=60,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"options": f"-c search_path={schema}"} if schema else {}
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10 if pool_size is None else pool_size,
        max_overflow=20 if pool_size is None else 30 - pool_size,
        connect_args=connect_args,
    )


SHRED: Final = "mailslot.shred"


def shred_on_commit(db: Session) -> None:
    """Mark this unit of work as destroying secrets (key wraps, lookup tags): once it commits,
    old copies of the changed pages must not survive anywhere in the database files.

    ``secure_delete`` zeroes freed pages in the SQLite file, but in WAL mode the previous
    versions of each changed page stay in the ``-wal`` file until a checkpoint copies the
    new ones back and the log is truncated. PostgreSQL needs nothing here (its old row
    versions are the operator's concern: see docs/threat-model.md).
    """
    db.info[SHRED] = True


def checkpoint(engine: Engine, attempts: int = 5) -> bool:
    """Fold the WAL into the database and truncate it to zero bytes (SQLite only).

    A reader holding an older snapshot (a long backup, say) blocks this. Each attempt waits
    at most a moment, so a request never hangs on it; if every attempt finds a reader, the
    background job (:mod:`mailslot.jobs`) tries again on its next round. Returns True when
    the log is empty.
    """
    if engine.dialect.name != "sqlite":
        return True
    for attempt in range(attempts):
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA busy_timeout=50")
            try:
                busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
            finally:
                connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if busy is not None and busy[0] == 0:
            return True
        if attempt + 1 < attempts:
            time.sleep(0.02)  # a reader still holds an older snapshot; it may end soon
    return False


def rewrite(engine: Engine) -> bool:
    """After a unit of work that destroyed secrets: rewrite the SQLite file, then fold and
    truncate the WAL (SQLite only). Returns False when another connection kept the rewrite
    from running (the caller's :class:`Rewrites` keeps it owed).

    ``secure_delete`` zeroes a cell when it is freed, but not what SQLite leaves behind when
    it rebuilds a page to balance the tree: the unused gap of a rebuilt page can keep an old
    copy of a cell that moved to another page, and that copy outlives the cell when the row
    is deleted later (the seizure tests found such copies of deleted key wraps). ``VACUUM``
    writes every page again from the live rows only. It costs a pass over the file, which
    the embedded database (meant for small installs) can afford at each deletion; the
    retention purge does it once per round, not once per case.
    """
    if engine.dialect.name != "sqlite":
        return True
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM")
    except OperationalError:
        done = False
    else:
        done = True
    checkpoint(engine)
    return done


class Rewrites:
    """The rewrites (:func:`rewrite`) one database owes: one per engine, kept by the
    organisation's context (``OrgContext.rewrites``), never in module state.

    A unit of work that destroyed secrets owes one when it commits; a rewrite that runs
    settles every debt counted before it started (it rewrites the whole file). One that a
    busy database put off stays owed until the next :meth:`settle`: the background job's
    round, or ``OrgContext.close``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owed = 0  # commits that destroyed secrets, not yet covered by a rewrite

    @property
    def pending(self) -> bool:
        with self._lock:
            return self._owed > 0

    def owe(self) -> None:
        with self._lock:
            self._owed += 1

    def settle(self, engine: Engine) -> bool:
        """Rewrite the file if a rewrite is owed; True when nothing is owed any more."""
        with self._lock:
            covered = self._owed
        if not covered:
            return True
        if not rewrite(engine):
            return False
        with self._lock:
            # Debts counted while the rewrite ran stay owed: it may have begun before them.
            self._owed -= covered
            return self._owed == 0


@contextmanager
def unit_of_work(
    factory: Callable[[], Session], rewrites: Rewrites | None = None, *, settle: bool = True
) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back otherwise.

    If it destroyed secrets (:func:`shred_on_commit`), a rewrite of the file is owed to
    ``rewrites`` (a throwaway one without it) and, with ``settle``, done right after the
    commit; without, the caller settles ``rewrites`` once after several units of work."""
    session = factory()
    try:
        yield session
        session.commit()
        if session.info.pop(SHRED, False):
            bind = session.get_bind()
            owed = Rewrites() if rewrites is None else rewrites
            owed.owe()
            if settle or rewrites is None:
                owed.settle(bind.engine if isinstance(bind, Connection) else bind)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
