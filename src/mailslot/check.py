"""``mailslot check``: is this instance set up safely, and what should be fixed?

Each check returns a :class:`Finding`: what was looked at, whether it is fine, and if not,
what to do. Nothing here changes anything that stays: the only writes are probes that are
removed at once (one small object in an S3 bucket; a test document through a sandbox worker).

The service unit runs it before every start, the first one included, so what a new
instance lacks until its first start (the schema, the instance row, an administrator) is
a warning, not a failure: the start that follows creates the first two and prints the
setup link for the third.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.config import Config
from mailslot.db.base import make_engine
from mailslot.db.migrate import HEAD, stored_revision
from mailslot.db.planner import planner_state
from mailslot.documents import office
from mailslot.documents.bwrap import Bubblewrap, bubblewrap_status
from mailslot.documents.sandbox import Limits
from mailslot.documents.sandbox import inspect as inspect_in_sandbox
from mailslot.instance.models import Instance
from mailslot.recipients.models import Role, User
from mailslot.tor import SOURCE, STAFF


@dataclass(frozen=True, slots=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    # Not fine, but no reason to refuse a start (``mailslot check`` still exits 0).
    warn: bool = False

    @property
    def fails(self) -> bool:
        return not self.ok and not self.warn


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
    findings.extend(_object_store(config))
    findings.extend(_tor(config, torrc))
    findings.append(_document_sandbox())
    findings.append(_office_flattening())
    return findings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _permissions(config: Config) -> Iterator[Finding]:
    data = config.data_dir
    if not data.is_dir():
        yield Finding(
            "data directory", False, f"{data} does not exist", "run `mailslot serve` once"
        )
        return
    mode = _mode(data)
    yield Finding(
        "data directory",
        mode & 0o077 == 0,
        f"{data} has mode {mode:04o}",
        f"chmod 700 {data}",
    )
    loose = []
    for path in data.rglob("*"):
        if path.is_symlink():
            loose.append(f"{path} is a symbolic link")
        elif _mode(path) & 0o077:
            loose.append(f"{path} ({_mode(path):04o})")
    yield Finding(
        "file permissions",
        not loose,
        "only the service account can read the data" if not loose else "; ".join(loose[:5]),
        f"chmod -R go-rwx {data} (and remove symbolic links)",
    )


def _database(engine: Engine) -> Finding:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # whatever stops the connection is reported by its type
        return Finding(
            "database",
            False,
            f"cannot connect ({type(exc).__name__})",
            "check MAILSLOT_DATABASE_URL and that the database server is running",
        )
    return Finding("database", True, f"reachable ({engine.dialect.name})")


def _migrations(engine: Engine) -> Finding:
    current = stored_revision(engine)
    if current is None:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
        if not tables:
            return Finding(
                "migrations",
                False,
                "empty database: the first start of `mailslot serve` creates the schema",
                warn=True,
            )
        return Finding(
            "migrations",
            False,
            f"{len(tables)} table(s) but no Mailslot revision: not this instance's database?",
            "check MAILSLOT_DATABASE_URL",
        )
    return Finding(
        "migrations",
        current == HEAD,
        f"database at {current or 'no revision'}, this version needs {HEAD}",
        "run `mailslot db upgrade` (after a backup)",
    )


def _keys(engine: Engine) -> Iterator[Finding]:
    with Session(engine) as db:
        instance = db.scalar(select(Instance))
        users = list(db.scalars(select(User).where(User.disabled.is_(False))))
    if instance is None:
        yield Finding(
            "instance",
            False,
            "not created yet: the first start of `mailslot serve` creates it",
            warn=True,
        )
    else:
        salt_ok = len(instance.codename_salt) == 16
        yield Finding(
            "instance",
            salt_ok,
            "codename salt present" if salt_ok else "codename salt damaged",
            "restore the database from a backup",
        )
    broken = []
    for user in users:
        try:
            crypto.check_public_key(user.public_key)
        except crypto.CryptoError:
            broken.append(f"{user.username}: public key unusable")
            continue
        if not user.key_offline and user.private_key_password_wrap is None:
            broken.append(f"{user.username}: no private key wrap and not marked offline")
    admins = [u for u in users if u.role == Role.ADMIN.value]
    yield Finding(
        "staff keys",
        not broken,
        f"{len(users)} active accounts, keys in order" if not broken else "; ".join(broken),
        "disable the accounts named and invite their owners again",
    )
    yield Finding(
        "administrator",
        bool(admins),
        f"{len(admins)} active admin(s)",
        "open the setup link (`mailslot setup-link`) or `mailslot users add --role admin`",
        warn=not admins,
    )


def _planner(engine: Engine) -> Iterator[Finding]:
    """PostgreSQL: the statistics its planner needs (db/planner.py); nothing on SQLite."""
    with engine.connect() as connection:
        state = planner_state(connection)
    if state is None:
        return
    yield Finding(
        "postgresql autovacuum",
        state.autovacuum,
        "on"
        if state.autovacuum
        else "off (or track_counts off): nothing keeps the planner's statistics up to date",
        "turn autovacuum on (postgresql.conf), or run ANALYZE after large changes "
        "(a cron job running `vacuumdb --analyze-only` works)",
        warn=True,
    )
    missing = state.without_statistics
    yield Finding(
        "postgresql statistics",
        not missing,
        "present for every table with rows"
        if not missing
        else f"missing or out of date for {', '.join(missing[:8])}"
        + (f" and {len(missing) - 8} more" if len(missing) > 8 else ""),
        "run ANALYZE in the database (psql -c 'ANALYZE'); queries are slow without them",
        warn=True,
    )


def _object_store(config: Config) -> Iterator[Finding]:
    """With MAILSLOT_BLOB_URL set: the bucket takes a small random object, gives it back and
    deletes it (the one write ``check`` makes, undone at once); versioning is reported,
    because a versioned bucket keeps what Mailslot deletes."""
    if config.s3_location is None:
        return
    from mailslot.errors import MailslotError  # noqa: PLC0415 - with the store below
    from mailslot.storage.s3 import S3BlobStore  # noqa: PLC0415 - boto3 only when configured

    name = f"object storage {config.blob_url}"
    try:
        store = S3BlobStore.from_config(config)
        store.probe()
        versioning = store.versioning()
    except MailslotError as exc:
        yield Finding(
            name,
            False,
            str(exc),
            "check MAILSLOT_BLOB_URL, MAILSLOT_S3_ENDPOINT_URL, the AWS_* credentials, and that "
            "they allow PutObject, GetObject, DeleteObject, ListBucket, "
            "ListBucketMultipartUploads and AbortMultipartUpload on the bucket",
        )
        return
    yield Finding(name, True, "reachable: a test blob was written, read back and deleted")
    yield Finding(
        "object storage versioning",
        versioning == "",
        f"versioning {versioning or 'never enabled'}",
        "a versioned bucket keeps deleted blobs as old versions (ciphertext whose keys are "
        "gone, but still there), and versioning cannot be turned off: use a bucket that never "
        "had it, or a lifecycle rule that expires noncurrent versions after a day",
        warn=versioning != "",
    )


def _tor(config: Config, torrc: Path | None) -> Iterator[Finding]:
    if config.tor_dir is None and torrc is None:
        yield Finding(
            "tor",
            True,
            "not configured (MAILSLOT_TOR_DIR unset): sources must reach Mailslot another way",
        )
        return
    if config.tor_dir is not None:
        for service in (SOURCE, STAFF):
            hostname = config.tor_dir / service / "hostname"
            readable = os.access(hostname, os.R_OK)
            yield Finding(
                f"tor {service} service",
                readable,
                f"{hostname} {'readable' if readable else 'missing or unreadable'}",
                "start tor with the torrc from `mailslot tor-config`, and add this account "
                "to tor's group",
            )
        auth = config.tor_dir / STAFF / "authorized_clients"
        clients = list(auth.glob("*.auth")) if auth.is_dir() else []
        yield Finding(
            "tor staff client authorisation",
            bool(clients),
            f"{len(clients)} client key(s)",
            "run `mailslot tor-config --client NAME` to create one",
        )
    if torrc is not None:
        yield _verify_torrc(torrc)


def _sandbox_trial() -> str | None:
    """Run one worker on a tiny document, as a recipient's request would; the failure, if any.
    Under a service manager's system-call filter the worker may be killed before it starts."""
    inspection = inspect_in_sandbox(
        b"mailslot check\n", "check.txt", limits=Limits(wall_seconds=30)
    )
    return inspection.failure.value if inspection.failure is not None else None


