"""Rewriting the SQLite file after deletions (db/base.py ``rewrite``, ``Rewrites``): a
reader's deletion rewrites at once, a retention round once for all its cases, and a rewrite
that a busy database put off stays owed by that organisation's context (no module state)
until the background job's round settles it. On PostgreSQL nothing is rewritten."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from mailslot import jobs
from mailslot.cases import deletion, retention
from mailslot.cases.models import Case, CaseKeyWrap, Item, ItemKeyWrap
from mailslot.config import Config
from mailslot.context import OrgContext
from mailslot.db import base
from mailslot.recipients.models import User
from mailslot.runtime import Runtime
from tests.unit.test_retention import make_case
from tests.unit.test_services import NOW, add_user

DAY = retention.DAY


@contextmanager
def vacuums(engine: Engine) -> Iterator[list[str]]:
    """Every VACUUM run on ``engine`` while the block runs."""
    seen: list[str] = []

    def look(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper() == "VACUUM":
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", look)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", look)


def rewritten(ctx: OrgContext, times: int) -> int:
    """How many rewrites ``times`` of them come to on this database (none on PostgreSQL)."""
    return times if ctx.engine.dialect.name == "sqlite" else 0


def expired_cases(runtime: Runtime, count: int) -> list[str]:
    return [make_case(runtime, last_activity_at=NOW - 100 * DAY) for _ in range(count)]


def key_wraps(ctx: OrgContext, case_ids: list[str]) -> list[bytes]:
    """The wraps of the cases' keys and of their items' keys."""
    with ctx.db() as db:
        items = select(Item.id).where(Item.case_id.in_(case_ids))
        return [
            *db.scalars(select(CaseKeyWrap.wrapped).where(CaseKeyWrap.case_id.in_(case_ids))),
            *db.scalars(select(ItemKeyWrap.wrapped).where(ItemKeyWrap.item_id.in_(items))),
        ]


def raw_files(ctx: OrgContext) -> bytes:
    """The SQLite database's files as a seizure finds them (the file and its WAL)."""
    database = ctx.engine.url.database
    assert database
    return b"".join(p.read_bytes() for p in Path(database).parent.glob(Path(database).name + "*"))


def test_a_purge_round_rewrites_the_file_once_for_all_its_cases(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    ctx = runtime.default
    expired = expired_cases(runtime, 3)
    kept = make_case(runtime)
    wraps = key_wraps(ctx, expired)
    assert len(wraps) >= 3 * 3  # each case's key, and its two items' keys
    sqlite = ctx.engine.dialect.name == "sqlite"
    if sqlite:  # the positive control: before the purge, the file holds them
        assert all(wrap in raw_files(ctx) for wrap in wraps)
    with vacuums(ctx.engine) as seen:
        purged = retention.purge(ctx, NOW)
    assert sorted(purged) == sorted(expired)
    assert len(seen) == rewritten(ctx, 1)  # was one per purged case
    assert not ctx.rewrites.pending
    if sqlite:  # when the round ends, no deleted wrap is left anywhere in the files
        raw = raw_files(ctx)
        assert not [wrap for wrap in wraps if wrap in raw]
    with ctx.db() as db:
        assert list(db.scalars(select(Case.id))) == [kept]
    # A round with nothing to purge rewrites nothing.
    with vacuums(ctx.engine) as seen:
        assert retention.purge(ctx, NOW) == []
    assert seen == []


def test_the_background_round_rewrites_once_for_its_purge(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    ctx = dataclasses.replace(runtime.default, clock=lambda: float(NOW))
    expired_cases(runtime, 2)
    with vacuums(ctx.engine) as seen:
        jobs.run_once(ctx, None)
    assert len(seen) == rewritten(ctx, 1)
    with ctx.db() as db:
        assert list(db.scalars(select(Case.id))) == []


def test_a_readers_deletion_rewrites_at_once(runtime: Runtime) -> None:
    """The positive control: each deletion by a reader is rewritten right after its commit."""
    alice = add_user(runtime, "alice")
    ctx = runtime.default
    cases = [make_case(runtime) for _ in range(2)]
    with ctx.db() as db:
        user = db.get(User, alice.id)
        assert user is not None
        db.expunge(user)
    with vacuums(ctx.engine) as seen:
        for case_id in cases:
            deletion.delete_case(ctx, user, case_id)
            assert not ctx.rewrites.pending
    assert len(seen) == rewritten(ctx, 2)


def test_a_rewrite_put_off_stays_owed_by_its_context_until_the_round(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(runtime, "alice")
    ctx = runtime.default
    other = dataclasses.replace(ctx, rewrites=base.Rewrites())  # another database's debts
    real = base.rewrite
    busy = [True]

    def rewrite(engine: Engine) -> bool:
        if busy[0]:  # another connection holds the database: VACUUM cannot run
            return False
        return real(engine)

    monkeypatch.setattr(base, "rewrite", rewrite)
    expired_cases(runtime, 2)
    retention.purge(ctx, NOW)
    assert ctx.rewrites.pending  # owed by this organisation's context only
    assert not other.rewrites.pending
    assert not ctx.rewrites.settle(ctx.engine)  # still busy
    busy[0] = False
    with vacuums(ctx.engine) as seen:
        jobs.run_once(dataclasses.replace(ctx, clock=lambda: float(NOW)), None)
    assert len(seen) == rewritten(ctx, 1)
    assert not ctx.rewrites.pending


def test_closing_a_context_settles_what_it_owes(runtime: Runtime) -> None:
    ctx = runtime.default
    ctx.rewrites.owe()
    with vacuums(ctx.engine) as seen:
        ctx.close()
    assert len(seen) == rewritten(ctx, 1)
    assert not ctx.rewrites.pending
    with vacuums(ctx.engine) as seen:
        ctx.close()  # nothing owed: nothing to rewrite
    assert seen == []


def test_mailslot_purge_rewrites_the_file_once(config: Config, runtime: Runtime) -> None:
    """The command's round rewrites the file; the command itself adds no second VACUUM."""
    from click.testing import CliRunner

    from mailslot.cli.purge import purge

    add_user(runtime, "alice")
    # Long expired by the real clock too: the command purges at the time it runs.
    expired = [make_case(runtime, last_activity_at=NOW - 10_000 * DAY) for _ in range(2)]
    seen: list[str] = []

    def look(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper() == "VACUUM":
            seen.append(statement)

    # On the Engine class: the command opens its own engine.
    event.listen(Engine, "before_cursor_execute", look)
    try:
        result = CliRunner().invoke(purge, ["--json"], obj={"config": config})
    finally:
        event.remove(Engine, "before_cursor_execute", look)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert sorted(report["cases"]) == sorted(expired)
    assert len(seen) == rewritten(runtime.default, 1)
    assert report["vacuumed"] is (runtime.default.engine.dialect.name == "sqlite")
