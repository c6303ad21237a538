"""Copying a PostgreSQL schema, structure and rows, with SQL from the catalog.

A new organisation's schema is a copy of a template schema that the migrations made once
(``orgs/templates.py``): a copy takes 40 to 60 % of the time of running every migration
from nothing (docs/performance.md, "A thousand organisations"). The copy reads the source's
definitions from the catalog (``pg_get_constraintdef``, ``pg_get_indexdef``,
``pg_get_expr``, ``format_type``) and runs them in the target, in the caller's transaction,
so a failure leaves no schema behind.

It copies what migrations make: tables (columns in their order, types, collations,
``NOT NULL``, defaults), sequences (their options, state and owning column), every
constraint, every index, and the rows. Anything else in the source (a view, a function, a
type, a trigger, a policy, a rule, a comment, a grant, an identity or generated column)
raises :class:`CloneError` rather than being left out: the migration that adds one must
teach this module to copy it. ``tests/unit/test_org_template.py`` compares a copy of a
migrated schema with the migrated schema, catalog entry by catalog entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from mailslot.errors import MailslotError


class CloneError(MailslotError):
    """The source schema holds something this module does not copy."""


@dataclass(frozen=True, slots=True)
class _Sequence:
    name: str
    options: str
    last_value: int
    is_called: bool
    owner: str | None  # "table.column" whose default uses it


def clone_schema(connection: Connection, source: str, target: str) -> None:
    """Create the schema ``target`` (which must not exist) as a copy of ``source``, rows
    included, in ``connection``'s transaction (the caller commits or rolls back)."""
    found = _relations(connection, source)
    _refuse_what_is_not_copied(connection, source, found)
    # The catalog's functions name objects without their schema when it is on the path,
    # so the definitions read here are valid in any schema; they run with the target on it.
    connection.execute(text("SELECT set_config('search_path', :path, true)"), {"path": source})
    sequences = _sequences(connection, source, found)
    tables = _tables(connection, found)
    constraints = _constraints(connection, found)
    indexes = _indexes(connection, source, found)
    quote = connection.dialect.identifier_preparer.quote
    script = [f"CREATE SCHEMA {quote(target)}", f"SET LOCAL search_path = {quote(target)}"]
    for sequence in sequences:
        script.append(f"CREATE SEQUENCE {quote(sequence.name)} {sequence.options}")
    inline: dict[str, list[str]] = {table: [] for table, _, _ in tables}
    foreign: dict[str, list[str]] = {}
    for table, name, definition, is_foreign in constraints:
        (foreign.setdefault(table, []) if is_foreign else inline[table]).append(
            f"CONSTRAINT {quote(name)} {definition}"
        )
    for name, columns, names in tables:
        script.append(f"CREATE TABLE {quote(name)} ({', '.join([columns, *inline[name]])})")
        script.append(
            f"INSERT INTO {quote(name)} ({names}) "  # noqa: S608 - names from the catalog
            f"SELECT {names} FROM {quote(source)}.{quote(name)}"
        )
    for sequence in sequences:
        literal = "'" + quote(sequence.name).replace("'", "''") + "'"
        called = "true" if sequence.is_called else "false"
        script.append(f"SELECT setval({literal}, {sequence.last_value}, {called})")
        if sequence.owner is not None:
            script.append(f"ALTER SEQUENCE {quote(sequence.name)} OWNED BY {sequence.owner}")
    # Foreign keys once every table, and so every key they point at, exists.
    for table, clauses in foreign.items():
        script.append(f"ALTER TABLE {quote(table)} " + ", ".join(f"ADD {c}" for c in clauses))
    script.extend(indexes)
    # One round trip for the whole script rather than one per statement (some 140).
    cursor = connection.connection.cursor()
    try:
        cursor.execute(";\n".join(script))
    finally:
        cursor.close()


def _relations(connection: Connection, source: str) -> dict[str, list[int]]:
    """The oids of the source's tables and sequences (``"r"``), and of those and their
    indexes (``"ri"``), found through their dependency on the schema: pg_class has no index
    on the schema alone, and with a thousand organisations scanning it, once per query, took
    longer than the copy itself. The queries below take these lists."""
    if not connection.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": source}
    ).first():
        raise CloneError(f"Schema {source} does not exist.")
    owned = connection.execute(
        text(
            "SELECT d.objid FROM pg_depend d WHERE d.refclassid = 'pg_namespace'::regclass "
            "AND d.refobjid = to_regnamespace(:s) AND d.classid = 'pg_class'::regclass"
        ),
        {"s": source},
    ).scalars()
    relations = [int(oid) for oid in owned]
    indexes = connection.execute(
        text("SELECT indexrelid FROM pg_index WHERE indrelid = ANY(CAST(:r AS oid[]))"),
        {"r": relations},
    ).scalars()
    return {"r": relations, "ri": [*relations, *(int(oid) for oid in indexes)]}