def _document_sandbox(
    status: Callable[[], Bubblewrap] = bubblewrap_status,
    trial: Callable[[], str | None] = _sandbox_trial,
) -> Finding:
    """Whether documents can be parsed in the sandbox, and inside bubblewrap
    (documents/sandbox.py)."""
    box = status()
    problem = trial()
    if problem is not None:
        return Finding(
            "document sandbox",
            False,
            f"a test document could not be processed ({problem}): recipients cannot inspect "
            "or sanitise documents",
            "let the service lower its own resource limits (setrlimit, prlimit64) and, for "
            "bubblewrap, create namespaces; see docs/threat-model.md, Documents",
            warn=True,
        )
    if box.usable:
        return Finding(
            "document sandbox",
            True,
            f"bubblewrap ({box.path}): documents are parsed with no network and no view of the "
            "data directory",
        )
    if box.path is not None:
        return Finding(
            "document sandbox",
            False,
            f"bubblewrap is installed but cannot run here, so it is not used ({box.reason}): "
            "documents are parsed in a child process with resource limits and no network, "
            "which can still read what this account can read",
            "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; "
            "in a container, a seccomp profile that permits them); see docs/documents.md",
            warn=True,
        )
    return Finding(
        "document sandbox",
        False,
        "bubblewrap is not installed: documents are parsed in a child process with resource "
        "limits and no network, which can still read what this account can read",
        "apt install bubblewrap",
        warn=True,
    )


