"""What one Mailslot process shares: configuration, engines, the Argon2id limiter, and the
organisation contexts built on them.

Built once by :func:`open_runtime` and handed to ``create_app`` and the CLI; nothing here is a
module-level singleton. Use cases never take a ``Runtime``: they take the
:class:`~mailslot.context.OrgContext` of one organisation, which a request resolves with
:meth:`Runtime.for_host` and a CLI command with :meth:`Runtime.context`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sqlalchemy.orm import sessionmaker

from mailslot.config import Config
from mailslot.context import DEFAULT_ORG, KdfLimiter, OrgContext
from mailslot.db.base import make_engine
from mailslot.db.migrate import upgrade_if_needed
from mailslot.errors import NotFound
from mailslot.instance.services import ensure_instance
from mailslot.storage import FilesystemBlobStore
from mailslot.tor import OnionAddresses


@dataclass(eq=False)
class Runtime:
    """The process: its configuration, the KDF limiter, and one context per organisation
    (today only the default one)."""

    config: Config
    limiter: KdfLimiter
    default: OrgContext
    _contexts: dict[str, OrgContext] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._contexts.setdefault(self.default.slug, self.default)

    def context(self, slug: str | None = None) -> OrgContext:
        """An organisation's context by slug (the default organisation when None)."""
        found = self._contexts.get(slug or DEFAULT_ORG)
        if found is None:
            raise NotFound("No such organisation.")
        return found

    def for_host(self, host: str) -> OrgContext | None:
        """The organisation that serves a request's ``Host``, or None for a host no
        organisation claims. With one organisation, it serves every host."""
        del host  # one organisation: every host is its own
        return self.default

    def close(self) -> None:
        for context in self._contexts.values():
            context.engine.dispose()


def open_runtime(config: Config, *, migrate: bool = True) -> Runtime:
    """Create the data directory, connect, migrate, and make sure the instance exists."""
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)
    engine = make_engine(config.resolved_database_url)
    if migrate:
        upgrade_if_needed(engine)
    blobs = FilesystemBlobStore(config.blob_dir)
    blobs.cleanup_incomplete()
    factory = sessionmaker(engine, expire_on_commit=False)
    limiter = KdfLimiter(config.kdf_concurrency, config.kdf_queue)
    context = OrgContext(
        slug=DEFAULT_ORG,
        instance_id=0,
        config=config,
        engine=engine,
        session_factory=factory,
        blobs=blobs,
        limiter=limiter,
        onions=OnionAddresses(config.tor_dir),
    )
    with context.db() as db:
        instance = ensure_instance(db, config.kdf, context.now())
        instance_id = instance.id
    # The context is immutable: made again with the id its database gave the instance.
    context = dataclasses.replace(context, instance_id=instance_id)
    return Runtime(config=config, limiter=limiter, default=context)