def _refuse_what_is_not_copied(
    connection: Connection, source: str, found: dict[str, list[int]]
) -> None:
    checks = {
        # Whatever lives in the schema is a table or a sequence (indexes belong to tables).
        "an object other than a table or a sequence": """
            SELECT d.classid::regclass::text || ' ' || d.objid FROM pg_depend d
            LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
            WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = to_regnamespace(:n)
              AND (c.oid IS NULL OR c.relkind NOT IN ('r', 'S'))""",
        "a relation of another kind": """
            SELECT relname FROM pg_class WHERE oid = ANY(CAST(:ri AS oid[]))
              AND (relpersistence <> 'p' OR relacl IS NOT NULL
                   OR (reloptions IS NOT NULL AND relkind <> 'i') OR relrowsecurity)""",
        "an identity or generated column": """
            SELECT a.attrelid::regclass::text || '.' || a.attname FROM pg_attribute a
            WHERE a.attrelid = ANY(CAST(:r AS oid[])) AND a.attnum > 0 AND NOT a.attisdropped
              AND (a.attidentity <> '' OR a.attgenerated <> '' OR a.attacl IS NOT NULL)""",
        "a trigger, rule or policy": """
            SELECT c.relname FROM pg_class c WHERE c.oid = ANY(CAST(:r AS oid[])) AND (
              EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
              OR EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid)
              OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))""",
        "a comment": """
            SELECT d.objoid::regclass::text FROM pg_description d
            WHERE d.classoid = 'pg_class'::regclass AND d.objoid = ANY(CAST(:ri AS oid[]))""",
    }
    for what, query in checks.items():
        hit = connection.execute(text(query), {"n": source, **found}).first()
        if hit is not None:
            raise CloneError(f"Schema {source} holds {what} ({hit[0]}), which is not copied.")


def _sequences(connection: Connection, source: str, found: dict[str, list[int]]) -> list[_Sequence]:
    rows = connection.execute(
        text(
            "SELECT c.relname, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, "
            "s.seqmax, s.seqstart, s.seqcache, s.seqcycle, "
            "(SELECT quote_ident(t.relname) || '.' || quote_ident(a.attname) "
            " FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid "
            " JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            " WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
            " AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a') "
            "FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid "
            "WHERE c.oid = ANY(CAST(:r AS oid[])) ORDER BY c.relname"
        ),
        {"r": found["r"]},
    ).all()
    quote = connection.dialect.identifier_preparer.quote
    sequences = []
    for name, kind, step, low, high, start, cache, cycle, owner in rows:
        state = connection.execute(
            text(f"SELECT last_value, is_called FROM {quote(source)}.{quote(name)}")  # noqa: S608 - a name from the catalog
        ).one()
        options = (
            f"AS {kind} INCREMENT BY {int(step)} MINVALUE {int(low)} MAXVALUE {int(high)} "
            f"START WITH {int(start)} CACHE {int(cache)} {'' if cycle else 'NO '}CYCLE"
        )
        sequences.append(_Sequence(name, options, int(state[0]), bool(state[1]), owner))
    return sequences


def _tables(connection: Connection, found: dict[str, list[int]]) -> list[tuple[str, str, str]]:
    """Each table's name, its column definitions and its column names, in the catalog's
    order (a table's columns in their order: ``SELECT *`` and restores see the same)."""
    rows = connection.execute(
        text(
            "SELECT c.relname, quote_ident(a.attname), format_type(a.atttypid, a.atttypmod), "
            "CASE WHEN a.attcollation <> t.typcollation "
            " THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END, "
            "a.attnotnull, pg_get_expr(d.adbin, d.adrelid) "
            "FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum "
            "WHERE c.oid = ANY(CAST(:r AS oid[])) AND c.relkind = 'r' "
            "ORDER BY c.relname, a.attnum"
        ),
        {"r": found["r"]},
    ).all()
    columns: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    for table, name, kind, collation, not_null, default in rows:
        definition = f"{name} {kind}{collation}{' NOT NULL' if not_null else ''}"
        if default is not None:
            definition += f" DEFAULT {default}"
        columns.setdefault(table, []).append(definition)
        names.setdefault(table, []).append(name)
    return [(table, ", ".join(columns[table]), ", ".join(names[table])) for table in columns]


def _constraints(
    connection: Connection, found: dict[str, list[int]]
) -> list[tuple[str, str, str, bool]]:
    """Each constraint's table, name and definition, and whether it is a foreign key."""
    rows = connection.execute(
        text(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid), k.contype = 'f' "
            "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
            "WHERE k.conrelid = ANY(CAST(:r AS oid[])) "
            "ORDER BY k.contype = 'f', c.relname, k.conname"
        ),
        {"r": found["r"]},
    ).all()
    return [(str(t), str(name), str(definition), bool(f)) for t, name, definition, f in rows]


def _indexes(connection: Connection, source: str, found: dict[str, list[int]]) -> list[str]:
    """``CREATE INDEX`` for each index that no constraint made, naming its table without a
    schema (``pg_get_indexdef`` always names it with one)."""
    rows = connection.execute(
        text(
            "SELECT pg_get_indexdef(i.indexrelid), "
            "' ON ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ', "
            "' ON ' || quote_ident(c.relname) || ' ' "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE i.indrelid = ANY(CAST(:r AS oid[])) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid "
            "AND k.conrelid = i.indrelid) ORDER BY i.indexrelid::regclass::text"
        ),
        {"r": found["r"]},
    ).all()
    statements = []
    for definition, qualified, plain in rows:
        if str(definition).count(str(qualified)) != 1:
            raise CloneError(f"Unexpected index definition in {source}: {definition}")
        statements.append(str(definition).replace(str(qualified), str(plain)))
    return statements
