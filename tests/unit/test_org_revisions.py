"""Start-up reads every organisation's schema revision without opening 1,000 connections
(issue 13: 199 s to start with 1,000 organisations on PostgreSQL, one connection each)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from mailslot.config import Config
from mailslot.db.migrate import HEAD
from mailslot.orgs import operator, placement
from mailslot.runtime import migrate_organisations, open_runtime


def test_revisions_come_over_one_connection_and_only_a_late_one_is_opened(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = open_runtime(config)
    try:
        ids = [
            operator.add(
                runtime.config,
                runtime.registry,
                slug=slug,
                name=slug,
                source_hosts=[f"{slug}.test"],
                staff_hosts=[],
                now=runtime.default.now(),
            ).id
            for slug in ("first", "second")
        ]
        registry = runtime.registry.engine
        found = placement.revisions(runtime.config, registry, ids)
        opened: list[str] = []
        real_engine = placement.engine

        def counting(config: Config, org_id: str) -> Any:
            opened.append(org_id)
            return real_engine(config, org_id)

        monkeypatch.setattr(placement, "engine", counting)
        directory = runtime.registry.load()
        if placement.postgresql(runtime.config):
            assert found == {ids[0]: HEAD, ids[1]: HEAD}
            assert migrate_organisations(runtime.config, directory, None, registry) == 0
            assert opened == []  # every revision read over the registry's connection
            # A schema without a revision table (a broken or foreign one) is opened and checked.
            with registry.begin() as connection:
                connection.execute(text(f'DROP TABLE "{placement.schema(ids[1])}".alembic_version'))
            assert placement.revisions(runtime.config, registry, ids)[ids[1]] is None
        else:  # a file per organisation: nothing shared to read them over
            assert found == {}
            assert migrate_organisations(runtime.config, directory, None, registry) == 0
            assert sorted(opened) == sorted(ids)
    finally:
        runtime.close()
