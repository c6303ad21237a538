"""A source's way in and out: logging in with the codename, and forgetting the conversation.

What a source's session holds (:class:`~mailslot.sessions.data.SessionData`, stored sealed
by the web layer and handed back to the use cases): ``seed``, the codename key's seed from
the Argon2id derivation; ``new_lookup``, until the first submission creates the source, the
lookup tag its row will hold; ``source_id``, once the source exists.

Sources are never in the audit trail: none of these use cases records an event.
Each function is blocking: the web layer runs it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailslot import crypto
from mailslot.context import OrgContext
from mailslot.errors import AuthenticationFailed, InvalidInput
from mailslot.i18n import N_
from mailslot.instance.services import get_instance
from mailslot.sessions.data import SessionData
from mailslot.sessions.services import SessionState
from mailslot.sources import services as sources
from mailslot.sources.codenames import canonical_codename
from mailslot.sources.models import Source
from mailslot.sources.services import MAX_CODENAME_CHARS

SESSION_ENDED = N_("Your session has ended. Log in with your codename and send again.")


@dataclass(frozen=True, slots=True, repr=False)
class SourceLogin:
    """A codename that opened its source: the session to start for it."""

    source_id: str
    session: SessionData


def log_in(ctx: OrgContext, codename: str) -> SourceLogin:
    """Find the source a codename belongs to, in whatever list and script it was made
    (:func:`~mailslot.sources.codenames.canonical_codename`); raises
    :class:`AuthenticationFailed` for a codename that is not right, or with the position of
    a word that is in no list (or ``TooManyRequests`` for a full KDF queue)."""
    if not codename.strip():
        raise InvalidInput("Enter your codename.")
    # A word in no codename list is refused at once: that depends only on what was typed.
    # Past that, the same Argon2id work whether or not the codename exists.
    keys = derive_keys(ctx, canonical_codename(codename[:MAX_CODENAME_CHARS]))
    with ctx.db() as db:
        source_id = sources.find_source(db, keys).id
    return SourceLogin(source_id, SessionData(source_id=source_id, seed=keys.key_pair.seed))


def derive_keys(ctx: OrgContext, codename: str) -> crypto.SourceKeys:
    """The codename's keys, under the organisation's salt and parameters (Argon2id, under the
    process-wide cap)."""
    with ctx.db() as db:
        instance = get_instance(db, ctx.instance_id)
    return ctx.kdf(lambda: sources.derive_keys(instance, codename))


def forget(ctx: OrgContext, source_id: str | None) -> None:
    """Delete-my-conversation: the codename stops working and opens nothing any more (see
    :func:`mailslot.sources.services.forget_source`). Nothing to do for a source that does
    not exist (yet, or any more)."""
    if not source_id:
        return
    with ctx.db() as db:
        source = db.get(Source, source_id)
        if source is not None:
            sources.forget_source(db, source)


def source_id(state: SessionState | None) -> str | None:
    """The source a session belongs to; None before the first submission or without one."""
    if state is None:
        return None
    return state.data.source_id or None


def source_key(seed: bytes | None) -> crypto.KeyPair:
    """The codename's key pair, from the seed a source's session holds."""
    if seed is None:
        raise AuthenticationFailed(SESSION_ENDED)
    return crypto.KeyPair.from_seed(seed)
