"""The inbox is read in one of two shapes (cases/inbox.py, "Plans that need no statistics"):
from the ids of the cases a user holds when they are few, along the sort's index when they
are many. ``test_inbox.py`` runs with the default threshold, under which its users hold few;
here the same checks run with the threshold at 0, so that every user is read the other
way, and a user who holds nothing gets an empty page from one statement."""

from __future__ import annotations

from typing import Any

import pytest

from mailslot.cases import inbox
from mailslot.runtime import Runtime
from tests.unit.test_inbox import (  # noqa: F401 - the fixture and the tests run here again
    add_user,
    counting,
    run,
    test_a_page_costs_the_same_statements_whatever_its_size,
    test_filters_and_sorts_agree_with_a_plain_reading,
    test_no_filter_ever_shows_a_case_without_a_key,
    test_search_by_pseudonym_part_and_id_prefix,
    world,
)


@pytest.fixture(autouse=True)
def every_user_holds_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbox, "SMALL_INBOX", 0)


def page_ids_statement(statements: list[str]) -> str:
    (found,) = [s for s in statements if s.startswith("SELECT cases.id \nFROM cases")]
    return found


def test_the_other_shape_is_the_one_read_here(
    runtime: Runtime,
    world: dict[str, Any],  # noqa: F811 - the imported fixture
) -> None:
    # Positive control for the tests imported above: with the threshold at 0 the page walks
    # an index and checks each case's key; with the default one it reads the user's ids.
    now = runtime.default.now()
    with counting(runtime) as statements:
        run(runtime, world["ann"], inbox.InboxQuery(), now)
    page_ids = page_ids_statement(statements)
    assert "EXISTS" in page_ids
    assert "case_key_wraps" in page_ids
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inbox, "SMALL_INBOX", 500)
        with counting(runtime) as statements:
            run(runtime, world["ann"], inbox.InboxQuery(), now)
    page_ids = page_ids_statement(statements)
    assert "case_key_wraps" not in page_ids
    assert "cases.id IN" in page_ids


def test_a_user_holding_no_case_gets_an_empty_page_from_one_statement(
    runtime: Runtime,
    world: dict[str, Any],  # noqa: F811 - the imported fixture
) -> None:
    nobody = add_user(runtime, "nobody", ())
    now = runtime.default.now()
    for query in (inbox.InboxQuery(), inbox.InboxQuery(overdue=True, sort=inbox.Sort.DEADLINE)):
        with counting(runtime) as statements:
            page = run(runtime, nobody, query, now)
        assert page.rows == []
        assert (page.total, page.overdue_count, page.due_soon_count) == (0, 0, 0)
        # Besides loading the user: their key wraps, and nothing else.
        (read,) = [s for s in statements if "FROM users" not in s]
        assert "FROM case_key_wraps" in read
    # Positive control: a user who holds cases gets them, from more statements.
    with counting(runtime) as statements:
        assert run(runtime, world["ann"], inbox.InboxQuery(), now).rows
    assert len([s for s in statements if "FROM users" not in s]) > 1
