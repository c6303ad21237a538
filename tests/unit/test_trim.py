"""The server gives memory back after requests: a trim after every busy interval, and a full
garbage collection once when it goes quiet (web/server.py ``trim_after_requests``)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from mailslot import memory
from mailslot.web import server as server_module

pytestmark = pytest.mark.no_database


def test_a_busy_interval_trims_and_the_first_quiet_one_collects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(memory, "trim", lambda: calls.append("trim") or True)
    monkeypatch.setattr(memory, "collect_and_trim", lambda: calls.append("collect") or 0)
    # Requests answered so far, read once per interval: busy, busy, quiet, quiet, busy, quiet.
    readings = iter([3, 5, 5, 5, 9, 9])

    class State:
        @property
        def total_requests(self) -> int:
            found = next(readings, None)
            if found is None:
                raise asyncio.CancelledError
            return found

    fake: Any = SimpleNamespace(server_state=State())

    async def run() -> None:
        with pytest.raises(asyncio.CancelledError):
            await server_module.trim_after_requests([fake], interval=0)

    asyncio.run(run())
    assert calls == ["trim", "trim", "collect", "trim", "collect"]


def test_collect_and_trim_frees_objects_caught_in_cycles() -> None:
    class Node:
        other: Any = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second
    assert memory.collect_and_trim() >= 2
