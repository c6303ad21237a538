"""Background work for ``mailslot serve``: every ``MAILSLOT_JOB_INTERVAL`` seconds, remove
expired sessions, purge expired cases, queue deadline reminders, deliver the notices that are
due, and empty SQLite's write-ahead log if a reader kept it from being emptied right after a
deletion.

Each round works on every enabled organisation's :class:`~mailslot.context.OrgContext` in
turn (``Runtime.each``: one not open already is opened for its turn only). Every process
runs the loop; claims in the database (see
:mod:`mailslot.notifications.services`) make sure each notice is sent by one of them, a
guarded update queues each reminder once (:mod:`mailslot.notifications.reminders`), and a
row lock lets one process purge each case (:mod:`mailslot.cases.retention`).

:func:`watch_registry` runs beside it, reloading the host registry when it changes and
closing the contexts of organisations nobody has used for a minute.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from typing import Final

import anyio.to_thread

from mailslot import memory
from mailslot.cases import retention
from mailslot.config import Config
from mailslot.context import OrgContext
from mailslot.db.base import checkpoint
from mailslot.notifications import reminders
from mailslot.notifications import services as notices
from mailslot.notifications.mailer import SmtpSettings, parse_smtp_url, send_notice
from mailslot.orgs import usage
from mailslot.questionnaires import files as questionnaire_files
from mailslot.runtime import Runtime
from mailslot.sessions import services as sessions

log = logging.getLogger("mailslot.jobs")
# Seconds between two looks at the host registry's generation.
REGISTRY_INTERVAL: Final = 1.0


def smtp_settings(config: Config) -> SmtpSettings | None:
    """The mail server notices go through, or None without one (a bad URL raises ConfigError)."""
    if not config.smtp_url:
        return None
    return parse_smtp_url(config.smtp_url, config.smtp_from)


def run_once(ctx: OrgContext, send: Callable[[str, str], None] | None) -> int:
    """One round of background work for one organisation; returns how many notices were sent."""
    now = ctx.now()
    ctx.transact(lambda db: sessions.purge_expired(db, now))
    # Files of questionnaire drafts whose session ended without sending them.
    ctx.transact(lambda db: questionnaire_files.sweep(db, ctx.blobs))
    # Expired cases: each deleted by whichever process locks it first (cases/retention.py);
    # the SQLite file is rewritten once for the round.
    purged = retention.purge(ctx, now)
    if purged:
        log.info("purged %d expired case(s)", len(purged))
    if send is not None:  # without mail there is no one to remind; the inbox shows deadlines
        config = ctx.config
        reminders.queue_due(
            ctx.transact,
            now=now,
            lead=config.reminder_lead_hours * 3600,
            interval=config.notify_interval,
        )
    # Finish any rewrite or WAL checkpoint that another connection held up right after a
    # deletion (SQLite: db.base.Rewrites, owed to this organisation's context).
    ctx.rewrites.settle(ctx.engine)
    checkpoint(ctx.engine, attempts=1)
    if send is None:
        return 0
    return notices.deliver_due(ctx.transact, send, now=now)


def run_round(runtime: Runtime, send: Callable[[str, str], None] | None) -> int:
    """One round for every enabled organisation in turn (blocking); one organisation's
    failure is logged (its type only) and the round goes on to the next. Organisations whose
    usage figures are stale are counted while open, and the figures kept in the registry in
    one transaction (``orgs/usage.py``: the operator's list reads them)."""
    sent = 0
    due = usage.due(runtime.registry, runtime.default.now())
    measured: dict[str, usage.Figures] = {}
    for ctx in runtime.each():
        try:
            sent += run_once(ctx, send)
            if ctx.slug in due:
                counted = ctx.transact(partial(usage.measure, now=ctx.now()))
                measured[due[ctx.slug]] = counted
        except Exception as exc:  # keep the round going; the type is enough to act on
            log.error("background job failed: %s", type(exc).__name__)
    usage.store(runtime.registry, measured)
    return sent


async def run_forever(runtime: Runtime) -> None:
    settings = smtp_settings(runtime.config)
    send = (lambda to, locale: send_notice(settings, to, locale)) if settings else None
    while True:
        try:
            sent = await anyio.to_thread.run_sync(run_round, runtime, send)
            if sent:
                log.info("sent %d notice(s)", sent)
        except Exception as exc:  # keep the loop alive; the type is enough to act on
            log.error("background job failed: %s", type(exc).__name__)
        await asyncio.sleep(runtime.config.job_interval)


async def watch_registry(runtime: Runtime, interval: float = REGISTRY_INTERVAL) -> None:
    """Reload the host registry whenever it changes (one small query a second), so that an
    organisation added, disabled, removed or given new hosts or quotas by ``mailslot orgs``
    is served accordingly by every process within about a second. Also close the contexts
    of organisations nobody has used for a minute (``Runtime.rest``), and give the memory
    they held back to the system: their connections' at once, the rest (and that of the
    contexts pushed out of the cache) after a full garbage collection, at most one a minute
    (``memory.Collector``)."""
    collector = memory.Collector()
    closed = runtime.closed_count()
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(runtime.refresh)
            if await anyio.to_thread.run_sync(runtime.rest):
                await anyio.to_thread.run_sync(memory.trim)
            if runtime.closed_count() != closed:
                closed = runtime.closed_count()
                collector.owe()
            if collector.due():
                await anyio.to_thread.run_sync(collector.collect)
        except Exception as exc:  # keep watching; the type is enough to act on
            log.error("registry refresh failed: %s", type(exc).__name__)
