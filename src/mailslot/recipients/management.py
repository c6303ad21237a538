"""Staff accounts as an administrator and a newcomer see them, as use cases: enrolment
(the first-run setup link and invitations), inviting, and disabling or enabling an account.
Each records its own audit event (roles, usernames and ids; never a password or a code).

Each function is blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mailslot.audit import services as audit
from mailslot.context import OrgContext
from mailslot.dropkeys import services as dropkeys
from mailslot.identity import custodians
from mailslot.instance.services import get_instance
from mailslot.recipients import services as recipients
from mailslot.recipients.models import Role, User


@dataclass(frozen=True, slots=True, repr=False)
class EnrollmentForm:
    """What the enrolment page shows: the role, the fixed username if any, and the TOTP
    secret to scan (as text and as an ``otpauth://`` URI)."""

    role: str
    fixed_username: str | None
    totp_secret: str
    totp_uri: str
    first_admin: bool


@dataclass(frozen=True, slots=True, repr=False)
class Enrolled:
    username: str
    role: str
    recovery_key: str  # shown once


def enrollment(ctx: OrgContext, token: str) -> EnrollmentForm:
    """The enrolment behind a link; NotFound once it has expired or been used."""
    now = ctx.now()
    with ctx.db() as db:
        found = recipients.get_enrollment(db, token, now)
        instance = get_instance(db, ctx.instance_id)
        label = found.username or "new account"
        return EnrollmentForm(
            role=found.role,
            fixed_username=found.username,
            totp_secret=found.totp_secret,
            totp_uri=recipients.totp_uri(label, found.totp_secret, instance.name),
            first_admin=found.created_by is None,
        )


def enroll(
    ctx: OrgContext, token: str, *, username: str, password: str, again: str, totp: str
) -> Enrolled:
    """Create the account a link invites to (the link then stops working)."""
    now = ctx.now()

    def work(db: Session) -> Enrolled:
        account = recipients.complete_enrollment(
            db,
            token=token,
            username=username,
            password=password,
            password_again=again,
            totp_code=totp,
            kdf=ctx.config.kdf,
            now=now,
        )
        audit.record(
            db,
            "user.enrolled",
            now=now,
            actor_id=account.user.id,
            actor=account.user.username,
            role=account.user.role,
        )
        dropkeys.resync(db, ctx.instance_id, now)  # the channels the link named
        return Enrolled(account.user.username, account.user.role, account.recovery_key)

    # create_user runs Argon2id inside; keep it within the KDF cap.
    return ctx.kdf(lambda: ctx.transact(work))


def invite(
    ctx: OrgContext,
    admin: User,
    *,
    role: Role,
    username: str | None,
    channel_ids: Sequence[str],
) -> str:
    """A one-time enrolment link for a new account (only recipients join channels)."""
    recipients.require_admin(admin)
    now = ctx.now()
    channel_ids = list(channel_ids) if role == Role.RECIPIENT else []
    with ctx.db() as db:
        token = recipients.create_enrollment(
            db,
            role=role,
            now=now,
            lifetime=ctx.config.setup_token_lifetime,
            username=username,
            channel_ids=channel_ids,
            created_by=admin.id,
        )
        audit.record(
            db,
            "admin.invite",
            now=now,
            actor_id=admin.id,
            actor=admin.username,
            role=role.value,
            username=username,
            channel_ids=channel_ids,
        )
    return f"{ctx.config.resolved_staff_url}/setup/{token}"


def set_disabled(ctx: OrgContext, admin: User, user_id: str, disabled: bool) -> None:
    """Disable an account (its sessions end) or enable it again; never one's own."""
    recipients.require_admin(admin)
    now = ctx.now()
    with ctx.db() as db:
        user = recipients.get_user(db, user_id)
        recipients.set_disabled(db, user, disabled, db.merge(admin))
        if disabled:  # a disabled custodian keeps no identity key (identity/custodians.py)
            custodians.drop_wraps(db, user)
        dropkeys.resync(db, ctx.instance_id, now)  # new drop keys for the user's channels
        audit.record(
            db,
            "admin.user_disabled" if disabled else "admin.user_enabled",
            now=now,
            actor_id=admin.id,
            actor=admin.username,
            user_id=user.id,
            username=user.username,
        )
