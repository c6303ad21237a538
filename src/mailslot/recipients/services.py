"""Staff accounts: creation, enrolment links, authentication and key unwrapping."""

from __future__ import annotations

import base64
import datetime
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import pyotp
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailslot import crypto
from mailslot.channels import services as channels
from mailslot.channels.models import Channel
from mailslot.db.base import shred_on_commit
from mailslot.errors import AuthenticationFailed, Conflict, Forbidden, InvalidInput, NotFound
from mailslot.i18n import SUPPORTED_LOCALES, N_plural
from mailslot.recipients.models import Enrollment, Role, User
from mailslot.sessions.services import end_user_sessions

USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
MIN_PASSWORD = 12
MAX_PASSWORD = 512
# zxcvbn score 3: about 10^8 guesses or more, "safely unguessable" for an online attacker;
# Argon2id makes each offline guess expensive on top of that.
MIN_PASSWORD_SCORE = 3
MAX_SCORED_CHARS = 72  # zxcvbn refuses longer input by default
TOTP_ISSUER = "Mailslot"
# Burns the same Argon2id time for unknown usernames as for known ones.
_DUMMY_SALT = bytes(16)


@dataclass(frozen=True, slots=True, repr=False)
class NewAccount:
    user: User
    totp_secret: str
    recovery_key: str


@dataclass(frozen=True, slots=True, repr=False)
class Authenticated:
    user: User
    # None when the recipient keeps the key offline: the server cannot decrypt for them.
    private_seed: bytes | None


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise InvalidInput("Usernames are 2 to 64 letters, digits, dots, dashes or underscores.")
    return username


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            N_plural(
                "The password must have at least %(num)s character.",
                "The password must have at least %(num)s characters.",
            ),
            num=MIN_PASSWORD,
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput("The password is too long.")
    if username.lower() in password.lower() or len(set(password)) < 5:
        raise InvalidInput("This password is too easy to guess.")
    # zxcvbn estimates guesses from dictionaries, keyboard patterns, dates and repeats. Its
    # cost grows with length, so only a bounded prefix is scored (long inputs score high).
    from zxcvbn import zxcvbn  # noqa: PLC0415 - its word lists take memory; load when needed

    strength = zxcvbn(password[:MAX_SCORED_CHARS], user_inputs=[username, "mailslot"])
    if int(strength["score"]) < MIN_PASSWORD_SCORE:
        raise InvalidInput(
            "This password is too easy to guess. Try a passphrase of several unrelated words."
        )


EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}\.[^@\s.]{1,63}")


def check_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise InvalidInput("That email address is not valid.")
    return email


def set_email(db: Session, user: User, email: str, locale: str | None = None) -> None:
    """The address for content-free notices; empty to receive none. ``locale``: their
    language ("": the organisation's default; None: kept)."""
    user.email = check_email(email) if email.strip() else None
    if locale is not None:
        if locale and locale not in SUPPORTED_LOCALES:
            raise InvalidInput("Unknown language: %(name)s", name=locale)
        user.locale = locale
    db.flush()


def format_recovery_key(secret: bytes) -> str:
    text = base64.b32encode(secret).decode().rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_recovery_key(text: str) -> bytes:
    cleaned = re.sub(r"[\s-]", "", text).upper()
    try:
        secret = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except ValueError:
        raise AuthenticationFailed("That recovery key is not valid.") from None
    if len(secret) != 32:
        raise AuthenticationFailed("That recovery key is not valid.")
    return secret


def _private_context(user_id: str, purpose: bytes) -> bytes:
    return b"user-private-key/" + purpose + b"/" + bytes.fromhex(user_id)