def _office_flattening(
    status: Callable[[], Bubblewrap] = bubblewrap_status,
    soffice: Callable[[], str | None] = office.soffice,
) -> Finding:
    """Whether flattened copies of office files can be made: LibreOffice converts them only
    inside bubblewrap (documents/office.py)."""
    program, box = soffice(), status()
    if program is not None and box.usable:
        return Finding(
            "office flattening",
            True,
            f"LibreOffice ({program}) converts office files inside bubblewrap before they "
            "are flattened",
        )
    why = "LibreOffice (soffice) is not installed" if program is None else ""
    if not box.usable:
        no_box = "bubblewrap is not installed" if box.path is None else "bubblewrap cannot run"
        why = f"{why} and {no_box}" if why else no_box
    return Finding(
        "office flattening",
        False,
        f"{why}: office files cannot be flattened (their same-format sanitised copies still can)",
        "apt install bubblewrap libreoffice-core-nogui libreoffice-writer-nogui "
        "libreoffice-calc-nogui libreoffice-impress-nogui; see docs/documents.md",
        warn=True,
    )


def _verify_torrc(torrc: Path, which: Callable[[str], str | None] = shutil.which) -> Finding:
    binary = which("tor") or next(
        (p for p in ("/usr/sbin/tor", "/usr/bin/tor") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        return Finding("torrc", False, "tor is not installed", "apt install tor")
    result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [binary, "--verify-config", "-f", str(torrc), "--defaults-torrc", os.devnull],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ok = result.returncode == 0 and "Configuration was valid" in result.stdout
    last = (result.stdout.strip().splitlines() or [""])[-1]
    return Finding("torrc", ok, f"{torrc}: {last}", "fix the torrc (see tor's message)")
