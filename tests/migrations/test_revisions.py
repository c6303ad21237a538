"""Each revision, migrated with data in the database: up from the revision before, then down.

For every revision N the test fills a database at N-1 with the rows of ``rows.ROWS`` (every
table that exists then), upgrades to N and checks that every row kept every value and that
the new columns hold their documented defaults or backfills; then it writes rows that only
the new schema allows, downgrades to N-1 and checks that everything N-1 can hold is still
there and that the schema is exactly N-1's again. Every revision supports downgrading.
"""

from __future__ import annotations

import re
from typing import Final

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from mailslot.db.base import make_engine
from mailslot.db.migrate import alembic_config, downgrade, stored_revision, upgrade
from mailslot.db.models import Base
from tests.migrations.rows import CASE_5, DAY, REVISIONS, ROWS, SOURCE_1, SOURCE_2, rows_up_to
from tests.migrations.snapshots import (
    Snapshot,
    assert_holds,
    assert_same_data,
    insert_rows,
    project,
    schema,
    snapshot,
)


def upgrade_with_rows(engine: Engine, revision: str) -> tuple[Snapshot, Snapshot]:
    """Fill a database at the revision before ``revision`` and upgrade it to ``revision``:
    the snapshots before and after."""
    previous = REVISIONS[REVISIONS.index(revision) - 1]
    upgrade(engine, previous)
    insert_rows(engine, *rows_up_to(previous))
    before = snapshot(engine)
    upgrade(engine, revision)
    assert stored_revision(engine) == revision
    return before, snapshot(engine)


def insert_new_rows(engine: Engine, revision: str) -> Snapshot:
    """Write the rows that need ``revision``'s schema; the snapshot with them in it."""
    insert_rows(engine, ROWS[revision])
    state = snapshot(engine)
    assert_holds(state, ROWS[revision])
    return state


def downgrade_one(engine: Engine, revision: str) -> Snapshot:
    previous = REVISIONS[REVISIONS.index(revision) - 1]
    downgrade(engine, previous)
    assert stored_revision(engine) == previous
    return snapshot(engine)


def test_0001_creates_every_table_from_nothing_and_drops_them_with_rows_in_them(
    engine: Engine,
) -> None:
    upgrade(engine, "0001")
    empty = snapshot(engine)
    assert set(empty) == set(ROWS["0001"])
    assert all(t.rows == [] for t in empty.values())

    full = insert_new_rows(engine, "0001")
    for name, rows in ROWS["0001"].items():  # every column written, so every value compared
        assert full[name].columns == frozenset(rows[0]), name
        assert full[name].rows == project(rows, full[name].columns), name

    downgrade(engine, "base")
    assert stored_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}


def test_0002_adds_key_offline_off_for_existing_users(engine: Engine) -> None:
    new_columns = {"users": {"key_offline"}}
    before, after = upgrade_with_rows(engine, "0002")
    assert_same_data(before, after, new_columns=new_columns)
    assert {r["username"]: r["key_offline"] for r in after["users"].rows} == {
        "admin": False,
        "ana": False,
        "ben": False,
        "dan": False,
    }

    used = insert_new_rows(engine, "0002")
    assert {r["username"] for r in used["users"].rows if r["key_offline"]} == {"chi"}

    # Rebuilding users on SQLite must not cascade into sessions, memberships, key wraps…
    down = downgrade_one(engine, "0002")
    assert_same_data(down, used, new_columns=new_columns)
    assert schema(down) == schema(before)


def test_0003_adds_empty_rate_buckets_and_login_throttles(engine: Engine) -> None:
    new_tables = {"rate_buckets", "login_throttles"}
    before, after = upgrade_with_rows(engine, "0003")
    assert_same_data(before, after, new_tables=new_tables)
    assert after["rate_buckets"].rows == after["login_throttles"].rows == []

    used = insert_new_rows(engine, "0003")
    assert len(used["rate_buckets"].rows) == 2

    down = downgrade_one(engine, "0003")
    assert_same_data(down, used, new_tables=new_tables)
    assert schema(down) == schema(before)


def test_0004_adds_security_keys_for_existing_users(engine: Engine) -> None:
    new_tables = {"webauthn_credentials"}
    before, after = upgrade_with_rows(engine, "0004")
    assert_same_data(before, after, new_tables=new_tables)
    assert after["webauthn_credentials"].rows == []
    assert after["webauthn_credentials"].indexes == {"ix_webauthn_credentials_user_id"}

    used = insert_new_rows(engine, "0004")

    down = downgrade_one(engine, "0004")
    assert_same_data(down, used, new_tables=new_tables)
    assert schema(down) == schema(before)


