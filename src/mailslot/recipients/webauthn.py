"""Security keys (WebAuthn) as a second factor for staff accounts.

A key replaces the TOTP code, never the password: the password still gives the key that
unwraps the private key. Stored per key: its credential id, public key, signature counter,
a name chosen by its owner, and coarse dates. No attestation and no authenticator model
(AAGUID): nothing that says which device or vendor a person uses.

Ceremonies (creation and login) use a random challenge that the caller keeps server-side
(in the staff session, or a sealed pre-login session) and passes back to the ``verify``
functions; the client's copy of the challenge is never trusted.

The functions taking a :class:`~mailslot.context.OrgContext` are the use cases the staff
pages call (adding and removing a key, the two steps of a key login, with their audit
events); the others work inside a unit of work the caller holds.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from mailslot import crypto
from mailslot.audit import services as audit
from mailslot.context import OrgContext
from mailslot.db.base import coarse
from mailslot.errors import AuthenticationFailed, InvalidInput, NotFound
from mailslot.i18n import N_, N_plural
from mailslot.instance.services import get_instance
from mailslot.limits import services as limits
from mailslot.recipients import login
from mailslot.recipients import services as recipients
from mailslot.recipients.models import User, WebauthnCredential

RP_NAME = "Mailslot"
VIA_KEY = "security-key"
MAX_KEYS = 10
MAX_NAME = 64
MAX_RESPONSE = 16 * 1024  # a registration or assertion in JSON is a few hundred bytes
TIMEOUT_MS = 120_000
# The same words as every other failed login: a key login tells nothing more.
LOGIN_FAILED = N_("The username, password or code is wrong.")
REGISTRATION_FAILED = N_("The security key could not be added. Please try again.")


@dataclass(frozen=True, slots=True, repr=False)
class Ceremony:
    """Options for the browser (JSON text) and the challenge the server keeps."""

    options_json: str
    challenge: bytes


def list_keys(db: Session, user: User) -> list[WebauthnCredential]:
    query = select(WebauthnCredential).where(WebauthnCredential.user_id == user.id)
    return list(db.scalars(query.order_by(WebauthnCredential.created_at, WebauthnCredential.id)))


def has_keys(db: Session, user: User) -> bool:
    query = select(WebauthnCredential.id).where(WebauthnCredential.user_id == user.id)
    return db.scalar(query.limit(1)) is not None


KEY_NAME_TOO_LONG = N_plural(
    "Give the key a name of at most %(num)s character.",
    "Give the key a name of at most %(num)s characters.",
)


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(KEY_NAME_TOO_LONG, num=MAX_NAME)
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise InvalidInput(KEY_NAME_TOO_LONG, num=MAX_NAME)
    return name


def _descriptors(ids: list[bytes]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=credential_id) for credential_id in ids]


def registration_options(db: Session, user: User, *, rp_id: str) -> Ceremony:
    """Options for ``navigator.credentials.create()``. Keys already registered are excluded,
    so the same key cannot be added twice. No attestation is asked for."""
    existing = [key.credential_id for key in list_keys(db, user)]
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=RP_NAME,
        user_name=user.username,
        user_display_name=user.username,
        # The random account id: no name or address goes into the key's user handle.
        user_id=bytes.fromhex(user.id),
        challenge=crypto.new_secret(),
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    return Ceremony(options_to_json(options), options.challenge)


def _parse(response: str) -> dict[str, Any]:
    if len(response) > MAX_RESPONSE:
        raise ValueError("response too large")
    value = json.loads(response)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def register_key(
    db: Session,
    user: User,
    *,
    name: str,
    response: str,
    challenge: bytes,
    rp_id: str,
    origin: str,
    now: int,
) -> WebauthnCredential:
    """Verify the browser's answer to :func:`registration_options` and store the key."""
    name = check_name(name)
    if len(list_keys(db, user)) >= MAX_KEYS:
        raise InvalidInput("You have the most security keys allowed (%(n)s).", n=MAX_KEYS)
    try:
        verified = verify_registration_response(
            credential=_parse(response),
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=False,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise InvalidInput(REGISTRATION_FAILED) from None
    taken = select(WebauthnCredential.id).where(
        WebauthnCredential.credential_id == verified.credential_id
    )
    if db.scalar(taken) is not None:
        raise InvalidInput(REGISTRATION_FAILED)
    key = WebauthnCredential(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
        created_at=coarse(now),
        last_used_at=None,
    )
    db.add(key)
    db.flush()
    return key


def _decoy_ids(decoy_key: bytes, username: str) -> list[bytes]:
    """Stand-in credential ids for a username with no keys (or no account): stable, so that
    asking twice gives the same answer, and keyed with a value the server keeps, so that
    nobody outside can compute them."""
    seed = decoy_key + b"\x00" + username.strip().lower().encode()
    return [crypto.digest(b"webauthn-decoy-1", seed) + crypto.digest(b"webauthn-decoy-2", seed)]


def authentication_options(
    db: Session, user: User | None, *, username: str, rp_id: str, decoy_key: bytes
) -> Ceremony:
    """Options for ``navigator.credentials.get()``.

    They depend on the username only, never on whether the password was right, so the
    answer does not reveal the password. A username without keys (or without an account)
    gets decoy ids, so the answer does not plainly say which accounts have keys.
    """
    ids = [key.credential_id for key in list_keys(db, user)] if user is not None else []
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=crypto.new_secret(),
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(ids or _decoy_ids(decoy_key, username)),
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    return Ceremony(options_to_json(options), options.challenge)


def verify_key(
    db: Session,
    user: User,
    *,
    response: str,
    challenge: bytes,
    rp_id: str,
    origin: str,
    now: int,
) -> WebauthnCredential:
    """Check an assertion by one of ``user``'s keys, then store its new signature counter.

    A counter that does not grow (when the key keeps one) means a cloned key or a replayed
    answer, and is refused. Every failure raises the same :class:`AuthenticationFailed`.
    """
    try:
        parsed = _parse(response)
        credential_id = base64url_to_bytes(str(parsed["rawId"]))
    except (ValueError, KeyError, TypeError):
        raise AuthenticationFailed(LOGIN_FAILED) from None
    key = db.scalar(
        select(WebauthnCredential).where(
            WebauthnCredential.user_id == user.id,
            WebauthnCredential.credential_id == credential_id,
        )
    )
    if key is None:
        raise AuthenticationFailed(LOGIN_FAILED)
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
            require_user_verification=False,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise AuthenticationFailed(LOGIN_FAILED) from None
    # Compare-and-set: two racing logins cannot both pass with one counter value.
    result = db.execute(
        update(WebauthnCredential)
        .where(
            WebauthnCredential.id == key.id,
            WebauthnCredential.sign_count == key.sign_count,
        )
        .values(sign_count=verified.new_sign_count, last_used_at=coarse(now))
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AuthenticationFailed(LOGIN_FAILED)
    db.refresh(key)
    return key


def remove_key(db: Session, user: User, key_id: str, current: crypto.PasswordKeys) -> str:
    """Remove one of the user's keys; the current password (``current``, derived by the
    caller under the KDF cap) must be right. Returns the removed key's name."""
    try:
        crypto.verify(user.password_verifier, current.verifier)
    except crypto.DecryptionError:
        raise AuthenticationFailed("The current password is wrong.") from None
    key = db.get(WebauthnCredential, key_id[:32])
    if key is None or key.user_id != user.id:
        raise NotFound("No such security key.")
    name = key.name
    db.delete(key)
    db.flush()
    return name


# Use cases.


def start_registration(
    ctx: OrgContext, user: User, *, rp_id: str
) -> tuple[list[WebauthnCredential], Ceremony]:
    """The user's keys, and a fresh ceremony to add one (the caller keeps its challenge)."""
    with ctx.db() as db:
        merged = db.merge(user)
        return list_keys(db, merged), registration_options(db, merged, rp_id=rp_id)


def add_key(
    ctx: OrgContext,
    user: User,
    *,
    name: str,
    response: str,
    challenge: bytes,
    rp_id: str,
    origin: str,
) -> None:
    """Store the key that answered ``challenge``; recorded as ``account.key_added``."""
    now = ctx.now()
    with ctx.db() as db:
        key = register_key(
            db,
            db.merge(user),
            name=name,
            response=response,
            challenge=challenge,
            rp_id=rp_id,
            origin=origin,
            now=now,
        )
        audit.record(
            db, "account.key_added", now=now, actor_id=user.id, actor=user.username, key_id=key.id
        )


def delete_key(ctx: OrgContext, user: User, key_id: str, password: str) -> None:
    """Remove one of the user's keys if ``password`` is theirs (Argon2id under the KDF cap);
    recorded as ``account.key_removed``."""
    current = ctx.kdf(lambda: recipients.derive_for(user, password, ctx.config.kdf))
    with ctx.db() as db:
        remove_key(db, db.merge(user), key_id, current)
        audit.record(
            db,
            "account.key_removed",
            now=ctx.now(),
            actor_id=user.id,
            actor=user.username,
            key_id=key_id,
        )


@dataclass(frozen=True, slots=True, repr=False)
class PendingLogin:
    """A key login between its two steps, kept server-side (sealed) by the caller: the
    account and the password's KEK only if the password was right, and the challenge."""

    username: str
    user_id: str | None
    kek: bytes | None
    challenge: bytes


def begin_login(
    ctx: OrgContext, username: str, password: str, *, rp_id: str
) -> tuple[PendingLogin, Ceremony]:
    """The first step: the same throttle and Argon2id as a code login, then options for the
    browser that depend on the username only. A wrong password is counted now but told only
    after the key step, so this answer looks the same whether or not it was right."""
    user, keys = login.first_factor(ctx, username, password)
    try:
        recipients.verify_password(user, keys)
        password_ok = True
    except AuthenticationFailed:
        login.login_failed(ctx, username)
        password_ok = False
    with ctx.db() as db:
        decoy = get_instance(db, ctx.instance_id).codename_salt
        merged = db.merge(user) if user is not None else None
        ceremony = authentication_options(
            db, merged, username=username, rp_id=rp_id, decoy_key=decoy
        )
    pending = PendingLogin(
        username=username,
        user_id=user.id if user is not None and password_ok else None,
        kek=keys.kek if password_ok else None,
        challenge=ceremony.challenge,
    )
    return pending, ceremony


def finish_login(
    ctx: OrgContext, pending: PendingLogin, response: str, *, rp_id: str, origin: str
) -> login.LoggedIn:
    """The second step: a locked username is refused, the key's answer is checked against
    the challenge and counter, and only then is the private key unwrapped with the KEK from
    the first step. Recorded like any login (``auth.login`` via ``security-key``)."""
    now = ctx.now()
    with ctx.db() as db:
        limits.check_login(db, pending.username, now)
    try:
        with ctx.db() as db:
            user = db.get(User, pending.user_id) if pending.user_id else None
            if user is None or pending.kek is None:
                raise AuthenticationFailed(LOGIN_FAILED)
            verify_key(
                db,
                user,
                response=response,
                challenge=pending.challenge,
                rp_id=rp_id,
                origin=origin,
                now=now,
            )
            auth = recipients.unlock(user, pending.kek)
    except AuthenticationFailed:
        if pending.user_id:  # a wrong password was counted at the first step
            login.login_failed(ctx, pending.username)
        raise
    return login.logged_in(ctx, auth, pending.username, via=VIA_KEY)
