"""Domain services against a real (temporary SQLite) database: accounts, enrolment, sessions,
cases, items and sources. Times are injected, so expiry is tested without waiting."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pyotp
import pytest
from sqlalchemy import func, orm, select, update

from mailslot import crypto
from mailslot.cases import inbox, sealing, source_items
from mailslot.cases import services as cases
from mailslot.cases.errors import CaseNotFound, ChannelClosed, ItemNotFound
from mailslot.cases.models import Case, CaseKeyWrap, CaseRead, Item, ItemKeyWrap, ItemKind
from mailslot.channels import services as channels
from mailslot.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, TooLarge
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role, User
from mailslot.runtime import Runtime
from mailslot.sessions import services as sessions
from mailslot.sessions.data import BODY_SIZE, KeyRegistration, SessionData
from mailslot.sessions.models import Session
from mailslot.sources import services as sources
from mailslot.sources.codenames import generate_codename

NOW = 1_800_000_000


def listed(
    db: orm.Session, user: User, *, limit: int, offset: int
) -> tuple[list[inbox.InboxRow], int]:
    """The user's inbox, latest activity first: its rows and its total."""
    page = inbox.inbox(db, user, inbox.InboxQuery(limit=limit, offset=offset), NOW)
    return page.rows, page.total


PASSWORD = "correct horse battery staple"
WRONG = "The username, password or code is wrong."


def code(secret: str, when: int) -> str:
    return str(pyotp.TOTP(secret).at(when))


@dataclass
class Person:
    id: str
    username: str
    totp_secret: str
    recovery_key: str
    public_key: bytes
    seed: bytes = b""


def add_user(
    runtime: Runtime,
    username: str,
    role: Role = Role.RECIPIENT,
    channel_names: tuple[str, ...] = ("default",),
) -> Person:
    with runtime.default.db() as db:
        account = recipients.create_user(
            db,
            username=username,
            role=role,
            password=PASSWORD,
            kdf=crypto.TEST_KDF,
            now=NOW,
            channel_names=channel_names,
        )
        user = account.user
        return Person(user.id, username, account.totp_secret, account.recovery_key, user.public_key)


def log_in(runtime: Runtime, person: Person, when: int = NOW) -> bytes:
    with runtime.default.db() as db:
        user = recipients.find_user(db, person.username)
        keys = recipients.derive_for(user, PASSWORD, crypto.TEST_KDF)
        auth = recipients.authenticate(db, user, keys, code(person.totp_secret, when), when)
        return auth.private_seed


def count(runtime: Runtime, model: type, *where: object) -> int:
    with runtime.default.db() as db:
        return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# Accounts.