def test_0005_adds_pending_notices_for_existing_users(engine: Engine) -> None:
    new_tables = {"pending_notices"}
    before, after = upgrade_with_rows(engine, "0005")
    assert_same_data(before, after, new_tables=new_tables)
    assert after["pending_notices"].rows == []
    assert after["pending_notices"].indexes == {"ix_pending_notices_due_at"}

    used = insert_new_rows(engine, "0005")

    down = downgrade_one(engine, "0005")
    assert_same_data(down, used, new_tables=new_tables)
    assert schema(down) == schema(before)


CASE_WORK_TABLES = {
    "audit_events",
    "audit_head",
    "labels",
    "auto_replies",
    "custom_statuses",
    "case_access",
    "case_assignees",
    "case_labels",
}
CASE_WORK_COLUMNS = {
    "cases": {
        "status",
        "custom_status_id",
        "important",
        "acknowledge_by",
        "acknowledged_at",
        "feedback_by",
        "feedback_at",
        "closed_at",
        "due_at",
        "reminded_for",
        "keep_until",
    },
    "channels": {"acknowledge_days", "feedback_days", "retention_days", "closed_retention_days"},
}


def test_0006_backfills_deadlines_and_access_history_for_existing_cases(engine: Engine) -> None:
    before, after = upgrade_with_rows(engine, "0006")
    # Rebuilding cases on SQLite must not cascade into items, key wraps and reads.
    assert_same_data(before, after, new_tables=CASE_WORK_TABLES, new_columns=CASE_WORK_COLUMNS)
    assert before["items"].rows != []

    # Cases from before are new, not important, and due for acknowledgement a week after
    # they were created; nothing else about their handling is known.
    created = {row["id"]: row["created_at"] for row in before["cases"].rows}
    case_columns = {"id", *CASE_WORK_COLUMNS["cases"]}
    assert project(after["cases"].rows, case_columns) == project(
        (
            {
                **dict.fromkeys(case_columns),
                "id": case_id,
                "status": "new",
                "important": False,
                "acknowledge_by": at + 7 * DAY,
                "due_at": at + 7 * DAY,
            }
            for case_id, at in created.items()
        ),
        case_columns,
    )
    channel_defaults = {
        "acknowledge_days": 7,
        "feedback_days": 90,
        "retention_days": 90,
        "closed_retention_days": 30,
    }
    channels = before["channels"].rows
    assert project(after["channels"].rows, channel_defaults) == [channel_defaults] * len(channels)

    # Whoever held a case's key before holds it since the case was created, granted by nobody.
    access = after["case_access"].rows
    grant_columns = ["case_id", "user_id", "granted_at", "granted_by", "revoked_by", "revoked_at"]
    assert project(access, grant_columns) == project(
        (
            {
                **dict.fromkeys(grant_columns),
                "case_id": wrap["case_id"],
                "user_id": wrap["user_id"],
                "granted_at": created[wrap["case_id"]],
            }
            for wrap in before["case_key_wraps"].rows
        ),
        grant_columns,
    )
    assert len({r["id"] for r in access}) == len(access)
    assert all(re.fullmatch("[0-9a-f]{32}", r["id"]) for r in access)
    assert all(after[name].rows == [] for name in CASE_WORK_TABLES - {"case_access"})

    used = insert_new_rows(engine, "0006")

    down = downgrade_one(engine, "0006")
    assert_same_data(down, used, new_tables=CASE_WORK_TABLES, new_columns=CASE_WORK_COLUMNS)
    assert schema(down) == schema(before)


def test_0007_forgets_sources_left_without_a_case(engine: Engine) -> None:
    upgrade(engine, "0006")
    insert_rows(engine, *rows_up_to("0006"))
    # A source whose only case a recipient deleted before 0007: its row stayed behind.
    orphan = {"id": "0" * 32, "lookup": bytes(32), "public_key": bytes(32), "created_at": 0}
    insert_rows(engine, {"sources": [orphan]})
    before = snapshot(engine)
    assert {row["id"] for row in before["sources"].rows} == {SOURCE_1, SOURCE_2, orphan["id"]}
    upgrade(engine, "0007")
    after = snapshot(engine)
    # Only the orphan goes (its lookup tag and public key with it); every other row stays.
    assert project(after["sources"].rows, before["sources"].columns) == [
        row for row in before["sources"].rows if row["id"] != orphan["id"]
    ]
    rest = {name: table for name, table in before.items() if name != "sources"}
    assert_same_data(rest, {name: after[name] for name in rest})
    assert schema(after) == schema(before)

    insert_new_rows(engine, "0007")
    down = downgrade_one(engine, "0007")
    # Nothing comes back: a forgotten codename must stay unusable.
    assert down == after
    assert schema(down) == schema(before)


