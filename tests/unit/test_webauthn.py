"""Security-key services against a real (temporary SQLite) database. Full ceremonies with a
real authenticator are in ``tests/functional/test_webauthn.py``; here: names, options,
decoys, refusals, removal, and the split login steps in ``recipients.services``."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.audit.models import AuditEvent
from mailslot.errors import AuthenticationFailed, InvalidInput, NotFound
from mailslot.limits.models import LoginThrottle
from mailslot.limits.services import login_key
from mailslot.recipients import services as recipients
from mailslot.recipients import webauthn as keys
from mailslot.recipients.models import Role, User, WebauthnCredential
from mailslot.runtime import Runtime

NOW = 1_800_000_000
PASSWORD = "correct horse battery staple"
RP_ID = "staff.example"
ORIGIN = "https://staff.example"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def make_user(db: Session, username: str) -> User:
    return recipients.create_user(
        db, username=username, role=Role.RECIPIENT, password=PASSWORD, kdf=crypto.TEST_KDF, now=NOW
    ).user


def add_key(db: Session, user: User, credential_id: bytes, name: str = "key") -> str:
    row = WebauthnCredential(
        user_id=user.id,
        credential_id=credential_id,
        public_key=b"not a real key",
        sign_count=5,
        name=name,
        created_at=NOW,
    )
    db.add(row)
    db.flush()
    return row.id


def password_keys(user: User, password: str) -> crypto.PasswordKeys:
    return recipients.derive_for(user, password, crypto.TEST_KDF)


def test_names_are_trimmed_and_bounded() -> None:
    assert keys.check_name("  blue \t key ") == "blue key"
    assert keys.check_name("열쇠") == "열쇠"
    for bad in ("", "   ", "x" * 65, "a\u202eb", "a\x00b"):
        with pytest.raises(InvalidInput):
            keys.check_name(bad)


def test_registration_options_exclude_known_keys_and_ask_for_no_attestation(
    runtime: Runtime,
) -> None:
    with runtime.default.db() as db:
        user = make_user(db, "ana")
        add_key(db, user, b"\x01" * 16)
        ceremony = keys.registration_options(db, user, rp_id=RP_ID)
        options = json.loads(ceremony.options_json)
    assert options["rp"]["id"] == RP_ID
    assert options["challenge"] == b64url(ceremony.challenge)
    assert len(ceremony.challenge) == 32
    assert options["attestation"] == "none"
    # The user handle is the random account id, not the name.
    assert options["user"]["id"] == b64url(bytes.fromhex(user.id))
    assert [c["id"] for c in options["excludeCredentials"]] == [b64url(b"\x01" * 16)]
    assert options["authenticatorSelection"]["residentKey"] == "discouraged"


def test_login_options_list_the_users_keys_or_stable_decoys(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        ana = make_user(db, "ana")
        add_key(db, ana, b"\x02" * 16)
        add_key(db, ana, b"\x03" * 16)
        bo = make_user(db, "bo")

        def allowed(user: User | None, username: str, decoy: bytes = b"d" * 16) -> list[str]:
            ceremony = keys.authentication_options(
                db, user, username=username, rp_id=RP_ID, decoy_key=decoy
            )
            options = json.loads(ceremony.options_json)
            assert options["rpId"] == RP_ID
            assert options["userVerification"] == "discouraged"
            return [c["id"] for c in options["allowCredentials"]]

        assert sorted(allowed(ana, "ana")) == sorted([b64url(b"\x02" * 16), b64url(b"\x03" * 16)])
        # A user without keys and an unknown name both get one decoy: stable per name,
        # different between names, and unknown without the server's decoy key.
        assert allowed(bo, "bo") == allowed(bo, "bo") == allowed(None, "BO ")
        assert len(allowed(bo, "bo")) == 1
        assert allowed(None, "carol") != allowed(None, "bo")
        assert allowed(None, "carol", b"e" * 16) != allowed(None, "carol")
        first = keys.authentication_options(
            db, None, username="x", rp_id=RP_ID, decoy_key=b"d" * 16
        )
        second = keys.authentication_options(
            db, None, username="x", rp_id=RP_ID, decoy_key=b"d" * 16
        )
        assert first.challenge != second.challenge


@pytest.mark.parametrize(
    "response",
    [
        "",
        "{",
        "[]",
        json.dumps({"type": "public-key"}),
        json.dumps({"rawId": "!!!", "type": "public-key"}),
        json.dumps({"rawId": b64url(b"\x04" * 16), "id": b64url(b"\x04" * 16), "response": {}}),
        "x" * (keys.MAX_RESPONSE + 1),
    ],
)
def test_malformed_or_foreign_assertions_fail_with_the_generic_error(
    runtime: Runtime, response: str
) -> None:
    with runtime.default.db() as db:
        ana = make_user(db, "ana")
        bo = make_user(db, "bo")
        add_key(db, bo, b"\x04" * 16)  # someone else's key does not log ana in
        with pytest.raises(AuthenticationFailed) as failure:
            keys.verify_key(
                db, ana, response=response, challenge=b"c" * 32, rp_id=RP_ID, origin=ORIGIN, now=NOW
            )
        assert failure.value.message == "The username, password or code is wrong."
        # bo's own key with a broken answer fails the same way, and its counter is unchanged.
        with pytest.raises(AuthenticationFailed):
            keys.verify_key(
                db, bo, response=response, challenge=b"c" * 32, rp_id=RP_ID, origin=ORIGIN, now=NOW
            )
        assert db.scalar(select(WebauthnCredential.sign_count)) == 5


def test_a_broken_registration_is_refused_and_keys_are_bounded(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        ana = make_user(db, "ana")
        with pytest.raises(InvalidInput) as failure:
            keys.register_key(
                db,
                ana,
                name="blue",
                response=json.dumps({"id": "AAAA", "rawId": "AAAA", "response": {}}),
                challenge=b"c" * 32,
                rp_id=RP_ID,
                origin=ORIGIN,
                now=NOW,
            )
        assert failure.value.message == keys.REGISTRATION_FAILED
        for number in range(keys.MAX_KEYS):
            add_key(db, ana, bytes([number]) * 16)
        with pytest.raises(InvalidInput, match="most security keys"):
            keys.register_key(
                db,
                ana,
                name="one more",
                response="{}",
                challenge=b"c" * 32,
                rp_id=RP_ID,
                origin=ORIGIN,
                now=NOW,
            )


def test_removing_a_key_needs_the_password_and_ones_own_key(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        ana = make_user(db, "ana")
        bo = make_user(db, "bo")
        mine = add_key(db, ana, b"\x05" * 16, "mine")
        theirs = add_key(db, bo, b"\x06" * 16, "theirs")
        with pytest.raises(AuthenticationFailed):
            keys.remove_key(db, ana, mine, password_keys(ana, "not the password"))
        with pytest.raises(NotFound):
            keys.remove_key(db, ana, theirs, password_keys(ana, PASSWORD))
        assert keys.remove_key(db, ana, mine, password_keys(ana, PASSWORD)) == "mine"
        assert keys.list_keys(db, ana) == []
        assert [k.name for k in keys.list_keys(db, bo)] == ["theirs"]


def test_keys_go_with_their_account(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        ana = make_user(db, "ana")
        add_key(db, ana, b"\x07" * 16)
        db.delete(ana)
        db.flush()
        assert db.scalar(select(WebauthnCredential.id)) is None


def test_password_and_unlock_are_separate_steps(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        ana = make_user(db, "ana")
        right = password_keys(ana, PASSWORD)
        with pytest.raises(AuthenticationFailed):
            recipients.verify_password(ana, password_keys(ana, "not the password"))
        with pytest.raises(AuthenticationFailed):
            recipients.verify_password(None, right)
        assert recipients.verify_password(ana, right) is ana
        seed = recipients.unlock(ana, right.kek).private_seed
        assert seed is not None
        assert crypto.KeyPair.from_seed(seed).public_key == ana.public_key
        # A KEK from another password opens nothing, and says no more than a failed login.
        with pytest.raises(AuthenticationFailed):
            recipients.unlock(ana, password_keys(ana, "another password").kek)
        ana.disabled = True
        with pytest.raises(AuthenticationFailed):
            recipients.unlock(ana, right.kek)


def actions(runtime: Runtime) -> list[str]:
    with runtime.default.db() as db:
        return list(db.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_removing_a_key_checks_the_password_and_is_recorded(runtime: Runtime) -> None:
    ctx = runtime.default
    with ctx.db() as db:
        ana = make_user(db, "ana")
        key_id = add_key(db, ana, b"\x08" * 16)
    with pytest.raises(AuthenticationFailed):
        keys.delete_key(ctx, ana, key_id, "not the password")
    assert actions(runtime) == []
    keys.delete_key(ctx, ana, key_id, PASSWORD)
    assert actions(runtime) == ["account.key_removed"]
    with ctx.db() as db:
        assert keys.list_keys(db, ana) == []


def test_a_key_login_begun_with_a_wrong_password_is_counted_once_and_cannot_finish(
    runtime: Runtime,
) -> None:
    ctx = runtime.default
    with ctx.db() as db:
        ana = make_user(db, "ana")
        add_key(db, ana, b"\x09" * 16)
    wrong, ceremony = keys.begin_login(ctx, "ana", "not the password", rp_id=RP_ID)
    right, _ = keys.begin_login(ctx, "ana", PASSWORD, rp_id=RP_ID)
    # The options do not say whether the password was right; only the server-side part does.
    assert json.loads(ceremony.options_json)["allowCredentials"] == [
        {"id": b64url(b"\x09" * 16), "type": "public-key"}
    ]
    assert (wrong.user_id, wrong.kek) == (None, None)
    assert right.user_id == ana.id
    assert right.kek is not None
    assert actions(runtime) == ["auth.login_failed"]
    with pytest.raises(AuthenticationFailed):
        keys.finish_login(ctx, wrong, "{}", rp_id=RP_ID, origin=ORIGIN)
    with ctx.db() as db:
        throttle = db.get(LoginThrottle, login_key("ana"))
        assert throttle is not None
        assert throttle.failures == 1
    # A right password with a wrong key's answer is a failure too, counted at the second step.
    with pytest.raises(AuthenticationFailed):
        keys.finish_login(ctx, right, "{}", rp_id=RP_ID, origin=ORIGIN)
    assert actions(runtime) == ["auth.login_failed", "auth.login_failed"]
