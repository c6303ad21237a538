"""Drop keys and manifests on the database: one current key per channel with recipients,
wrapped to exactly them; a change of recipients rotates it and appends a signed version;
nothing changes when nothing changed; a recipient opens only the keys wrapped to them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailslot import crypto, drops
from mailslot.config import Config
from mailslot.dropkeys import services as dropkeys
from mailslot.dropkeys.models import DropKey, DropKeyWrap, KeyManifest
from mailslot.recipients.models import User
from mailslot.runtime import Runtime, open_runtime
from tests.unit.test_services import NOW, add_user, log_in


def sync(runtime: Runtime, now: int = NOW) -> drops.Manifest | None:
    with runtime.default.db() as db:
        return dropkeys.sync(db, organisation="Desk", now=now)


def keys(runtime: Runtime) -> list[tuple[str, int | None, set[str]]]:
    with runtime.default.db() as db:
        rows = db.scalars(select(DropKey).order_by(DropKey.created_at, DropKey.retired_at))
        return [
            (
                key.recipient,
                key.retired_at,
                set(
                    db.scalars(select(DropKeyWrap.user_id).where(DropKeyWrap.drop_key_id == key.id))
                ),
            )
            for key in rows
        ]


def test_nothing_is_published_before_a_channel_has_a_recipient(runtime: Runtime) -> None:
    assert sync(runtime) is None
    assert keys(runtime) == []


def test_a_change_of_recipients_rotates_the_key_and_appends_a_version(runtime: Runtime) -> None:
    ana = add_user(runtime, "ana")
    first = sync(runtime)
    assert first is not None
    assert first.version == 1
    [(recipient, retired, holders)] = keys(runtime)
    assert retired is None
    assert holders == {ana.id}
    assert first.channel("default").drop_recipient == recipient
    # Nothing changed: nothing is appended.
    assert sync(runtime, NOW + 10) == first

    ben = add_user(runtime, "ben")
    second = sync(runtime, NOW + 7200)
    assert second is not None
    assert second.version == 2
    assert second.previous == first.digest()
    old, new = keys(runtime)
    assert old[0] == recipient
    assert old[1] is not None  # retired, kept
    assert old[2] == {ana.id}  # still Ana's only
    assert new[1] is None
    assert new[2] == {ana.id, ben.id}
    assert second.channel("default").drop_recipient == new[0]
    with runtime.default.db() as db:
        chain = dropkeys.chain(db)
        assert [m.version for m in chain] == [1, 2]
        assert drops.verify_chain(chain) == second
        assert {r.name for r in second.recipients} == {f"recipient-{ana.id}", f"recipient-{ben.id}"}

    # Disabling Ben rotates again: the new key is Ana's alone.
    with runtime.default.db() as db:
        db.get(User, ben.id).disabled = True  # type: ignore[union-attr]
    third = sync(runtime, NOW + 3 * 7200)
    assert third is not None
    assert third.version == 3
    assert keys(runtime)[-1][2] == {ana.id}
    assert {r.name for r in third.recipients} == {f"recipient-{ana.id}"}


def test_a_recipient_opens_the_drop_keys_wrapped_to_them_only(runtime: Runtime) -> None:
    ana = add_user(runtime, "ana")
    sync(runtime)
    bob = add_user(runtime, "bob", channel_names=())
    published = sync(runtime)
    assert published is not None
    recipient = drops.PqRecipient.parse(published.channel("default").drop_recipient)
    sealed = b"".join(drops.seal_stream([recipient], [b"for the desk"]))
    with runtime.default.db() as db:
        ana_ids = dropkeys.held_identities(db, db.get(User, ana.id), log_in(runtime, ana))  # type: ignore[arg-type]
        bob_ids = dropkeys.held_identities(db, db.get(User, bob.id), log_in(runtime, bob))  # type: ignore[arg-type]
    assert b"".join(drops.open_stream(ana_ids, [sealed])) == b"for the desk"
    assert bob_ids == []
    # A wrap moved to another drop key's id does not open.
    with runtime.default.db() as db:
        wrap = db.scalars(select(DropKeyWrap).where(DropKeyWrap.user_id == ana.id)).one()
        own = crypto.KeyPair.from_seed(log_in(runtime, ana, NOW + 60))
        try:
            own.unwrap(wrap.wrapped, crypto.WrapPurpose.DROP_KEY, bytes(16))
        except crypto.DecryptionError:
            pass
        else:  # pragma: no cover - the assertion below reports it
            raise AssertionError("a drop key wrap opened under another key's id")
    assert sorted(m.version for m in _manifests(runtime)) == [1]


def _manifests(runtime: Runtime) -> list[KeyManifest]:
    with runtime.default.db() as db:
        return list(db.scalars(select(KeyManifest)))


def test_opening_the_database_publishes_members_added_without_a_sync(
    runtime: Runtime, config: Config
) -> None:
    """An install whose members predate syncing where they change gets its keys when its
    database is opened to serve or migrate; a runtime opened without migrating writes none."""
    add_user(runtime, "ana")  # straight in the database: nothing synced
    assert _manifests(runtime) == []
    open_runtime(config, migrate=False).close()
    assert _manifests(runtime) == []
    open_runtime(config).close()
    [manifest] = _manifests(runtime)
    assert manifest.version == 1
    assert len(keys(runtime)) == 1


def test_a_chain_that_named_usernames_moves_to_opaque_ids_and_still_verifies(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Manifests signed before recipients were named by id stay in the chain, unchanged; the
    next sync appends a version naming them by id, and the whole chain verifies."""
    ana = add_user(runtime, "ana")
    with monkeypatch.context() as patched:
        patched.setattr(dropkeys, "published_id", lambda user: user.username)
        old = sync(runtime)
    assert old is not None
    assert [r.name for r in old.recipients] == ["ana"]
    new = sync(runtime, NOW + 7200)
    assert new is not None
    assert new.version == 2
    assert [r.name for r in new.recipients] == [f"recipient-{ana.id}"]
    assert new.channels == old.channels  # no new drop key: only the names changed
    with runtime.default.db() as db:
        chain = dropkeys.chain(db)
    assert chain[0] == old
    assert drops.verify_chain(chain, new.fingerprint) == new
