"""The host operator's use cases on the operator pages (``web/operator_orgs.py``): the
organisations with their counts, adding one, disabling and enabling it, its quotas, its host
names, and removing it. Each is ``f(ctx, actor, ...)``: it checks what was typed (errors are
translated message ids, since the pages show them), calls the operator's use case in
``orgs.operator`` that ``mailslot orgs`` runs too, and writes the operator log.

Like ``mailslot orgs list``, nothing here reads a case, an item, a label or a person's name:
the operator sees counts and bytes. The list reads the figures kept in the registry; only one
organisation's page counts live. Each function is blocking.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from mailslot.config import parse_size
from mailslot.errors import ConfigError, Conflict, InvalidInput, NotFound
from mailslot.i18n import N_, N_plural
from mailslot.instance.services import MAX_NAME
from mailslot.orgs import operator, usage
from mailslot.orgs.accounts import HostContext, OperatorAccount, record
from mailslot.orgs.errors import OrgError, RegistryConflict, UnknownOrganisation
from mailslot.orgs.registry import OrgRecord, check_host, check_slug
from mailslot.text import plain_text

log = logging.getLogger("mailslot.orgs")
_SEPARATORS: Final = re.compile(r"[\s,]+")
_TAKEN: Final = N_("This slug is taken.")
_CLAIMED: Final = N_("Another organisation already claims %(host)s.")


def split_hosts(text: str) -> list[str]:
    """Host names as typed in a box: one a line, or separated by spaces or commas."""
    return [part for part in _SEPARATORS.split(text.strip()) if part]


def _slug(value: str) -> str:
    try:
        return check_slug(value.strip())
    except OrgError:
        raise InvalidInput(
            "A slug is 1 to 63 lower-case letters, digits and hyphens, not at either end."
        ) from None


def _name(value: str) -> str:
    name = " ".join(plain_text(value).split())
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(
            N_plural("A name has 1 to %(num)s character.", "A name has 1 to %(num)s characters."),
            num=MAX_NAME,
        )
    return name


def _hosts(ctx: HostContext, text: str, slug: str) -> list[str]:
    """Checked, normalised host names that no organisation but ``slug`` claims."""
    hosts = []
    for value in split_hosts(text):
        try:
            hosts.append(check_host(value))
        except OrgError:
            raise InvalidInput(
                "%(host)s is not a host name: use letters, digits, hyphens and dots.",
                host=value[:253],
            ) from None
    for org in ctx.registry.load().orgs:
        if org.slug != slug:
            for host in hosts:
                if host in org.source_hosts or host in org.staff_hosts:
                    raise Conflict(_CLAIMED, host=host)
    return list(dict.fromkeys(hosts))


def _quota(value: str, *, size: bool) -> int | None:
    text = value.strip() or "0"
    if size:
        try:
            return parse_size(text, "storage") or None
        except ConfigError:
            raise InvalidInput(
                "The storage quota must be a size such as 50GiB, or 0 for no limit."
            ) from None
    if not text.isdigit():
        raise InvalidInput("The case quota must be a whole number, or 0 for no limit.")
    return int(text) or None


def _record(ctx: HostContext, actor: OperatorAccount, action: str, slug: str) -> None:
    with ctx.db() as db:
        record(db, ctx.now(), actor.username, action, slug)


def overview(
    ctx: HostContext, actor: OperatorAccount, *, search: str = "", number: int = 1
) -> usage.Page:
    """A page of organisations with their quotas and their last measured counts and storage
    (``orgs/usage.py``): read from the registry alone, so a thousand organisations cost no
    more than ten."""
    return usage.page(ctx.registry, search=search[:253], number=number)


def measure(ctx: HostContext, actor: OperatorAccount, org: OrgRecord) -> usage.Figures | None:
    """One organisation's counts now (its database opened for them), kept for the list; None
    when they cannot be read (its page still serves to disable or remove it)."""
    try:
        figures = operator.measure_org(ctx.config, org, ctx.now())
    except (SQLAlchemyError, OSError) as exc:  # `mailslot check` says what is wrong
        log.error("counting an organisation failed: %s", type(exc).__name__)
        return None
    usage.store(ctx.registry, {org.id: figures})
    return figures


def find(ctx: HostContext, actor: OperatorAccount, slug: str) -> OrgRecord:
    found = ctx.registry.load().by_slug.get(slug)
    if found is None:
        raise NotFound("This organisation does not exist.")
    return found


def add(
    ctx: HostContext,
    actor: OperatorAccount,
    *,
    slug: str,
    name: str,
    source_hosts: str,
    staff_hosts: str,
) -> operator.Added:
    """A new organisation, and the one-time link for its first admin (shown once)."""
    slug, name = _slug(slug), _name(name)
    if slug in ctx.registry.load().by_slug:
        raise Conflict(_TAKEN)
    sources, staff = _hosts(ctx, source_hosts, slug), _hosts(ctx, staff_hosts, slug)
    try:
        added = operator.add(
            ctx.config,
            ctx.registry,
            slug=slug,
            name=name,
            source_hosts=sources,
            staff_hosts=staff,
            now=ctx.now(),
        )
    except RegistryConflict:  # another operator took the slug or a host meanwhile
        raise Conflict("This slug or one of these host names was taken meanwhile.") from None
    _record(ctx, actor, "org.added", slug)
    return added


def set_enabled(ctx: HostContext, actor: OperatorAccount, slug: str, enabled: bool) -> None:
    if find(ctx, actor, slug).is_default and not enabled:
        raise Conflict("The default organisation cannot be disabled.")
    operator.set_enabled(ctx.registry, slug, enabled)
    _record(ctx, actor, "org.enabled" if enabled else "org.disabled", slug)


def set_quota(
    ctx: HostContext, actor: OperatorAccount, slug: str, *, storage: str, cases: str
) -> None:
    """Both quotas, as typed (a size such as ``50GiB``, a number of cases; 0: no limit)."""
    find(ctx, actor, slug)
    bytes_, count = _quota(storage, size=True), _quota(cases, size=False)
    operator.set_quota(ctx.registry, slug, storage=bytes_, cases=count)
    _record(ctx, actor, "org.quota", slug)


def set_hosts(
    ctx: HostContext, actor: OperatorAccount, slug: str, *, source_hosts: str, staff_hosts: str
) -> None:
    find(ctx, actor, slug)
    sources, staff = _hosts(ctx, source_hosts, slug), _hosts(ctx, staff_hosts, slug)
    try:
        operator.set_hosts(ctx.registry, slug, source_hosts=sources, staff_hosts=staff)
    except RegistryConflict:
        raise Conflict("One of these host names was taken meanwhile.") from None
    _record(ctx, actor, "org.hosts", slug)


def remove(ctx: HostContext, actor: OperatorAccount, slug: str, *, confirmation: str) -> None:
    """Crypto-shred, then delete, everything of an organisation (``operator.remove``), once
    its slug was typed again. Its slug is struck from the operator log as well (by
    ``Registry.delete``), so that nothing of it stays: the log keeps that an organisation
    was removed, and by whom."""
    found = find(ctx, actor, slug)
    if found.is_default:
        raise Conflict("The default organisation cannot be removed.")
    if confirmation.strip() != slug:
        raise InvalidInput("Type the organisation's slug exactly to confirm.")
    try:
        operator.remove(ctx.config, ctx.registry, slug)
    except UnknownOrganisation:
        raise NotFound("This organisation does not exist.") from None
    _record(ctx, actor, "org.removed", "")
