"""A new organisation's database is a copy of a template the migrations made
(``orgs/templates.py``, ``db/clone.py``): the copy must be the migrated schema exactly, catalog
entry by catalog entry, so that no future migration can make the two drift apart unseen."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from mailslot.db.base import make_engine
from mailslot.db.clone import CloneError, clone_schema
from mailslot.db.migrate import HEAD, stored_revision, upgrade
from mailslot.db.models import Base
from mailslot.db.planner import analyze
from mailslot.orgs import operator, placement, templates
from mailslot.runtime import Runtime
from tests.databases import TEST_DATABASE

postgresql_only = pytest.mark.postgresql_only  # deselected on the SQLite pass (conftest.py)
sqlite_only = pytest.mark.skipif(TEST_DATABASE != "sqlite", reason="SQLite files: the SQLite pass")
Catalog = dict[str, list[tuple[Any, ...]]]

# Read with the schema alone on the search path, so that definitions name its objects
# without it and two schemas' entries compare equal. Written apart from db/clone.py's
# queries, and wider: what the copy does not make must show up here as a difference.
_CATALOG = {
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.reloptions, c.relacl::text,
               c.relrowsecurity, c.relchecks, c.reltoastrelid <> 0, c.relreplident,
               obj_description(c.oid, 'pg_class'), pg_get_userbyid(c.relowner)
        FROM pg_class c WHERE c.relnamespace = to_regnamespace(:s)""",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
               a.attcollation::regcollation::text, a.attstorage, a.attcompression,
               a.attstattarget, a.attacl::text, col_description(c.oid, a.attnum)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = to_regnamespace(:s) AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT k.conname, c.relname, k.contype, k.condeferrable, k.condeferred,
               k.convalidated, pg_get_constraintdef(k.oid), k.confrelid::regclass::text,
               k.conkey, k.confkey, k.confupdtype, k.confdeltype, k.confmatchtype,
               i.relname
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        LEFT JOIN pg_class i ON i.oid = k.conindid
        WHERE k.connamespace = to_regnamespace(:s)""",
    "indexes": """
        SELECT i.relname, c.relname, x.indisunique, x.indisprimary, x.indimmediate,
               x.indisvalid, x.indnullsnotdistinct, x.indkey::text,
               pg_get_indexdef(x.indexrelid, 0, false), pg_get_expr(x.indpred, x.indrelid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class c ON c.oid = x.indrelid WHERE c.relnamespace = to_regnamespace(:s)""",
    "sequences": """
        SELECT s.sequencename, s.data_type::text, s.start_value, s.min_value, s.max_value,
               s.increment_by, s.cycle, s.cache_size, s.last_value,
               (SELECT t.relname || '.' || a.attname || ':' || d.deptype::text FROM pg_depend d
                JOIN pg_class t ON t.oid = d.refobjid
                JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
                WHERE d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
                  AND d.refclassid = 'pg_class'::regclass)
        FROM pg_sequences s WHERE s.schemaname = :s""",
    "triggers": """
        SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = to_regnamespace(:s) AND NOT t.tgisinternal""",
    # Those a foreign key makes for itself are named after their oid: counted, by kind.
    "key triggers": """
        SELECT c.relname, t.tgfoid::regproc::text, t.tgtype, count(*)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = to_regnamespace(:s) AND t.tgisinternal
        GROUP BY 1, 2, 3""",
    "types": """
        SELECT t.typname, t.typtype, t.typcategory FROM pg_type t
        WHERE t.typnamespace = to_regnamespace(:s)""",
    "routines": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc)
        FROM pg_proc p WHERE p.pronamespace = to_regnamespace(:s)""",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = :s",
    "policies": "SELECT tablename, policyname, qual FROM pg_policies WHERE schemaname = :s",
    "rules": "SELECT tablename, rulename, definition FROM pg_rules WHERE schemaname = :s",
}


def catalog(connection: Connection, schema: str) -> Catalog:
    """Everything PostgreSQL records about ``schema``'s objects, and every row of its
    tables, with the schema's own name taken out."""
    connection.execute(text("SELECT set_config('search_path', :s, true)"), {"s": schema})
    found: Catalog = {}
    for name, query in _CATALOG.items():
        rows = connection.execute(text(query), {"s": schema}).all()
        found[name] = sorted(
            (tuple(str(v).replace(f"{schema}.", "") for v in row) for row in rows), key=repr
        )
    for (table,) in connection.execute(
        text("SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace(:s) "
             "AND relkind = 'r'"), {"s": schema}
    ):  # fmt: skip
        rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()  # noqa: S608
        found[f"rows of {table}"] = sorted((tuple(row) for row in rows), key=repr)
    return found


