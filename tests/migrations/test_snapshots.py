"""Positive controls for the comparison the revision tests rely on: each kind of damage a
migration could do to a database makes it fail."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.migrations.snapshots import Snapshot, TableState, assert_same_data

Damage = Callable[[Snapshot], None]


def before() -> Snapshot:
    return {
        "users": TableState(
            columns=frozenset({"id", "name", "key"}),
            indexes=frozenset(),
            rows=[
                {"id": "a", "name": "ana", "key": b"\x00k"},
                {"id": "b", "name": "ben", "key": None},
            ],
        ),
        "sessions": TableState(
            columns=frozenset({"id", "user_id"}),
            indexes=frozenset({"ix_sessions_user_id"}),
            rows=[{"id": "s", "user_id": "a"}],
        ),
    }


def after() -> Snapshot:
    """``before`` upgraded well: a new column with its default, a new table."""
    state = before()
    users = state["users"]
    state["users"] = TableState(
        columns=users.columns | {"offline"},
        indexes=users.indexes,
        rows=[{**row, "offline": False} for row in users.rows],
    )
    state["notices"] = TableState(frozenset({"user_id"}), frozenset(), [])
    return state


def compare(upgraded: Snapshot) -> None:
    assert_same_data(before(), upgraded, new_tables={"notices"}, new_columns={"users": {"offline"}})


def test_a_faithful_upgrade_passes() -> None:
    compare(after())


def _lose_a_row(state: Snapshot) -> None:
    state["sessions"].rows.clear()


def _change_a_value(state: Snapshot) -> None:
    state["users"].rows[0]["key"] = b"k"


def _null_a_value(state: Snapshot) -> None:
    state["users"].rows[0]["name"] = None


def _add_a_row(state: Snapshot) -> None:
    state["users"].rows.append({"id": "c", "name": "chi", "key": None, "offline": False})


def _lose_a_column(state: Snapshot) -> None:
    users = state["users"]
    state["users"] = TableState(users.columns - {"key"}, users.indexes, users.rows)


def _lose_a_table(state: Snapshot) -> None:
    del state["sessions"]


def _keep_a_stray_table(state: Snapshot) -> None:
    state["leftover"] = TableState(frozenset({"id"}), frozenset(), [])


@pytest.mark.parametrize(
    "damage",
    [
        _lose_a_row,
        _change_a_value,
        _null_a_value,
        _add_a_row,
        _lose_a_column,
        _lose_a_table,
        _keep_a_stray_table,
    ],
)
def test_damage_is_caught(damage: Damage) -> None:
    damaged = after()
    damage(damaged)
    with pytest.raises(AssertionError):
        compare(damaged)