def create_user(
    db: Session,
    *,
    username: str,
    role: Role,
    password: str,
    kdf: crypto.KdfParams,
    now: int,
    email: str | None = None,
    totp_secret: str | None = None,
    channel_names: Sequence[str] = (),
) -> NewAccount:
    """Create an account with a fresh key pair, wrapped under the password and a recovery key."""
    check_username(username)
    check_password(password, username)
    if email is not None:
        email = check_email(email)
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("This username is taken.")
    key_pair = crypto.KeyPair.generate()
    salt = crypto.new_salt()
    keys = crypto.derive_password_keys(password, salt, kdf)
    recovery = crypto.new_secret()
    user = User(
        username=username,
        role=role.value,
        email=email,
        password_kdf=kdf.encode(),
        password_salt=salt,
        password_verifier=keys.verifier,
        totp_secret=totp_secret or pyotp.random_base32(),
        totp_last_counter=0,
        public_key=key_pair.public_key,
        created_at=now,
    )
    db.add(user)
    db.flush()
    user.private_key_password_wrap = crypto.seal_secret(
        keys.kek, key_pair.seed, _private_context(user.id, b"password")
    )
    user.private_key_recovery_wrap = crypto.seal_secret(
        crypto.recovery_kek(recovery, bytes.fromhex(user.id)),
        key_pair.seed,
        _private_context(user.id, b"recovery"),
    )
    for name in channel_names:
        channels.add_member(db, channels.get_channel_by_name(db, name), user)
    return NewAccount(
        user=user, totp_secret=user.totp_secret, recovery_key=format_recovery_key(recovery)
    )


def totp_uri(user_or_name: str, secret: str, issuer: str = TOTP_ISSUER) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user_or_name, issuer_name=issuer)


def _totp_counter(secret: str, code: str, now: int) -> int | None:
    """The time step whose code is ``code``: the current one or a neighbour (clock drift)."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(_datetime(now))
    for counter in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def _check_totp(db: Session, user: User, code: str, now: int) -> None:
    """Accept the current code or its neighbours, never the same or an older one twice."""
    counter = _totp_counter(user.totp_secret, code, now)
    if counter is None or counter <= user.totp_last_counter:
        raise AuthenticationFailed("The username, password or code is wrong.")
    # Compare-and-set so that two racing logins cannot both spend one code.
    result = db.execute(
        update(User)
        .where(User.id == user.id, User.totp_last_counter < counter)
        .values(totp_last_counter=counter)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AuthenticationFailed("The username, password or code is wrong.")
    db.refresh(user)


def _datetime(now: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(now, tz=datetime.UTC)


def derive_for(user: User | None, password: str, kdf: crypto.KdfParams) -> crypto.PasswordKeys:
    """The Argon2id step of a login, separated so callers can run it under the KDF cap.

    An unknown username costs the same work as a known one (``kdf`` is the instance's
    current cost), so timing does not reveal which usernames exist.
    """
    if user is None:
        return crypto.derive_password_keys(password[:MAX_PASSWORD], _DUMMY_SALT, kdf)
    return crypto.derive_password_keys(
        password[:MAX_PASSWORD], user.password_salt, crypto.KdfParams.decode(user.password_kdf)
    )


def find_user(db: Session, username: str) -> User | None:
    return db.scalar(select(User).where(User.username == username))


def authenticate(
    db: Session, user: User | None, keys: crypto.PasswordKeys, totp_code: str, now: int
) -> Authenticated:
    """Check password and code, then unwrap the private key. One error for every failure."""
    user = verify_password(user, keys)
    _check_totp(db, user, totp_code, now)
    return unlock(user, keys.kek)


def verify_password(user: User | None, keys: crypto.PasswordKeys) -> User:
    """The first factor alone: the account exists, is enabled, and the password is right.

    Only for a login whose second factor is checked next (a security key, see
    ``recipients.webauthn``); the error is the same as for a wrong code.
    """
    if user is None or user.disabled:
        raise AuthenticationFailed("The username, password or code is wrong.")
    try:
        crypto.verify(user.password_verifier, keys.verifier)
    except crypto.DecryptionError:
        raise AuthenticationFailed("The username, password or code is wrong.") from None
    return user


def unlock(user: User, kek: bytes) -> Authenticated:
    """Unwrap the private key with the password KEK, once both factors have been checked."""
    if user.disabled:
        raise AuthenticationFailed("The username, password or code is wrong.")
    if user.key_offline:
        return Authenticated(user=user, private_seed=None)
    if user.private_key_password_wrap is None:
        raise AuthenticationFailed("The username, password or code is wrong.")
    try:
        seed = crypto.open_secret(
            kek, user.private_key_password_wrap, _private_context(user.id, b"password")
        )
    except crypto.DecryptionError:
        # Only reachable if the password changed between the two steps of a key login.
        raise AuthenticationFailed("The username, password or code is wrong.") from None
    return Authenticated(user=user, private_seed=seed)


def take_key_offline(db: Session, user: User) -> None:
    """Forget every wrap of the private key the server could use: from now on only the
    recipient's offline key file opens their cases. Their sessions end (they hold the key)."""
    shred_on_commit(db)
    user.private_key_password_wrap = None
    user.private_key_recovery_wrap = None
    user.key_offline = True
    db.flush()
    end_user_sessions(db, user.id)


