"""The host registry, resolving hosts, the bounded cache of organisation contexts, and the
operator's use cases, in process (``tests/functional/test_orgs.py`` drives the CLI and a
live server)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from mailslot.config import Config
from mailslot.context import Quotas
from mailslot.instance.services import get_instance
from mailslot.orgs import operator, placement
from mailslot.orgs.errors import OrgError, QuotaReached, RegistryConflict
from mailslot.orgs.quotas import check
from mailslot.orgs.registry import check_host, normalise_host
from mailslot.recipients.models import Role, User
from mailslot.recipients.services import create_user
from mailslot.runtime import Runtime, open_runtime
from mailslot.tor import SOURCE, STAFF


@pytest.fixture
def small(config: Config) -> Iterator[Runtime]:
    """A runtime whose cache holds three organisations besides the default."""
    runtime = open_runtime(dataclasses.replace(config, org_cache_size=3))
    yield runtime
    runtime.close()


def member(runtime: Runtime, db: Session) -> None:
    create_user(
        db,
        username="beta-member",
        role=Role.RECIPIENT,
        password="a long enough passphrase for beta",
        kdf=runtime.config.kdf,
        now=runtime.default.now(),
        email=None,
        channel_names=("default",),
    )


def add(runtime: Runtime, slug: str, *, source: str = "", staff: str = "") -> operator.Added:
    added = operator.add(
        runtime.config,
        runtime.registry,
        slug=slug,
        name=f"Desk {slug}",
        source_hosts=[source] if source else [],
        staff_hosts=[staff] if staff else [],
        now=runtime.default.now(),
    )
    assert runtime.refresh()
    return added


@pytest.mark.no_database
def test_hosts_are_compared_without_case_port_or_final_dot() -> None:
    assert normalise_host("Tips.Example.ORG.:8443") == "tips.example.org"
    assert normalise_host("[::1]:8080") == "[::1]"
    assert check_host("Staff.Example.org") == "staff.example.org"
    for bad in ("", "a b", "evil.example/x", "-x.example", "a..b", "x" * 64 + ".example"):
        with pytest.raises(OrgError):
            check_host(bad)


def test_a_new_install_has_the_default_organisation_serving_every_host(runtime: Runtime) -> None:
    assert [org.slug for org in runtime.directory.orgs] == ["default"]
    assert runtime.directory.single
    for host in ("anything.example", "127.0.0.1:8080", ""):
        assert runtime.for_host(host, SOURCE) is runtime.default
        assert runtime.for_host(host, STAFF) is runtime.default


def test_with_two_organisations_only_claimed_hosts_are_served(runtime: Runtime) -> None:
    add(runtime, "beta", source="tips.beta.test", staff="staff.beta.test")
    assert runtime.for_host("anything.example", SOURCE) is None
    assert runtime.for_host("tips.beta.test:443", STAFF) is None  # a source host only
    beta = runtime.for_host("TIPS.beta.test", SOURCE)
    assert beta is not None
    assert beta.slug == "beta"
    assert runtime.for_host("staff.beta.test", STAFF) is beta
    assert beta.config.staff_url.startswith("http://staff.beta.test:")
    assert beta.config.source_onion == ""  # the install's onion name is the default's
    with beta.db() as db:
        assert get_instance(db, beta.instance_id).name == "Desk beta"
    with runtime.default.db() as db:
        assert get_instance(db, runtime.default.instance_id).name != "Desk beta"


def test_a_host_belongs_to_one_organisation(runtime: Runtime) -> None:
    add(runtime, "beta", source="tips.beta.test")
    with pytest.raises(RegistryConflict):
        add(runtime, "gamma", staff="tips.beta.test")
    with pytest.raises(RegistryConflict):
        add(runtime, "beta")
    with pytest.raises(OrgError):
        add(runtime, "Not A Slug")
    assert sorted(runtime.registry.load().by_slug) == ["beta", "default"]


def test_disabling_stops_resolution_and_the_cli_still_reaches_it(runtime: Runtime) -> None:
    add(runtime, "beta", source="tips.beta.test")
    operator.set_enabled(runtime.registry, "beta", False)
    assert runtime.refresh()
    assert runtime.for_host("tips.beta.test", SOURCE) is None
    assert runtime.context("beta").slug == "beta"
    operator.set_enabled(runtime.registry, "beta", True)
    assert runtime.refresh()
    assert runtime.for_host("tips.beta.test", SOURCE) is not None
    with pytest.raises(RegistryConflict):
        operator.set_enabled(runtime.registry, "default", False)


def test_refresh_costs_one_read_when_nothing_changed(runtime: Runtime) -> None:
    before = runtime.directory
    assert runtime.refresh() is False
    assert runtime.directory is before


def test_the_cache_is_bounded_and_disposes_what_it_drops(small: Runtime) -> None:
    slugs = [f"org{n}" for n in range(8)]
    for slug in slugs:
        add(small, slug, source=f"{slug}.test")
    pools = {}
    for slug in slugs:
        ctx = small.for_host(f"{slug}.test", SOURCE)
        assert ctx is not None
        with ctx.db() as db:  # opens a connection in its pool
            assert get_instance(db, ctx.instance_id).name == f"Desk {slug}"
        pools[slug] = (ctx.engine, ctx.engine.pool)
        assert small.open_count() <= 3
    assert small.open_count() == 3
    # The five pushed out had their pools disposed (a disposed engine gets a new, empty
    # pool); the three kept still have theirs, with a connection in it.
    for slug in slugs[:5]:
        engine, pool = pools[slug]
        assert engine.pool is not pool
        assert pool.checkedin() == 0
    for slug in slugs[5:]:
        engine, pool = pools[slug]
        assert engine.pool is pool
        assert pool.checkedin() == 1
    # One pushed out opens again, intact; the least recently used goes instead.
    again = small.for_host("org0.test", SOURCE)
    assert again is not None
    with again.db() as db:
        assert get_instance(db, again.instance_id).name == "Desk org0"
    assert small.open_count() == 3
    # A round over every organisation (the background jobs) leaves the cache as it was.
    cached = set(small._open)
    assert [ctx.slug for ctx in small.each()] == ["default", *slugs]
    assert set(small._open) == cached


def test_quota_changes_reach_open_contexts(runtime: Runtime) -> None:
    add(runtime, "beta", source="tips.beta.test")
    beta = runtime.for_host("tips.beta.test", SOURCE)
    assert beta is not None
    assert beta.quotas == Quotas()
    operator.set_quota(runtime.registry, "beta", storage=1000, cases=2)
    assert runtime.refresh()
    updated = runtime.for_host("tips.beta.test", SOURCE)
    assert updated is not None
    assert updated.quotas == Quotas(storage=1000, cases=2)
    assert updated.engine is beta.engine  # the same pool, new settings
    operator.set_quota(runtime.registry, "default", storage=0, cases=5)
    assert runtime.refresh()
    assert runtime.default.quotas == Quotas(storage=None, cases=5)


def test_quotas_refuse_past_the_limit(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        check(db, Quotas(storage=100, cases=1), new_case=True, adding=100)  # just fits
        with pytest.raises(QuotaReached):
            check(db, Quotas(storage=100), new_case=False, adding=101)
        with pytest.raises(QuotaReached):
            check(db, Quotas(cases=0), new_case=True, adding=0)
        check(db, Quotas(cases=0), new_case=False, adding=0)  # a returning source


def test_remove_shreds_and_deletes_everything_of_it(runtime: Runtime) -> None:
    added = add(runtime, "beta", source="tips.beta.test")
    beta = runtime.context("beta")
    with beta.db() as db:
        member(runtime, db)
    writer = beta.blobs.create()
    writer.write(b"ciphertext stand-in")
    writer.commit()
    org_dir = placement.org_dir(runtime.config, added.id)
    assert org_dir.is_dir()
    operator.remove(runtime.config, runtime.registry, "beta")
    assert runtime.refresh()
    assert not org_dir.exists()
    assert "beta" not in runtime.directory.by_slug
    # Only the default organisation is left: it serves every host again.
    assert runtime.for_host("tips.beta.test", SOURCE) is runtime.default
    if placement.postgresql(runtime.config):
        with runtime.registry.engine.connect() as connection:
            schemas = set(connection.execute(text("SELECT nspname FROM pg_namespace")).scalars())
        assert placement.schema(added.id) not in schemas
    with pytest.raises(RegistryConflict):
        operator.remove(runtime.config, runtime.registry, "default")
    with runtime.default.db() as db:
        assert db.scalar(select(User.id).where(User.username == "beta-member")) is None


def test_shredding_destroys_the_key_wraps_first(runtime: Runtime) -> None:
    added = add(runtime, "beta")
    engine = placement.engine(runtime.config, added.id)
    try:
        with runtime.context("beta").db() as db:
            member(runtime, db)
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(" ".join(str(args[2]).split()[:3]))

        event.listen(engine, "before_cursor_execute", seen)
        operator.shred(engine)
        writes = [s for s in statements if s.startswith(("DELETE", "UPDATE"))]
        assert writes[:6] == [
            "DELETE FROM item_key_wraps",
            "DELETE FROM identity_key_wraps",
            "DELETE FROM case_key_wraps",
            "DELETE FROM sessions",
            "UPDATE identity_requests SET",
            "UPDATE users SET",
        ]
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM users")).scalar() == 0
    finally:
        engine.dispose()