KEY_VERSION_COLUMNS: Final = {"cases": {"key_version"}, "items": {"key_version"}}


def _rowid_tables(engine: Engine) -> set[str]:
    """The tables of an SQLite database that have a rowid (an empty set on PostgreSQL)."""
    if engine.dialect.name != "sqlite":
        return set()
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
        ).all()
    return {name for name, sql in rows if "WITHOUT ROWID" not in sql.upper()}


def test_0008_drops_rowids_and_adds_key_versions(engine: Engine) -> None:
    before, after = upgrade_with_rows(engine, "0008")
    # Rebuilding every table on SQLite must not cascade into any other.
    assert_same_data(
        before, after, new_tables={"case_past_key_wraps"}, new_columns=KEY_VERSION_COLUMNS
    )
    assert before["items"].rows != []
    # Everything sealed before is under the case key's first version.
    assert {row["key_version"] for row in after["cases"].rows} == {0}
    assert {row["key_version"] for row in after["items"].rows} == {0}
    assert after["case_past_key_wraps"].rows == []
    assert after["case_past_key_wraps"].indexes == {"ix_case_past_key_wraps_user_id"}
    # Only the tables keyed by an integer (and Alembic's own) keep a rowid on SQLite.
    if engine.dialect.name == "sqlite":
        assert _rowid_tables(engine) == {
            "alembic_version",
            "instance",
            "audit_head",
            "audit_events",
        }

    used = insert_new_rows(engine, "0008")

    down = downgrade_one(engine, "0008")
    assert_same_data(
        down, used, new_tables={"case_past_key_wraps"}, new_columns=KEY_VERSION_COLUMNS
    )
    assert schema(down) == schema(before)
    if engine.dialect.name == "sqlite":
        assert _rowid_tables(engine) >= set(before)


DROP_TABLES: Final = {"drop_keys", "drop_key_wraps", "signing_key", "key_manifests"}


def test_0009_adds_empty_drop_key_tables(engine: Engine) -> None:
    before, after = upgrade_with_rows(engine, "0009")
    assert_same_data(before, after, new_tables=DROP_TABLES)
    # Nothing is generated by the migration: the first publication makes the keys.
    assert all(after[table].rows == [] for table in DROP_TABLES)
    assert after["drop_key_wraps"].indexes == {"ix_drop_key_wraps_user_id"}
    if engine.dialect.name == "sqlite":
        assert {"signing_key", "key_manifests"} <= _rowid_tables(engine)
        assert not {"drop_keys", "drop_key_wraps"} & _rowid_tables(engine)

    used = insert_new_rows(engine, "0009")

    down = downgrade_one(engine, "0009")
    assert_same_data(down, used, new_tables=DROP_TABLES)
    assert schema(down) == schema(before)


QUESTIONNAIRE_TABLES: Final = {"questionnaires", "questionnaire_drafts"}


def test_0010_adds_empty_questionnaire_tables(engine: Engine) -> None:
    before, after = upgrade_with_rows(engine, "0010")
    assert_same_data(before, after, new_tables=QUESTIONNAIRE_TABLES)
    assert all(after[table].rows == [] for table in QUESTIONNAIRE_TABLES)
    assert after["questionnaires"].indexes == {"ix_questionnaires_channel_id"}
    if engine.dialect.name == "sqlite":  # random ids, no insertion order at rest
        assert not QUESTIONNAIRE_TABLES & _rowid_tables(engine)

    used = insert_new_rows(engine, "0010")
    assert {(r["version"], r["current"]) for r in used["questionnaires"].rows} == {
        (1, False),
        (2, True),
    }

    down = downgrade_one(engine, "0010")
    assert_same_data(down, used, new_tables=QUESTIONNAIRE_TABLES)
    assert schema(down) == schema(before)


def test_0010_a_draft_goes_with_its_session(engine: Engine) -> None:
    upgrade_with_rows(engine, "0010")
    insert_new_rows(engine, "0010")
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM sessions WHERE kind = 'source'")
    assert snapshot(engine)["questionnaire_drafts"].rows == []


COUNT_TABLES: Final = frozenset({"questionnaire_draft_files", "questionnaire_answer_counts"})