def change_password(
    db: Session,
    user: User,
    *,
    current: crypto.PasswordKeys,
    new_password: str,
    new_password_again: str,
    new_keys: crypto.PasswordKeys,
    new_salt: bytes,
    kdf: crypto.KdfParams,
    keep_session: str | None = None,
) -> None:
    """Replace the password and re-wrap the private key under it.

    ``current`` and ``new_keys`` are derived by the caller under the KDF cap (see
    :func:`derive_for` and :func:`derive_new`). Every other session of the user ends.
    """
    shred_on_commit(db)
    try:
        crypto.verify(user.password_verifier, current.verifier)
    except crypto.DecryptionError:
        raise AuthenticationFailed("The current password is wrong.") from None
    if new_password != new_password_again:
        raise InvalidInput("The two passwords do not match.")
    check_password(new_password, user.username)
    seed = None
    if user.private_key_password_wrap is not None:
        seed = crypto.open_secret(
            current.kek, user.private_key_password_wrap, _private_context(user.id, b"password")
        )
    _set_password(user, new_keys, new_salt, kdf, seed)
    end_user_sessions(db, user.id, keep=keep_session)
    db.flush()


def derive_new(password: str, kdf: crypto.KdfParams) -> tuple[bytes, crypto.PasswordKeys]:
    """A fresh salt and the keys for a new password (one Argon2id run)."""
    salt = crypto.new_salt()
    return salt, crypto.derive_password_keys(password[:MAX_PASSWORD], salt, kdf)


def _set_password(
    user: User,
    keys: crypto.PasswordKeys,
    salt: bytes,
    kdf: crypto.KdfParams,
    seed: bytes | None,
) -> None:
    user.password_kdf = kdf.encode()
    user.password_salt = salt
    user.password_verifier = keys.verifier
    if seed is not None:
        user.private_key_password_wrap = crypto.seal_secret(
            keys.kek, seed, _private_context(user.id, b"password")
        )


def recover_account(
    db: Session,
    *,
    username: str,
    recovery_key: str,
    totp_code: str,
    new_password: str,
    new_password_again: str,
    new_keys: crypto.PasswordKeys,
    new_salt: bytes,
    kdf: crypto.KdfParams,
    now: int,
) -> str:
    """After a lost password: the recovery key and a current code set a new password.

    The private key is unwrapped with the recovery key and re-wrapped under the new password;
    the used recovery key is replaced by a new one, which is returned (shown once). Every
    session of the account ends.
    """
    shred_on_commit(db)
    user = find_user(db, username[:64])
    secret = parse_recovery_key(recovery_key)
    if user is None or user.disabled or user.private_key_recovery_wrap is None:
        raise AuthenticationFailed("The username, recovery key or code is wrong.")
    try:
        seed = crypto.open_secret(
            crypto.recovery_kek(secret, bytes.fromhex(user.id)),
            user.private_key_recovery_wrap,
            _private_context(user.id, b"recovery"),
        )
    except crypto.DecryptionError:
        raise AuthenticationFailed("The username, recovery key or code is wrong.") from None
    try:
        _check_totp(db, user, totp_code, now)
    except AuthenticationFailed:
        raise AuthenticationFailed("The username, recovery key or code is wrong.") from None
    if new_password != new_password_again:
        raise InvalidInput("The two passwords do not match.")
    check_password(new_password, user.username)
    _set_password(user, new_keys, new_salt, kdf, seed)
    fresh = crypto.new_secret()
    user.private_key_recovery_wrap = crypto.seal_secret(
        crypto.recovery_kek(fresh, bytes.fromhex(user.id)),
        seed,
        _private_context(user.id, b"recovery"),
    )
    end_user_sessions(db, user.id)
    db.flush()
    return format_recovery_key(fresh)