def differences(one: Catalog, other: Catalog) -> dict[str, Any]:
    return {
        key: {
            "only in the first": sorted(set(one.get(key, [])) - set(other.get(key, [])), key=repr),
            "only in the second": sorted(set(other.get(key, [])) - set(one.get(key, [])), key=repr),
            "order": one.get(key) != other.get(key),
        }
        for key in sorted({*one, *other})
        if one.get(key) != other.get(key)
    }


def read(engine: Engine, schema: str) -> Catalog:
    with engine.begin() as connection:
        return catalog(connection, schema)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[Engine]:
    """An engine on the test database with no schema of its own chosen."""
    engine = create_engine(runtime.config.resolved_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated(runtime: Runtime, server: Engine) -> Iterator[str]:
    """A schema made the old way: every migration run from nothing."""
    name = f"migrated_{secrets.token_hex(4)}"
    with server.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    engine = make_engine(runtime.config.resolved_database_url, schema=name)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    yield name
    with server.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def scratch(server: Engine, *statements: str) -> str:
    name = f"scratch_{secrets.token_hex(4)}"
    with server.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
        connection.execute(text(f'SET LOCAL search_path = "{name}"'))
        for statement in statements:
            connection.execute(text(statement))
    return name


def drop(server: Engine, *schemas: str) -> None:
    with server.begin() as connection:
        for schema in schemas:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def schemas(server: Engine) -> set[str]:
    with server.connect() as connection:
        return set(connection.execute(text("SELECT nspname FROM pg_namespace")).scalars())


@postgresql_only
def test_a_new_organisations_schema_is_the_migrated_schema_exactly(
    runtime: Runtime, server: Engine, migrated: str
) -> None:
    added = operator.add(runtime.config, runtime.registry, slug="beta", name="Beta",
                         now=runtime.default.now())  # fmt: skip
    org = placement.schema(added.id)
    expected = read(server, migrated)
    # What the comparison covers: every table, index, constraint and sequence of the head.
    kinds = [row[1] for row in expected["relations"]]
    assert kinds.count("r") >= 39
    assert kinds.count("i") >= 80
    assert kinds.count("S") >= 2
    assert expected["rows of alembic_version"] == [(HEAD,)]
    assert any("nextval" in str(row) for row in expected["columns"])
    # The organisation's own rows (its instance, its setup link, its default channel) are
    # what operator.add wrote after the copy; its structure is compared alone.
    got = read(server, org)
    structure = {key: rows for key, rows in got.items() if not key.startswith("rows of")}
    wanted = {key: rows for key, rows in expected.items() if not key.startswith("rows of")}
    sequences = {"sequences"}  # the instance row took an id
    assert (
        differences(
            {k: v for k, v in wanted.items() if k not in sequences},
            {k: v for k, v in structure.items() if k not in sequences},
        )
        == {}
    )
    # A copy of the template itself, rows and sequence state included, is identical.
    copy = f"org_{secrets.token_hex(16)}"
    with server.begin() as connection:
        clone_schema(connection, templates.schema_name(), copy)
    try:
        assert differences(expected, read(server, copy)) == {}
    finally:
        drop(server, copy)


@postgresql_only
def test_the_comparison_sees_a_copy_that_drifted(
    runtime: Runtime, server: Engine, migrated: str
) -> None:
    """Positive control: each kind of drift a careless copy could make is a difference."""
    drifts = [
        "ALTER TABLE channels ALTER COLUMN acknowledge_days SET DEFAULT 8",
        "ALTER TABLE users ALTER COLUMN locale DROP NOT NULL",
        'DROP INDEX "ix_cases_source_id"',
        'ALTER TABLE cases DROP CONSTRAINT "fk_cases_channel_id_channels"',
        "SELECT setval('instance_id_seq', 5)",
        "COMMENT ON TABLE cases IS 'x'",
        "INSERT INTO login_throttles (key, failures, first_failure_at, locked_until, "
        "unreported) VALUES ('\\x00', 1, 0, 0, 0)",
    ]
    expected = read(server, migrated)
    for drift in drifts:
        copy = f"copy_{secrets.token_hex(4)}"
        with server.begin() as connection:
            clone_schema(connection, migrated, copy)
        try:
            assert differences(expected, read(server, copy)) == {}
            with server.begin() as connection:
                connection.execute(text(f'SET LOCAL search_path = "{copy}"'))
                connection.execute(text(drift))
            assert differences(expected, read(server, copy)) != {}, drift
        finally:
            drop(server, copy)


@postgresql_only
@pytest.mark.parametrize(
    "extra",
    [
        "CREATE VIEW open_cases AS SELECT id FROM cases",
        "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
        "CREATE TYPE mood AS ENUM ('calm')",
        "CREATE TABLE counted (n integer GENERATED ALWAYS AS IDENTITY)",
        "COMMENT ON TABLE cases IS 'x'",
        "CREATE UNLOGGED TABLE fleeting (n integer)",
        "ALTER TABLE cases ENABLE ROW LEVEL SECURITY",
        "CREATE RULE nothing AS ON DELETE TO cases DO INSTEAD NOTHING",
    ],
)
def test_a_source_with_something_the_copy_does_not_make_is_refused(
    runtime: Runtime, server: Engine, extra: str
) -> None:
    source = scratch(server, "CREATE TABLE cases (id integer PRIMARY KEY)", extra)
    target = f"copy_{secrets.token_hex(4)}"
    try:
        with server.begin() as connection, pytest.raises(CloneError):
            clone_schema(connection, source, target)
        assert target not in schemas(server)
    finally:
        drop(server, source, target)


@postgresql_only
def test_a_trigger_is_refused(runtime: Runtime, server: Engine) -> None:
    source = scratch(
        server,
        "CREATE TABLE cases (id integer PRIMARY KEY)",
        "CREATE FUNCTION public.stamp_for_test() RETURNS trigger LANGUAGE plpgsql "
        "AS $$BEGIN RETURN NEW; END$$",
        "CREATE TRIGGER stamped BEFORE INSERT ON cases FOR EACH ROW "
        "EXECUTE FUNCTION public.stamp_for_test()",
    )
    try:
        with server.begin() as connection, pytest.raises(CloneError, match="trigger"):
            clone_schema(connection, source, f"copy_{secrets.token_hex(4)}")
    finally:
        drop(server, source)
        with server.begin() as connection:
            connection.execute(text("DROP FUNCTION IF EXISTS public.stamp_for_test()"))


@postgresql_only
def test_a_creation_that_fails_leaves_no_schema_and_no_directory(
    runtime: Runtime, server: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []

    def copy_then_fail(connection: Connection, source: str, target: str) -> None:
        clone_schema(connection, source, target)
        made.append(target)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(placement, "clone_schema", copy_then_fail)
    org_id = secrets.token_hex(16)
    with pytest.raises(RuntimeError, match="disk is full"):
        placement.create(runtime.config, runtime.registry.engine, org_id)
    assert made == [placement.schema(org_id)]  # the copy was complete, then rolled back
    assert placement.schema(org_id) not in schemas(server)
    assert not placement.org_dir(runtime.config, org_id).exists()


@postgresql_only
def test_the_template_is_made_when_missing_and_old_ones_are_removed(
    runtime: Runtime, server: Engine
) -> None:
    drop(server, templates.schema_name())
    older = scratch(server, "CREATE TABLE alembic_version (version_num varchar(32))")
    with server.begin() as connection:
        connection.execute(text(f'ALTER SCHEMA "{older}" RENAME TO "{templates.PREFIX}0001"'))
    left = scratch(server)  # what a builder cut short left behind
    with server.begin() as connection:
        connection.execute(
            text(f'ALTER SCHEMA "{left}" RENAME TO "{templates.schema_name()}_deadbeef"')
        )
    added = operator.add(runtime.config, runtime.registry, slug="beta", name="Beta",
                         now=runtime.default.now())  # fmt: skip
    present = {name for name in schemas(server) if name.startswith(templates.PREFIX)}
    assert present == {templates.schema_name()}
    template = make_engine(runtime.config.resolved_database_url, schema=templates.schema_name())
    org = placement.engine(runtime.config, added.id)
    try:
        assert stored_revision(template) == HEAD
        assert stored_revision(org) == HEAD
    finally:
        template.dispose()
        org.dispose()


@postgresql_only
def test_a_copy_keeps_rows_and_sequence_state(runtime: Runtime, server: Engine) -> None:
    """What the demo's organisations rely on: a copy of a filled schema has its rows, and
    its sequences go on from where the source's were."""
    added = operator.add(runtime.config, runtime.registry, slug="beta", name="Beta",
                         now=runtime.default.now())  # fmt: skip
    source = placement.schema(added.id)
    copy = f"copy_{secrets.token_hex(4)}"
    names = [f'"{schema}".instance_id_seq' for schema in (source, copy)]
    with server.begin() as connection:
        connection.execute(text(f"SELECT setval('{names[0]}', 41)"))
        clone_schema(connection, source, copy)
    try:
        assert differences(read(server, source), read(server, copy)) == {}
        with server.begin() as connection:
            following = [connection.execute(text(f"SELECT nextval('{n}')")).scalar_one()
                         for n in names]  # fmt: skip
        assert following == [42, 42]
    finally:
        drop(server, copy)


@sqlite_only
def test_a_new_sqlite_organisation_starts_as_a_copy_of_the_template(
    runtime: Runtime, tmp_path: Path
) -> None:
    stale = runtime.config.data_dir / f"{templates.FILE_PREFIX}0001.sqlite3"
    stale.write_bytes(b"an older revision's template")
    added = operator.add(runtime.config, runtime.registry, slug="beta", name="Beta",
                         now=runtime.default.now())  # fmt: skip
    template = templates.sqlite_path(runtime.config)
    assert template.stat().st_mode & 0o777 == 0o600
    assert not stale.exists()
    assert sorted(p.name for p in runtime.config.data_dir.glob(".org-template*")) == []
    migrated = tmp_path / "migrated.sqlite3"
    engine = make_engine(f"sqlite:///{migrated}")
    upgrade(engine)
    engine.dispose()

    def schema_of(path: Path) -> list[tuple[Any, ...]]:
        reader = create_engine(f"sqlite:///{path}")
        try:
            with reader.connect() as connection:
                rows = connection.execute(
                    text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name")
                ).all()
                version = connection.execute(text("PRAGMA user_version")).scalar_one()
                page = connection.execute(text("PRAGMA page_size")).scalar_one()
        finally:
            reader.dispose()
        return [*(tuple(row) for row in rows), ("user_version", version), ("page", page)]

    def unordered(entries: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        # Batch migrations (0008) write a rebuilt table's constraints in no fixed order.
        return [
            (*entry[:-1], sorted(line.strip(" ,\t") for line in str(entry[-1]).splitlines()))
            for entry in entries
        ]

    org_file = placement.org_dir(runtime.config, added.id) / placement.DATABASE_FILE
    assert schema_of(org_file) == schema_of(template)
    assert unordered(schema_of(org_file)) == unordered(schema_of(migrated))
    org = placement.engine(runtime.config, added.id)
    try:
        assert stored_revision(org) == HEAD
    finally:
        org.dispose()


@postgresql_only
def test_statistics_are_gathered_for_the_engines_own_schema_only(
    runtime: Runtime, server: Engine
) -> None:
    """``analyze`` (after a migration, a restore, demo data) visits one organisation's tables,
    not every organisation's: a whole-database ANALYZE grew with their number."""
    beta = operator.add(runtime.config, runtime.registry, slug="beta", name="Beta",
                        now=runtime.default.now())  # fmt: skip
    gamma = operator.add(runtime.config, runtime.registry, slug="gamma", name="Gamma",
                         now=runtime.default.now())  # fmt: skip

    def analysed() -> dict[str, int]:
        with server.connect() as connection:
            rows = connection.execute(
                text("SELECT schemaname, sum(analyze_count) FROM pg_stat_user_tables "
                     "WHERE schemaname IN (:b, :g) GROUP BY 1"),
                {"b": placement.schema(beta.id), "g": placement.schema(gamma.id)},
            ).all()  # fmt: skip
        return {str(schema): int(count) for schema, count in rows}

    before = analysed()
    engine = placement.engine(runtime.config, beta.id)
    try:
        assert analyze(engine)
    finally:
        engine.dispose()
    after = analysed()
    tables = len(Base.metadata.tables) + 1  # and alembic_version
    assert after[placement.schema(beta.id)] == before.get(placement.schema(beta.id), 0) + tables
    assert after.get(placement.schema(gamma.id), 0) == before.get(placement.schema(gamma.id), 0)