def test_0013_adds_draft_files_and_answer_counts(engine: Engine) -> None:
    before, after = upgrade_with_rows(engine, "0013")
    assert_same_data(before, after, new_tables=COUNT_TABLES)
    assert all(after[table].rows == [] for table in COUNT_TABLES)
    if engine.dialect.name == "sqlite":
        assert not COUNT_TABLES & _rowid_tables(engine)
    used = insert_new_rows(engine, "0013")
    counts = used["questionnaire_answer_counts"]
    assert not {"case_id", "source_id"} & set(counts.rows[0])  # never per case
    with engine.begin() as connection:  # a file's row outlives its session, without it
        connection.exec_driver_sql("DELETE FROM sessions WHERE kind = 'source'")
    files = snapshot(engine)["questionnaire_draft_files"].rows
    assert len(files) == 2
    assert all(row["session_id"] is None for row in files)
    down = downgrade_one(engine, "0013")
    assert not COUNT_TABLES & set(down)
    assert schema(down) == schema(before)


def test_every_revision_and_every_table_is_covered_here() -> None:
    """A new revision fails this until it has its rows in ``rows.ROWS`` and a test above."""
    engine = make_engine("sqlite://")  # only carries the configuration; never connected
    try:
        scripts = ScriptDirectory.from_config(alembic_config(engine))
    finally:
        engine.dispose()
    assert tuple(reversed([s.revision for s in scripts.walk_revisions()])) == REVISIONS
    assert {name for rows in ROWS.values() for name in rows} == set(Base.metadata.tables)


def test_0012_keeps_every_text_as_the_english_default_and_adds_other_languages(
    engine: Engine,
) -> None:
    new_columns = {"instance": {"default_locale", "quick_exit_url"}, "users": {"locale"}}
    before, after = upgrade_with_rows(engine, "0012")
    assert_same_data(before, after, new_tables={"localized_texts"}, new_columns=new_columns)
    assert [(r["default_locale"], r["quick_exit_url"]) for r in after["instance"].rows] == [
        ("en", "")
    ]
    assert {r["locale"] for r in after["users"].rows} == {""}  # the default language
    assert after["localized_texts"].rows == []
    if engine.dialect.name == "sqlite":  # keyed by ids and names: no insertion order kept
        assert "localized_texts" not in _rowid_tables(engine)

    used = insert_new_rows(engine, "0012")
    assert {(r["field"], r["locale"]) for r in used["localized_texts"].rows} == {
        ("name", "ko"),
        ("guidance", "fa"),
        ("name", "de"),
        ("name", "zh_Hant"),
    }

    down = downgrade_one(engine, "0012")
    assert_same_data(down, used, new_tables={"localized_texts"}, new_columns=new_columns)
    assert schema(down) == schema(before)


IDENTITY_TABLES: Final = frozenset({"identities", "identity_key_wraps", "identity_requests"})
CHOICE_COLUMNS: Final = {
    "users": {"display_name"},
    "channels": {"sources_choose"},
    "cases": {"recipients_chosen"},
}


def test_0011_adds_identity_tables_and_recipient_choice_off(engine: Engine) -> None:
    before, after = upgrade_with_rows(engine, "0011")
    assert_same_data(before, after, new_tables=IDENTITY_TABLES, new_columns=CHOICE_COLUMNS)
    assert all(after[table].rows == [] for table in IDENTITY_TABLES)
    # Nothing changes for what exists: no display names, no choice, every case as it was.
    assert {row["display_name"] for row in after["users"].rows} == {None}
    assert {row["sources_choose"] for row in after["channels"].rows} == {False}
    assert {row["recipients_chosen"] for row in after["cases"].rows} == {False}
    assert after["identity_key_wraps"].indexes == {"ix_identity_key_wraps_user_id"}
    assert after["identity_requests"].indexes == {"ix_identity_requests_identity_id"}
    if engine.dialect.name == "sqlite":  # random ids, no insertion order at rest
        assert not IDENTITY_TABLES & _rowid_tables(engine)

    used = insert_new_rows(engine, "0011")
    assert {r["status"] for r in used["identity_requests"].rows} == {"approved", "pending"}
    with engine.begin() as connection:  # the identity and its requests go with the case
        connection.exec_driver_sql(f"DELETE FROM cases WHERE id = '{CASE_5}'")  # noqa: S608
    gone = snapshot(engine)
    assert all(gone[table].rows == [] for table in IDENTITY_TABLES)

    down = downgrade_one(engine, "0011")
    assert not IDENTITY_TABLES & set(down)
    assert schema(down) == schema(before)