def get_user(db: Session, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.username)))


def require_admin(user: User) -> None:
    if user.role != Role.ADMIN.value:
        raise Forbidden("Only administrators can do this.")


def admin_exists(db: Session) -> bool:
    query = select(User.id).where(User.role == Role.ADMIN.value, User.disabled.is_(False))
    return db.scalar(query.limit(1)) is not None


def set_disabled(db: Session, user: User, disabled: bool, actor: User) -> None:
    if user.id == actor.id:
        raise InvalidInput("You cannot disable your own account.")
    user.disabled = disabled
    if disabled:
        end_user_sessions(db, user.id)


# Enrolment: the first admin's setup link, and invitations for everyone else.


def create_enrollment(
    db: Session,
    *,
    role: Role,
    now: int,
    lifetime: int,
    username: str | None = None,
    channel_ids: Sequence[str] = (),
    created_by: str | None = None,
) -> str:
    """Return a one-time token (shown once); only its digest is stored."""
    if username is not None:
        check_username(username)
        if find_user(db, username) is not None:
            raise Conflict("This username is taken.")
    if role != Role.RECIPIENT and channel_ids:
        raise InvalidInput("Only recipients can be members of a channel.")
    token = secrets.token_urlsafe(32)
    db.add(
        Enrollment(
            token_digest=crypto.digest(b"enrollment", token.encode()),
            role=role.value,
            username=username,
            channel_ids=",".join(channel_ids),
            totp_secret=pyotp.random_base32(),
            created_by=created_by,
            expires_at=now + lifetime,
        )
    )
    db.flush()
    return token


def ensure_setup_link(db: Session, now: int, lifetime: int) -> str | None:
    """While no admin exists, replace any earlier setup link with a new one and return it."""
    if admin_exists(db):
        return None
    stale = select(Enrollment).where(
        Enrollment.role == Role.ADMIN.value,
        Enrollment.created_by.is_(None),
        Enrollment.used_at.is_(None),
    )
    for enrollment in db.scalars(stale):
        db.delete(enrollment)
    db.flush()
    return create_enrollment(db, role=Role.ADMIN, now=now, lifetime=lifetime)


def get_enrollment(db: Session, token: str, now: int) -> Enrollment:
    if len(token) > 100:
        raise NotFound("This link is not valid. It may have expired or been used already.")
    enrollment = db.scalar(
        select(Enrollment).where(
            Enrollment.token_digest == crypto.digest(b"enrollment", token.encode())
        )
    )
    if enrollment is None or enrollment.used_at is not None or enrollment.expires_at <= now:
        raise NotFound("This link is not valid. It may have expired or been used already.")
    if enrollment.created_by is None and admin_exists(db):
        # The first-run setup link dies once an admin exists (made some other way, say the CLI).
        raise NotFound("This link is not valid. It may have expired or been used already.")
    return enrollment


def complete_enrollment(
    db: Session,
    *,
    token: str,
    username: str,
    password: str,
    password_again: str,
    totp_code: str,
    kdf: crypto.KdfParams,
    now: int,
) -> NewAccount:
    enrollment = get_enrollment(db, token, now)
    # Mark used first (compare-and-set): a link works once even under concurrent use.
    result = db.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment.id, Enrollment.used_at.is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound("This link is not valid. It may have expired or been used already.")
    if enrollment.username:
        username = enrollment.username
    if password != password_again:
        raise InvalidInput("The two passwords do not match.")
    counter = _totp_counter(enrollment.totp_secret, totp_code, now)
    if counter is None:
        raise InvalidInput("That code is not right. Check the time on your phone and try again.")
    channel_ids = [c for c in enrollment.channel_ids.split(",") if c]
    account = create_user(
        db,
        username=username,
        role=Role(enrollment.role),
        password=password,
        kdf=kdf,
        now=now,
        totp_secret=enrollment.totp_secret,
    )
    # The enrolment code counts as used: it cannot also be used to log in.
    account.user.totp_last_counter = counter
    # The account has its own copy of the TOTP secret now; the spent link keeps none.
    enrollment.totp_secret = ""
    for channel_id in channel_ids:
        channel = db.get(Channel, channel_id)
        if channel is not None:
            channels.add_member(db, channel, account.user)
    return account
