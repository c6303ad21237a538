"""Many demo organisations for ``mailslot demo-data --orgs N`` (benchmarks of an install that
hosts a thousand newsrooms, ``bench/orgs.py``).

Each organisation gets its own database, an admin and two recipients in its default channel,
and a few cases encrypted like real ones. Making each the way ``mailslot orgs add`` does
(a copy of the empty database at the head revision, then one Argon2id run per account)
takes about a second per organisation; so the first is made that way and every other starts
as a copy of its database (its SQLite file, or its PostgreSQL schema: the schema at the head
revision and the three accounts), then gets its own name, codename salt and cases. So the
demo organisations share their staff accounts: the same user names, passphrase and key
pairs (printed once, for demos only). Nothing here is for real organisations.

With ``revision`` (SQLite only), the copies are of the template taken down to that older
revision, without cases, so that the next start-up has every organisation to migrate
(``bench/orgs.py`` measures it).
"""

from __future__ import annotations

import random
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import select, text, update
from sqlalchemy.orm import sessionmaker

from mailslot.cli import _demo_cases as demo
from mailslot.crypto import new_salt
from mailslot.db.base import make_engine, unit_of_work
from mailslot.db.clone import clone_schema
from mailslot.db.migrate import downgrade
from mailslot.db.models import Base
from mailslot.instance.models import Instance
from mailslot.instance.services import DEFAULT_CHANNEL, ensure_instance
from mailslot.orgs import placement
from mailslot.orgs.errors import OrgError, RegistryConflict
from mailslot.recipients.models import Role
from mailslot.recipients.services import create_user
from mailslot.runtime import Runtime

STAFF: Final = (("demo-admin", Role.ADMIN), ("demo-alice", Role.RECIPIENT),
                ("demo-bob", Role.RECIPIENT))  # fmt: skip
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class DemoOrgs:
    slugs: list[str]
    passphrase: str
    copied: bool


def _fill(runtime: Runtime, org_id: str, name: str, passphrase: str | None) -> int:
    """Name the organisation's instance (a new codename salt), make its staff accounts when
    ``passphrase`` is given (the first organisation); returns the instance id. A copy is
    renamed with plain SQL, which any revision since the first understands."""
    config = runtime.config
    engine = placement.engine(config, org_id)
    try:
        with unit_of_work(sessionmaker(engine, expire_on_commit=False)) as db:
            if passphrase is None:
                table = Base.metadata.tables[Instance.__tablename__]
                db.execute(update(table).values(name=name, codename_salt=new_salt()))
                return int(db.execute(select(table.c.id)).scalar_one())
            now = runtime.default.now()
            instance = ensure_instance(db, config.kdf, now)
            instance.name = name
            for username, role in STAFF:
                channels = (DEFAULT_CHANNEL,) if role is Role.RECIPIENT else ()
                create_user(db, username=username, role=role, password=passphrase,
                            kdf=config.kdf, now=now, channel_names=channels)  # fmt: skip
            return int(instance.id)
    finally:
        engine.dispose()


def _keep(runtime: Runtime, org_id: str, revision: str | None) -> str:
    """A copy of the first organisation's database before its cases, every other's start:
    a file beside the organisations' directories (taken down to ``revision``, if given, with
    the first one's own file), or a schema."""
    config = runtime.config
    if placement.postgresql(config):
        name = f"mailslot_demo_{org_id}"
        with runtime.registry.engine.begin() as connection:
            clone_schema(connection, placement.schema(org_id), name)
        return name
    made = placement.org_dir(config, org_id)
    template = made.parent / f".demo-template-{org_id}"
    shutil.copyfile(made / placement.DATABASE_FILE, template)
    if revision is not None:
        _downgrade(made / placement.DATABASE_FILE, revision)
        _downgrade(template, revision)
    return str(template)


def _forget(runtime: Runtime, template: str) -> None:
    """Remove what :func:`_keep` made (it holds the shared accounts' wrapped keys)."""
    if placement.postgresql(runtime.config):
        with runtime.registry.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{template}" CASCADE'))
    else:
        Path(template).unlink(missing_ok=True)


def _add(runtime: Runtime, slug: str, template: str | None, passphrase: str) -> str:
    org_id = secrets.token_hex(16)
    # A copy of ``template``, or (the first) of the empty database at the head revision.
    placement.create(runtime.config, runtime.registry.engine, org_id, source=template)
    try:
        instance_id = _fill(runtime, org_id, f"Demo desk {slug}", None if template else passphrase)
        runtime.registry.add(org_id, slug, f"Demo desk {slug}", instance_id=instance_id,
                             source_hosts=[f"{slug}.source.demo.test"],
                             staff_hosts=[f"{slug}.staff.demo.test"],
                             now=runtime.default.now())  # fmt: skip
    except BaseException:
        placement.destroy(runtime.config, runtime.registry.engine, org_id)
        raise
    return org_id


def _cases(runtime: Runtime, slug: str, count: int, rng: random.Random) -> None:
    if not count:
        return
    ctx = runtime.context(slug)
    now = ctx.now()
    with ctx.db() as db:
        setup = demo.channels_to_fill(db, None, now)
    plans = demo.plan_cases(rng, setup, count, now)
    with ctx.db() as db:
        demo.write_cases(db, ctx.blobs, rng, plans, setup, demo.pseudonyms(db), now)


def _downgrade(path: Path, revision: str) -> None:
    engine = make_engine(f"sqlite:///{path.resolve()}")
    try:
        downgrade(engine, revision)
    finally:
        engine.dispose()


def make_orgs(
    runtime: Runtime,
    count: int,
    cases: int,
    rng: random.Random,
    progress: Progress,
    revision: str | None = None,
) -> DemoOrgs:
    """``count`` organisations ``demo-0001`` … (after any already made) with ``cases`` cases
    each; ``progress`` is told how many are done after each."""
    taken = set(runtime.registry.load().by_slug)
    if revision is not None:
        if placement.postgresql(runtime.config):
            raise OrgError("Demo organisations at an older revision: SQLite only.")
        cases = 0
    first = next(n for n in range(1, 1_000_000) if f"demo-{n:04d}" not in taken)
    slugs = [f"demo-{n:04d}" for n in range(first, first + count)]
    if clash := sorted(taken.intersection(slugs)):
        raise RegistryConflict(f"The slug {clash[0]!r} is taken.")
    passphrase = secrets.token_urlsafe(18)
    template: str | None = None
    try:
        for number, slug in enumerate(slugs, start=1):
            org_id = _add(runtime, slug, template, passphrase)
            if template is None:
                template = _keep(runtime, org_id, revision)
            runtime.refresh()
            _cases(runtime, slug, cases, rng)
            progress(number)
    finally:
        if template is not None:
            _forget(runtime, template)
    return DemoOrgs(slugs, passphrase, copied=True)