def test_create_user_and_authenticate_unwraps_the_private_key(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    seed = log_in(runtime, alice)
    assert crypto.KeyPair.from_seed(seed).public_key == alice.public_key
    with runtime.default.db() as db:
        user = db.get(User, alice.id)
        assert user is not None
        assert PASSWORD.encode() not in user.password_verifier
        assert user.private_key_password_wrap is not None
        assert seed not in user.private_key_password_wrap


def test_every_login_failure_has_the_same_message(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    good = code(alice.totp_secret, NOW)
    wrong_code = next(c for c in ("000000", "111111", "222222", "333333") if c != good)
    with runtime.default.db() as db:
        user = recipients.find_user(db, "alice")
        attempts = [
            (user, recipients.derive_for(user, "not the password at all", crypto.TEST_KDF), good),
            (user, recipients.derive_for(user, PASSWORD, crypto.TEST_KDF), wrong_code),
            (user, recipients.derive_for(user, PASSWORD, crypto.TEST_KDF), "12345"),
            (None, recipients.derive_for(None, PASSWORD, crypto.TEST_KDF), good),
        ]
    for who, keys, totp in attempts:
        with runtime.default.db() as db, pytest.raises(AuthenticationFailed) as info:
            recipients.authenticate(db, db.merge(who) if who else None, keys, totp, NOW)
        assert info.value.message == WRONG
    # A wrong password did not spend the code.
    assert log_in(runtime, alice) != b""


def test_a_totp_code_works_once(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    log_in(runtime, alice, NOW)
    with pytest.raises(AuthenticationFailed):
        log_in(runtime, alice, NOW)  # the same code again
    with pytest.raises(AuthenticationFailed):
        log_in(runtime, alice, NOW - 30)  # an older one
    assert log_in(runtime, alice, NOW + 30)


def test_disabled_accounts_cannot_log_in(runtime: Runtime) -> None:
    admin = add_user(runtime, "admin", Role.ADMIN, ())
    alice = add_user(runtime, "alice")
    with runtime.default.db() as db:
        actor = db.get(User, admin.id)
        target = db.get(User, alice.id)
        assert actor is not None
        assert target is not None
        with pytest.raises(InvalidInput):
            recipients.set_disabled(db, actor, True, actor)
        recipients.set_disabled(db, target, True, actor)
    with pytest.raises(AuthenticationFailed):
        log_in(runtime, alice)


def test_recovery_key_unwraps_the_private_key(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    secret = recipients.parse_recovery_key(alice.recovery_key)
    assert len(secret) == 32
    sloppy = alice.recovery_key.lower().replace("-", " ")
    assert recipients.parse_recovery_key(sloppy) == secret
    user_id = bytes.fromhex(alice.id)
    with runtime.default.db() as db:
        user = db.get(User, alice.id)
        assert user is not None
        assert user.private_key_recovery_wrap is not None
        wrap = user.private_key_recovery_wrap
    context = b"user-private-key/recovery/" + user_id
    seed = crypto.open_secret(crypto.recovery_kek(secret, user_id), wrap, context)
    assert crypto.KeyPair.from_seed(seed).public_key == alice.public_key
    with pytest.raises(crypto.DecryptionError):
        crypto.open_secret(crypto.recovery_kek(bytes(32), user_id), wrap, context)


@pytest.mark.parametrize("text", ["", "not-a-key", "AAAA-AAAA", "!" * 52, "A" * 60])
def test_malformed_recovery_keys_are_refused(text: str) -> None:
    with pytest.raises(AuthenticationFailed):
        recipients.parse_recovery_key(text)


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        ("a", PASSWORD, InvalidInput),
        ("-dash", PASSWORD, InvalidInput),
        ("x" * 65, PASSWORD, InvalidInput),
        ("with space", PASSWORD, InvalidInput),
        ("bob", "short", InvalidInput),
        ("bobby", "my name is BOBBY ok", InvalidInput),
        ("bob", "abababababababab", InvalidInput),
        ("bob", "x" * 513, InvalidInput),
        ("alice", PASSWORD, Conflict),
    ],
)
def test_account_rules(
    runtime: Runtime, username: str, password: str, error: type[Exception]
) -> None:
    add_user(runtime, "alice")
    with runtime.default.db() as db, pytest.raises(error):
        recipients.create_user(
            db,
            username=username,
            role=Role.RECIPIENT,
            password=password,
            kdf=crypto.TEST_KDF,
            now=NOW,
        )


def test_admins_cannot_join_channels(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput):
        add_user(runtime, "root", Role.ADMIN, ("default",))
    assert count(runtime, User) == 0


# Enrolment.


def test_enrollment_works_once(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        default = channels.get_channel_by_name(db, "default")
        token = recipients.create_enrollment(
            db, role=Role.RECIPIENT, now=NOW, lifetime=3600, channel_ids=[default.id]
        )
    with runtime.default.db() as db:
        secret = recipients.get_enrollment(db, token, NOW).totp_secret

    def complete(totp: str, again: str = PASSWORD) -> recipients.NewAccount:
        with runtime.default.db() as db:
            return recipients.complete_enrollment(
                db,
                token=token,
                username="bob",
                password=PASSWORD,
                password_again=again,
                totp_code=totp,
                kdf=crypto.TEST_KDF,
                now=NOW + 60,
            )

    with pytest.raises(InvalidInput):
        complete(code(secret, NOW + 60), again=PASSWORD + "!")
    with pytest.raises(InvalidInput):
        complete(code(secret, NOW - 3600))
    # Failed attempts roll back: the link still works.
    account = complete(code(secret, NOW + 60))
    assert account.user.username == "bob"
    assert account.user.role == Role.RECIPIENT.value
    with pytest.raises(NotFound):
        complete(code(secret, NOW + 60))
    with runtime.default.db() as db:
        default = channels.get_channel_by_name(db, "default")
        assert [u.username for u in channels.members(db, default)] == ["bob"]
    # The code typed during enrolment cannot be replayed to log in.
    bob = Person(account.user.id, "bob", secret, account.recovery_key, account.user.public_key)
    with pytest.raises(AuthenticationFailed):
        log_in(runtime, bob, NOW + 60)
    assert log_in(runtime, bob, NOW + 90)


def test_enrollment_expires_and_keeps_a_fixed_username(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        token = recipients.create_enrollment(
            db, role=Role.RECIPIENT, now=NOW, lifetime=3600, username="carol"
        )
        digest_only = db.scalar(select(func.count()).select_from(User))
    assert digest_only == 0
    with runtime.default.db() as db:
        enrollment = recipients.get_enrollment(db, token, NOW + 3599)
        assert token.encode() not in enrollment.token_digest
        secret = enrollment.totp_secret
        with pytest.raises(NotFound):
            recipients.get_enrollment(db, token, NOW + 3600)
        with pytest.raises(NotFound):
            recipients.get_enrollment(db, token + "x", NOW)
    with runtime.default.db() as db:
        account = recipients.complete_enrollment(
            db,
            token=token,
            username="mallory",
            password=PASSWORD,
            password_again=PASSWORD,
            totp_code=code(secret, NOW + 10),
            kdf=crypto.TEST_KDF,
            now=NOW + 10,
        )
        assert account.user.username == "carol"


def test_ensure_setup_link_replaces_old_links_until_an_admin_exists(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        first = recipients.ensure_setup_link(db, NOW, 3600)
    with runtime.default.db() as db:
        second = recipients.ensure_setup_link(db, NOW + 5, 3600)
    assert first
    assert second
    assert first != second
    with runtime.default.db() as db:
        with pytest.raises(NotFound):
            recipients.get_enrollment(db, first, NOW + 10)
        assert recipients.get_enrollment(db, second, NOW + 10).role == Role.ADMIN.value
    add_user(runtime, "root", Role.ADMIN, ())
    with runtime.default.db() as db:
        assert recipients.ensure_setup_link(db, NOW + 20, 3600) is None


# Sessions.

SEED = bytes(range(32))


def test_session_round_trip_keeps_secrets_off_the_database(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        state = sessions.create(
            db, kind=sessions.STAFF, data=SessionData(seed=SEED), now=NOW, absolute=3600
        )
    token = state.token
    with runtime.default.db() as db:
        row = db.get(Session, state.row.id)
        assert row is not None
        assert token not in row.id
        assert SEED not in row.data
        assert base64.b64encode(SEED) not in row.data
        loaded = sessions.load(db, token, kind=sessions.STAFF, idle=600, now=NOW + 1)
        assert loaded is not None
        assert loaded.data == SessionData(seed=SEED)
        loaded.data.csrf = "abc"
        sessions.save(db, loaded)
    with runtime.default.db() as db:
        again = sessions.load(db, token, kind=sessions.STAFF, idle=600, now=NOW + 2)
        assert again is not None
        assert again.data == SessionData(seed=SEED, csrf="abc")
        # Another kind of session never accepts this token.
        assert sessions.load(db, token, kind=sessions.SOURCE, idle=600, now=NOW + 2) is None
        assert sessions.load(db, token, kind=sessions.API, idle=600, now=NOW + 2) is None
        sessions.destroy(db, again)
    with runtime.default.db() as db:
        assert sessions.load(db, token, kind=sessions.STAFF, idle=600, now=NOW + 3) is None
    assert count(runtime, Session) == 0


@pytest.mark.parametrize(
    "token", [None, "", "!!!", "a" * 65, "AAAA", "A" * 43, "not base64 at all, clearly"]
)
def test_garbage_tokens_load_nothing(runtime: Runtime, token: str | None) -> None:
    with runtime.default.db() as db:
        sessions.create(db, kind=sessions.SOURCE, data=SessionData(), now=NOW, absolute=60)
        assert sessions.load(db, token, kind=sessions.SOURCE, idle=60, now=NOW) is None


# Each kind of session as the code that starts it fills it in (csrf as web/common.py sets it).
CSRF = "c" * 32
KINDS = {
    "source-before-sending": (sessions.SOURCE, SessionData(csrf=CSRF, new_lookup=SEED, seed=SEED)),
    "source-after-sending": (
        sessions.SOURCE,
        SessionData(csrf=CSRF, source_id="s" * 36, seed=SEED),
    ),
    "staff-with-seed": (sessions.STAFF, SessionData(csrf=CSRF, user_id="u" * 36, seed=SEED)),
    "staff-offline": (sessions.STAFF, SessionData(csrf=CSRF, user_id="u" * 36, failed_logins=3)),
    "staff-registering-a-key": (
        sessions.STAFF,
        SessionData(
            csrf=CSRF,
            user_id="u" * 36,
            seed=SEED,
            key_registration=KeyRegistration(challenge=SEED, at=NOW),
        ),
    ),
    "api": (sessions.API, SessionData(user_id="u" * 36, seed=SEED)),
    "pre-login": (
        sessions.STAFF,
        SessionData(csrf=CSRF, username="a" * 64, pre_user_id="u" * 36, kek=SEED, challenge=SEED),
    ),
    "empty": (sessions.SOURCE, SessionData()),
}


def test_every_kind_of_session_is_stored_at_one_length(runtime: Runtime) -> None:
    """A stored row's length must not tell a source who has sent from one who has not."""
    with runtime.default.db() as db:
        made = {
            name: sessions.create(db, kind=kind, data=data, now=NOW, absolute=3600)
            for name, (kind, data) in KINDS.items()
        }
    with runtime.default.db() as db:
        lengths = {
            name: len(db.get_one(Session, state.row.id).data) for name, state in made.items()
        }
        assert set(lengths.values()) == {5 + 12 + BODY_SIZE + 16}, lengths
        for name, state in made.items():
            kind, data = KINDS[name]
            loaded = sessions.load(db, state.token, kind=kind, idle=600, now=NOW + 1)
            assert loaded is not None
            assert loaded.data == data
            # Saving a session whose contents grew keeps the length.
            loaded.data.failed_logins = 10**6
            sessions.save(db, loaded)
            assert len(db.get_one(Session, state.row.id).data) == lengths[name]


def test_a_session_whose_padding_was_altered_is_no_session(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        state = sessions.create(
            db, kind=sessions.SOURCE, data=SessionData(csrf=CSRF), now=NOW, absolute=3600
        )
        for body in (b'{"csrf":"x"}', SessionData(csrf=CSRF).body() + b"\x00"):
            db.execute(
                update(Session)
                .where(Session.id == state.row.id)
                .values(data=crypto.seal_session(state.keys, body))
            )
            assert sessions.load(db, state.token, kind=sessions.SOURCE, idle=60, now=NOW) is None
            assert db.get(Session, state.row.id) is None  # deleted on sight
            state = sessions.create(
                db, kind=sessions.SOURCE, data=SessionData(csrf=CSRF), now=NOW, absolute=3600
            )


def test_rotate_replaces_the_token(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        old = sessions.create(
            db, kind=sessions.STAFF, data=SessionData(user_id="u"), now=NOW, absolute=3600
        )
        new = sessions.rotate(db, old, now=NOW + 5, absolute=3600)
    assert new.token != old.token
    with runtime.default.db() as db:
        assert sessions.load(db, old.token, kind=sessions.STAFF, idle=600, now=NOW + 6) is None
        loaded = sessions.load(db, new.token, kind=sessions.STAFF, idle=600, now=NOW + 6)
        assert loaded is not None
        assert loaded.data == SessionData(user_id="u")
        assert loaded.row.expires_at == NOW + 5 + 3600


def test_idle_expiry_slides_with_use(runtime: Runtime) -> None:
    idle = 600
    with runtime.default.db() as db:
        token = sessions.create(
            db, kind=sessions.SOURCE, data=SessionData(), now=NOW, absolute=10_000
        ).token
    for when in (NOW + idle - 1, NOW + 2 * idle - 2, NOW + 3 * idle - 3):
        with runtime.default.db() as db:
            assert sessions.load(db, token, kind=sessions.SOURCE, idle=idle, now=when) is not None
    with runtime.default.db() as db:
        late = NOW + 4 * idle - 3
        assert sessions.load(db, token, kind=sessions.SOURCE, idle=idle, now=late) is None
    assert count(runtime, Session) == 0  # deleted on sight
    with runtime.default.db() as db:
        assert sessions.load(db, token, kind=sessions.SOURCE, idle=idle, now=NOW) is None


def test_absolute_expiry_ends_even_an_active_session(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        token = sessions.create(
            db, kind=sessions.STAFF, data=SessionData(), now=NOW, absolute=1000
        ).token
    for when in range(NOW + 100, NOW + 1000, 300):
        with runtime.default.db() as db:
            assert sessions.load(db, token, kind=sessions.STAFF, idle=600, now=when) is not None
    with runtime.default.db() as db:
        assert sessions.load(db, token, kind=sessions.STAFF, idle=600, now=NOW + 1000) is None


def test_purge_expired(runtime: Runtime) -> None:
    with runtime.default.db() as db:
        for absolute in (10, 20, 1000):
            sessions.create(db, kind=sessions.API, data=SessionData(), now=NOW, absolute=absolute)
    with runtime.default.db() as db:
        assert sessions.purge_expired(db, NOW + 20) == 2
    assert count(runtime, Session) == 1


# Cases.


def seal_file(runtime: Runtime, data: bytes) -> sealing.ItemUpload:
    upload = sealing.ItemUpload(runtime.default.blobs, limit=1 << 20)
    upload.write(data)
    upload.close()
    return upload


def new_case(runtime: Runtime, source_id: str | None = None, text: str = "hello") -> str:
    message = sealing.seal_text(runtime.default.blobs, text)
    document = seal_file(runtime, b"%PDF " + text.encode() * 1000)
    with runtime.default.db() as db:
        channel = channels.get_channel_by_name(db, "default")
        case = sealing.open_case(db, channel, source_id, NOW)
        sealing.record_items(
            db,
            case,
            [
                sealing.SealedItem(upload=message, kind=ItemKind.MESSAGE, meta={}),
                sealing.SealedItem(
                    upload=document,
                    kind=ItemKind.FILE,
                    meta={"filename": "doc.pdf", "content_type": "application/pdf"},
                ),
            ],
            now=NOW + 1234,
        )
        return case.id


def test_open_case_refuses_a_channel_without_recipients(runtime: Runtime) -> None:
    add_user(runtime, "alice", channel_names=())
    admin = add_user(runtime, "root", Role.ADMIN, ())
    disabled = add_user(runtime, "dora", channel_names=())
    with runtime.default.db() as db:
        empty = channels.create_channel(db, name="empty", description="", recipients=[], now=NOW)
        with pytest.raises(ChannelClosed):
            sealing.open_case(db, empty, None, NOW)
        idle = channels.create_channel(
            db, name="idle", description="", recipients=["dora"], now=NOW
        )
        recipients.set_disabled(db, db.get(User, disabled.id), True, db.get(User, admin.id))  # type: ignore[arg-type]
        with pytest.raises(ChannelClosed):
            sealing.open_case(db, idle, None, NOW)
        assert [c.name for c in channels.open_channels(db)] == []
    assert count(runtime, Case) == 0


def test_record_items_and_read_them_back(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    bob = add_user(runtime, "bob", channel_names=())
    seed = log_in(runtime, alice)
    case_id = new_case(runtime, text="Grüße, 세계")
    with runtime.default.db() as db:
        user = db.get(User, alice.id)
        assert user is not None
        case, wrap = cases.case_for_user(db, user, case_id)
        assert case.item_count == 2
        assert case.created_at % 3600 == 0  # only the hour is kept in clear
        views = cases.case_items(
            db, runtime.default.blobs, case, cases.case_keys(db, case, wrap, seed)
        )
        assert [v.item.position for v in views] == [1, 2]
        assert [v.item.kind for v in views] == ["message", "file"]
        assert views[0].text == "Grüße, 세계"
        assert views[0].time == NOW + 1234
        assert views[1].filename == "doc.pdf"
        assert views[1].content_type == "application/pdf"
        expected = b"%PDF " + "Grüße, 세계".encode() * 1000
        assert views[1].size == len(expected)
        assert b"".join(
            cases.stream_item(runtime.default.blobs, views[1].item, views[1].data_key)
        ) == (expected)
        stored = b"".join(runtime.default.blobs.open(views[1].item.blob_id))
        assert "Grüße".encode() not in stored
        with pytest.raises(ItemNotFound):
            cases.item_for_download(db, case, cases.case_keys(db, case, wrap, seed), "0" * 32)
        outsider = db.get(User, bob.id)
        assert outsider is not None
        with pytest.raises(CaseNotFound):
            cases.case_for_user(db, outsider, case_id)
        assert listed(db, outsider, limit=10, offset=0) == ([], 0)


def test_unread_marks_follow_activity(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    first, second = new_case(runtime), new_case(runtime)
    with runtime.default.db() as db:
        user = db.get(User, alice.id)
        assert user is not None
        summaries, total = listed(db, user, limit=1, offset=0)
        assert total == 2
        assert [s.case.id for s in summaries] == [second]  # newest activity first
        assert summaries[0].unread
        older, _ = listed(db, user, limit=1, offset=1)
        assert [s.case.id for s in older] == [first]
        case, _ = cases.case_for_user(db, user, first)
        cases.mark_read(db, case, user)
    with runtime.default.db() as db:
        user = db.get(User, alice.id)
        assert user is not None
        unread = {s.case.id: s.unread for s in listed(db, user, limit=9, offset=0)[0]}
        assert unread == {first: False, second: True}
        case, _ = cases.case_for_user(db, user, first)
        reply = sealing.seal_text(runtime.default.blobs, "thanks")
        sealing.record_items(
            db, case, [sealing.SealedItem(reply, ItemKind.REPLY, {})], now=NOW, author_id=user.id
        )
    with runtime.default.db() as db:
        user = db.get(User, alice.id)
        assert user is not None
        summaries, _ = listed(db, user, limit=9, offset=0)
        assert [(s.case.id, s.unread) for s in summaries] == [(first, True), (second, True)]


def test_item_upload_limit_and_abort(runtime: Runtime) -> None:
    upload = sealing.ItemUpload(runtime.default.blobs, limit=10)
    upload.write(b"0123456789")
    with pytest.raises(TooLarge):
        upload.write(b"!")
    upload.abort()
    assert not runtime.default.blobs.exists(upload.blob_id)
    assert [p for p in runtime.config.blob_dir.rglob("*") if p.is_file()] == []


def test_delete_case_removes_wraps_and_returns_blob_ids(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    doomed, kept = new_case(runtime), new_case(runtime)
    with runtime.default.db() as db:
        user = db.get(User, alice.id)
        assert user is not None
        blob_ids = set(db.scalars(select(Item.blob_id).where(Item.case_id == doomed)))
        item_ids = set(db.scalars(select(Item.id).where(Item.case_id == doomed)))
        case, _ = cases.case_for_user(db, user, doomed)
        cases.mark_read(db, case, user)
        returned = cases.delete_case(db, case)
    assert set(returned) == blob_ids
    assert len(blob_ids) == 2
    assert count(runtime, ItemKeyWrap, ItemKeyWrap.item_id.in_(item_ids)) == 0
    assert count(runtime, CaseKeyWrap, CaseKeyWrap.case_id == doomed) == 0
    assert count(runtime, CaseRead, CaseRead.case_id == doomed) == 0
    assert count(runtime, Item, Item.case_id == doomed) == 0
    assert count(runtime, Case, Case.id == doomed) == 0
    cases.delete_blobs(runtime.default.blobs, returned)
    assert not any(runtime.default.blobs.exists(b) for b in blob_ids)
    # The other case is untouched.
    assert count(runtime, Item, Item.case_id == kept) == 2
    assert count(runtime, CaseKeyWrap, CaseKeyWrap.case_id == kept) == 1


def test_forget_source_removes_source_wraps(runtime: Runtime) -> None:
    alice = add_user(runtime, "alice")
    seed = log_in(runtime, alice)
    keys = crypto.derive_source_keys(generate_codename(), crypto.new_salt(), crypto.TEST_KDF)
    with runtime.default.db() as db:
        source = sources.create_source(db, keys.lookup, keys.key_pair.public_key, NOW)
        source_id = source.id
        assert source.created_at % 86400 == 0
    case_id = new_case(runtime, source_id)
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        reply = sealing.seal_text(runtime.default.blobs, "We got it.")
        sealing.record_items(
            db,
            case,
            [sealing.SealedItem(reply, ItemKind.REPLY, {})],
            now=NOW,
            author_id=alice.id,
            source_public_key=keys.key_pair.public_key,
        )
    with runtime.default.db() as db:
        case = source_items.source_case(db, source_id)
        assert case is not None
        assert case.id == case_id
        views = source_items.source_view(
            db, runtime.default.blobs, keys.key_pair, case, mark_seen=True
        )
        assert [(v.item.kind, v.readable, v.text) for v in views] == [
            ("message", False, None),
            ("file", False, None),
            ("reply", True, "We got it."),
        ]
        assert views[2].item.seen_by_source
        assert sources.find_source(db, keys).id == source_id
        with pytest.raises(ItemNotFound):
            source_items.forget_reply(db, case, views[0].item.id)  # only replies can be forgotten
        source = sources.find_source(db, keys)
        sources.forget_source(db, source)
    source_wraps = ItemKeyWrap.holder == "source"
    assert count(runtime, ItemKeyWrap, source_wraps) == 0
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        assert case.source_id is None
        with pytest.raises(AuthenticationFailed):
            sources.find_source(db, keys)
        user = db.get(User, alice.id)
        assert user is not None
        _, wrap = cases.case_for_user(db, user, case_id)
        views_for_staff = cases.case_items(
            db, runtime.default.blobs, case, cases.case_keys(db, case, wrap, seed)
        )
        assert [v.text for v in views_for_staff][::2] == ["hello", "We got it."]


def test_forget_reply_hides_it_from_the_source(runtime: Runtime) -> None:
    add_user(runtime, "alice")
    source_keys = crypto.KeyPair.generate()
    with runtime.default.db() as db:
        source_id = sources.create_source(db, bytes(32), source_keys.public_key, NOW).id
    case_id = new_case(runtime, source_id)
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        reply = sealing.seal_text(runtime.default.blobs, "Please call us.")
        (row,) = sealing.record_items(
            db,
            case,
            [sealing.SealedItem(reply, ItemKind.REPLY, {})],
            now=NOW,
            source_public_key=source_keys.public_key,
        )
        source_items.forget_reply(db, case, row.id)
    with runtime.default.db() as db:
        case = db.get(Case, case_id)
        assert case is not None
        views = source_items.source_view(
            db, runtime.default.blobs, source_keys, case, mark_seen=True
        )
        assert [v.item.kind for v in views] == ["message", "file"]
        with pytest.raises(ItemNotFound):
            source_items.forget_reply(db, case, "nonsense")


@pytest.mark.parametrize(
    "password",
    [
        "Password123456",
        "qwertyuiop1234",
        "aaaaaaaaaaaaaaaaaa",
        "1234567890123",
        "letmein1234567",
        "anna-maria-1990",
    ],
)
def test_guessable_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        recipients.check_password(password, "anna")
    assert refused.value.message.startswith("This password is too easy to guess.")


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "violet tundra marmalade 83", "x7#Kp2!vQz9@Lm4w"],
)
def test_strong_passwords_pass(password: str) -> None:
    recipients.check_password(password, "anna")


def test_the_longest_password_is_scored_on_a_prefix() -> None:
    # Only a bounded prefix is scored, so the cost stays small for 512 characters.
    long = "violet tundra marmalade 83 " + "x" * 485
    assert len(long) == recipients.MAX_PASSWORD
    recipients.check_password(long, "anna")
    with pytest.raises(InvalidInput):
        recipients.check_password(("Password123456" * 40)[:512], "anna")


def test_an_automatic_acknowledgement_is_known_with_the_key_online_or_offline(
    runtime: Runtime,
) -> None:
    alice = add_user(runtime, "alice")
    seed = log_in(runtime, alice)
    case_id = new_case(runtime)
    with runtime.default.db() as db:
        user = db.get_one(User, alice.id)
        case, wrap = cases.case_for_user(db, user, case_id)
        ack = sealing.SealedItem(
            sealing.seal_text(runtime.default.blobs, "Received."), ItemKind.REPLY, {}
        )
        ack.meta["auto"] = True
        sealing.record_items(db, case, [ack], now=NOW + 2000)
        reply = sealing.SealedItem(
            sealing.seal_text(runtime.default.blobs, "Thanks"), ItemKind.REPLY, {}
        )
        sealing.record_items(db, case, [reply], now=NOW + 3000, author_id=user.id)
        online = cases.case_items(
            db, runtime.default.blobs, case, cases.case_keys(db, case, wrap, seed)
        )
        offline = cases.sealed_items(db, case)
    for views in (online, offline):
        assert [v.item.kind for v in views] == ["message", "file", "reply", "reply"]
        assert [v.automatic for v in views] == [False, False, True, False]
        assert [v.author for v in views][2:] == [None, "alice"]
    assert all(v.sealed and not v.meta for v in offline)
