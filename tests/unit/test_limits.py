"""Token buckets and login throttles, on SQLite and (when configured) PostgreSQL, including
several threads racing for the same bucket."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mailslot.config import load_config
from mailslot.crypto import TEST_KDF
from mailslot.db.models import Base
from mailslot.errors import TooManyRequests
from mailslot.limits import services as limits
from mailslot.limits.models import LoginThrottle, RateBucket
from mailslot.runtime import Runtime, open_runtime

POSTGRESQL_URL = os.environ.get("MAILSLOT_TEST_POSTGRESQL_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def rt(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    overrides: dict[str, object] = {"data_dir": tmp_path / "data", "kdf": TEST_KDF}
    if request.param == "postgresql":
        if not POSTGRESQL_URL:
            if os.environ.get("CI"):
                pytest.fail("MAILSLOT_TEST_POSTGRESQL_URL must be set in CI")
            pytest.skip("no PostgreSQL server configured (set MAILSLOT_TEST_POSTGRESQL_URL)")
        overrides["database_url"] = POSTGRESQL_URL
        # A plain engine: opening a runtime reads the instance row, which an empty database
        # (this test run alone on a fresh server) does not have yet.
        probe = create_engine(POSTGRESQL_URL)
        with probe.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        probe.dispose()
    runtime = open_runtime(load_config({}, **overrides))
    yield runtime
    runtime.close()


def test_bucket_allows_its_capacity_then_refills_each_minute(rt: Runtime) -> None:
    for _ in range(3):
        rt.default.transact(lambda db: limits.take(db, "t", per_minute=3, now=1000.0))
    with pytest.raises(TooManyRequests) as refused:
        rt.default.transact(lambda db: limits.take(db, "t", per_minute=3, now=1000.0))
    assert refused.value.retry_after == 21  # the next minute starts at 1020
    with pytest.raises(TooManyRequests):
        rt.default.transact(lambda db: limits.take(db, "t", per_minute=3, now=1019.5))
    for _ in range(3):
        rt.default.transact(lambda db: limits.take(db, "t", per_minute=3, now=1020.0))
    with pytest.raises(TooManyRequests):
        rt.default.transact(lambda db: limits.take(db, "t", per_minute=3, now=1079.0))
    # Only the minute is kept.
    stored = rt.default.transact(lambda db: db.get(RateBucket, "t"))
    assert stored is not None
    assert stored.updated_at == 1020.0
    # Zero turns the limit off.
    for _ in range(10):
        rt.default.transact(lambda db: limits.take(db, "off", per_minute=0, now=1000.0))


def test_racing_threads_never_overspend_a_bucket(rt: Runtime) -> None:
    granted: list[bool] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            rt.default.transact(lambda db: limits.take(db, "race", per_minute=10, now=5010.0))
            ok = True
        except TooManyRequests:
            ok = False
        with lock:
            granted.append(ok)

    threads = [threading.Thread(target=attempt) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 30
    assert granted.count(True) == 10


def test_login_lock_doubles_and_success_reports_failures(rt: Runtime) -> None:
    def fail(now: int) -> None:
        rt.default.transact(lambda db: limits.login_failed(db, "Ana", now=now, threshold=3))

    for now in (100, 101):
        fail(now)
        rt.default.transact(
            lambda db, at=now + 1: limits.check_login(db, "ana", at)
        )  # not locked yet
    fail(102)
    with pytest.raises(TooManyRequests) as locked:
        rt.default.transact(lambda db: limits.check_login(db, " ANA ", 103))
    assert locked.value.retry_after == 59
    rt.default.transact(lambda db: limits.check_login(db, "ana", 162))  # the lock has run out
    fail(162)
    with pytest.raises(TooManyRequests) as relocked:
        rt.default.transact(lambda db: limits.check_login(db, "ana", 163))
    assert relocked.value.retry_after == 119
    assert rt.default.transact(lambda db: limits.login_succeeded(db, "ana")) == 4
    assert rt.default.transact(lambda db: db.get(LoginThrottle, limits.login_key("ana"))) is None
    assert rt.default.transact(lambda db: limits.login_succeeded(db, "ana")) == 0


def test_old_failures_stop_counting_but_are_still_reported(rt: Runtime) -> None:
    for now in (0, 1):
        rt.default.transact(lambda db, at=now: limits.login_failed(db, "bo", now=at, threshold=3))
    day_later = limits.FAILURE_WINDOW + 10
    rt.default.transact(lambda db: limits.login_failed(db, "bo", now=day_later, threshold=3))
    rt.default.transact(lambda db: limits.check_login(db, "bo", day_later + 1))  # 1 recent failure
    assert rt.default.transact(lambda db: limits.login_succeeded(db, "bo")) == 3


def test_the_throttle_stores_no_username(rt: Runtime) -> None:
    rt.default.transact(lambda db: limits.login_failed(db, "carla.k", now=0, threshold=3))
    with rt.default.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM login_throttles")).all()
    assert len(rows) == 1
    assert b"carla" not in repr(rows).encode()
