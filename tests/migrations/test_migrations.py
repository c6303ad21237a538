"""Each Alembic revision goes up and down, and the models never drift from the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from mailslot.db.migrate import (
    HEAD,
    current,
    downgrade,
    head,
    stored_revision,
    upgrade,
    upgrade_if_needed,
)
from mailslot.db.models import Base

# The ``engine`` fixture (tests/migrations/conftest.py) is a fresh database for each test.


def test_upgrade_reaches_head_and_matches_models(engine: Engine) -> None:
    upgrade(engine)
    assert current(engine) == head(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO channels (id, name, description, created_at) VALUES ('c1', 'x', '', 0)"
            )
        )
        assert connection.execute(text("SELECT count(*) FROM channels")).scalar() == 1
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(engine).get_table_names())


def test_0002_keeps_users_and_marks_their_keys_online(engine: Engine) -> None:
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, role, password_kdf, password_salt,"
                " password_verifier, totp_secret, totp_last_counter, public_key,"
                " private_key_password_wrap, disabled, created_at) VALUES ('u1', 'ana',"
                " 'recipient', 'k', :salt, :verifier, 'S', 0, :pk, :wrap, :no, 0)"
            ),
            {"salt": b"s" * 16, "verifier": b"v" * 32, "pk": b"p", "wrap": b"w", "no": False},
        )
    upgrade(engine, "0002")
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT username, key_offline, private_key_password_wrap FROM users")
        ).one()
    assert (row[0], bool(row[1]), bytes(row[2])) == ("ana", False, b"w")
    downgrade(engine, "0001")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT username FROM users")).scalar() == "ana"
        assert "key_offline" not in {c["name"] for c in inspect(connection).get_columns("users")}


def test_the_head_constant_is_alembics_head(engine: Engine) -> None:
    assert head(engine) == HEAD
    assert stored_revision(engine) is None
    assert upgrade_if_needed(engine) is True
    assert stored_revision(engine) == HEAD
    assert upgrade_if_needed(engine) is False
