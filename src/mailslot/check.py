"""``mailslot check``: is this instance set up safely, and what should be fixed?

Each check returns a :class:`~mailslot.check_findings.Finding`: what was looked at, whether
it is fine, and if not, what to do. Nothing here changes anything that stays: the only writes
are probes that are removed at once (one small object in an S3 bucket; a test document
through a sandbox worker).

This module runs them all and holds the local ones (permissions, database, migrations, keys,
PostgreSQL statistics); ``check_network.py`` has the object store, tor and the operator
address, ``check_documents.py`` the document sandbox, ``check_orgs.py`` the organisations.

The service unit runs it before every start, the first one included, so what a new
instance lacks until its first start (the schema, the instance row, an administrator) is
a warning, not a failure: the start that follows creates the first two and prints the
setup link for the third.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.check_documents import document_sandbox, office_flattening
from mailslot.check_findings import Finding
from mailslot.check_network import object_store, operator_address, tor_services
from mailslot.config import Config
from mailslot.db.base import make_engine
from mailslot.db.migrate import HEAD, stored_revision
from mailslot.db.planner import planner_state
from mailslot.i18n import N_, LazyText, N_plural
from mailslot.instance.models import Instance
from mailslot.recipients.models import Role, User

STAFF_KEYS = LazyText(N_("staff keys"))
POSTGRESQL_STATISTICS = LazyText(N_("postgresql statistics"))
NOT_CREATED = LazyText(N_("not created yet: the first start of `mailslot serve` creates it"))


def run_checks(config: Config, torrc: Path | None = None) -> list[Finding]:
    findings = [*_permissions(config)]
    engine = make_engine(config.resolved_database_url)
    try:
        database = _database(engine)
        findings.append(database)
        if database.ok:
            migrations = _migrations(engine)
            findings.append(migrations)
            if migrations.ok:  # at the head revision: the tables read below exist
                findings.extend(_keys(engine))
                findings.extend(_planner(engine))
    finally:
        engine.dispose()
    findings.extend(object_store(config))
    findings.extend(tor_services(config, torrc))
    findings.append(operator_address(config))
    findings.append(document_sandbox())
    findings.append(office_flattening())
    return findings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _permissions(config: Config) -> Iterator[Finding]:
    data = config.data_dir
    if not data.is_dir():
        yield Finding(
            LazyText(N_("data directory")),
            False,
            LazyText(N_("%(path)s does not exist"), path=data),
            LazyText(N_("run `mailslot serve` once")),
        )
        return
    mode = _mode(data)
    yield Finding(
        LazyText(N_("data directory")),
        mode & 0o077 == 0,
        LazyText(N_("%(path)s has mode %(mode)s"), path=data, mode=f"{mode:04o}"),
        f"chmod 700 {data}",
    )
    loose: list[str] = []
    for path in data.rglob("*"):
        if path.is_symlink():
            loose.append(LazyText(N_("%(path)s is a symbolic link"), path=path))
        elif _mode(path) & 0o077:
            loose.append(f"{path} ({_mode(path):04o})")
    yield Finding(
        LazyText(N_("file permissions")),
        not loose,
        LazyText(N_("only the service account can read the data"))
        if not loose
        else LazyText.joined("; ", loose[:5]),
        LazyText(N_("chmod -R go-rwx %(path)s (and remove symbolic links)"), path=data),
    )


def _database(engine: Engine) -> Finding:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # whatever stops the connection is reported by its type
        return Finding(
            LazyText(N_("database")),
            False,
            LazyText(N_("cannot connect (%(error)s)"), error=type(exc).__name__),
            LazyText(N_("check MAILSLOT_DATABASE_URL and that the database server is running")),
        )
    return Finding(
        LazyText(N_("database")),
        True,
        LazyText(N_("reachable (%(dialect)s)"), dialect=engine.dialect.name),
    )


def _migrations(engine: Engine) -> Finding:
    current = stored_revision(engine)
    if current is None:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
        if not tables:
            return Finding(
                LazyText(N_("migrations")),
                False,
                LazyText(
                    N_("empty database: the first start of `mailslot serve` creates the schema")
                ),
                warn=True,
            )
        return Finding(
            LazyText(N_("migrations")),
            False,
            LazyText(
                *N_plural(
                    "%(num)s table(s) but no Mailslot revision: not this instance's database?",
                    "%(num)s table(s) but no Mailslot revision: not this instance's database?",
                ),
                num=len(tables),
            ),
            LazyText(N_("check MAILSLOT_DATABASE_URL")),
        )
    return Finding(
        LazyText(N_("migrations")),
        current == HEAD,
        at_revision(current),
        LazyText(N_("run `mailslot db upgrade` (after a backup)")),
    )


def at_revision(current: str | None) -> LazyText:
    """Where a database's schema is, against this version's."""
    return LazyText(
        N_("database at %(revision)s, this version needs %(head)s"),
        revision=current or LazyText(N_("no revision")),
        head=HEAD,
    )


def _keys(engine: Engine) -> Iterator[Finding]:
    with Session(engine) as db:
        instance = db.scalar(select(Instance))
        users = list(db.scalars(select(User).where(User.disabled.is_(False))))
    if instance is None:
        yield Finding(
            LazyText(N_("instance")),
            False,
            NOT_CREATED,
            warn=True,
        )
    else:
        salt_ok = len(instance.codename_salt) == 16
        yield Finding(
            LazyText(N_("instance")),
            salt_ok,
            LazyText(N_("codename salt present"))
            if salt_ok
            else LazyText(N_("codename salt damaged")),
            LazyText(N_("restore the database from a backup")),
        )
    broken = []
    for user in users:
        try:
            crypto.check_public_key(user.public_key)
        except crypto.CryptoError:
            broken.append(LazyText(N_("%(username)s: public key unusable"), username=user.username))
            continue
        if not user.key_offline and user.private_key_password_wrap is None:
            broken.append(
                LazyText(
                    N_("%(username)s: no private key wrap and not marked offline"),
                    username=user.username,
                )
            )
    admins = [u for u in users if u.role == Role.ADMIN.value]
    yield Finding(
        STAFF_KEYS,
        not broken,
        LazyText(
            *N_plural(
                "%(num)s active accounts, keys in order", "%(num)s active accounts, keys in order"
            ),
            num=len(users),
        )
        if not broken
        else LazyText.joined("; ", broken),
        LazyText(N_("disable the accounts named and invite their owners again")),
    )
    yield Finding(
        LazyText(N_("administrator")),
        bool(admins),
        LazyText(*N_plural("%(num)s active admin(s)", "%(num)s active admin(s)"), num=len(admins)),
        LazyText(
            N_("open the setup link (`mailslot setup-link`) or `mailslot users add --role admin`")
        ),
        warn=not admins,
    )


def _planner(engine: Engine) -> Iterator[Finding]:
    """PostgreSQL: the statistics its planner needs (db/planner.py); nothing on SQLite."""
    with engine.connect() as connection:
        state = planner_state(connection)
    if state is None:
        return
    yield Finding(
        LazyText(N_("postgresql autovacuum")),
        state.autovacuum,
        LazyText(N_("on"))
        if state.autovacuum
        else LazyText(
            N_("off (or track_counts off): nothing keeps the planner's statistics up to date")
        ),
        LazyText(
            N_(
                "turn autovacuum on (postgresql.conf), or run ANALYZE after large changes "
                "(a cron job running `vacuumdb --analyze-only` works)"
            )
        ),
        warn=True,
    )
    missing = state.without_statistics
    if not missing:
        statistics = LazyText(N_("present for every table with rows"))
    elif len(missing) > 8:
        statistics = LazyText(
            *N_plural(
                "missing or out of date for %(tables)s and %(num)s more",
                "missing or out of date for %(tables)s and %(num)s more",
            ),
            tables=", ".join(missing[:8]),
            num=len(missing) - 8,
        )
    else:
        statistics = LazyText(
            N_("missing or out of date for %(tables)s"), tables=", ".join(missing)
        )
    yield Finding(
        POSTGRESQL_STATISTICS,
        not missing,
        statistics,
        LazyText(
            N_("run ANALYZE in the database (psql -c 'ANALYZE'); queries are slow without them")
        ),
        warn=True,
    )
