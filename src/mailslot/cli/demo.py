"""``mailslot demo-data``: realistic, fully encrypted cases for demos and benchmarks (made by
:mod:`mailslot.cli._demo_cases`, loaded only when the command runs)."""

from __future__ import annotations

import random
import sys
import time

import click

from mailslot.cli.common import _, echo_json, message_of, ngettext, open_runtime, organisation
from mailslot.cli.help import Command
from mailslot.errors import MailslotError
from mailslot.i18n import N_

BATCH = 500  # cases per unit of work
CASES_PER_ORG = 3  # with --orgs and no --cases


@click.command(
    "demo-data",
    cls=Command,
    help=N_(
        "Create realistic, fully encrypted demo cases spread over the past 18 "
        "months.\n\n"
        "Each case has messages, small files, replies, internal notes, a status, "
        "labels, assignees and deadlines, encrypted exactly like real cases. Demo"
        " sources have a key pair but no codename: they cannot log in. Progress "
        "goes to stderr; a JSON summary to stdout.\n\n"
        "With --orgs N, N new organisations instead (hosts SLUG.source.demo.test "
        "and SLUG.staff.demo.test), for demos and benchmarks only: they share "
        "three staff accounts (demo-admin, demo-alice, demo-bob), whose "
        "passphrase the summary prints."
    ),
)
# "default 3" is CASES_PER_ORG, spelled out so that the text can be extracted.
@click.option("--cases", "count", type=click.IntRange(0, 10_000_000), default=None,
              help=N_("How many cases to create (with --orgs: in each organisation, default "
              "3)."))  # fmt: skip
@click.option("--orgs", type=click.IntRange(1, 100_000), default=None,
              help=N_("Create this many demo organisations (demo-0001 …, each with an admin, "
              "two recipients and its cases) instead of filling one."))  # fmt: skip
@click.option("--revision", default=None, help=N_("With --orgs, on SQLite: leave their "
              "databases at this older schema revision, without cases (to measure "
              "migrations at start-up)."))  # fmt: skip
@click.option("--channel", "channel_name", help=N_("Only this channel (default: every channel "
              "with recipients, in turn)."))  # fmt: skip
@click.option("--seed", type=int, default=None, help=N_("Seed for the shape of the data "
              "(times, statuses, labels); keys are always random."))  # fmt: skip
@click.pass_context
def demo_data(
    ctx: click.Context,
    count: int | None,
    orgs: int | None,
    revision: str | None,
    channel_name: str | None,
    seed: int | None,
) -> None:
    if orgs is not None:
        many_orgs(ctx, orgs, CASES_PER_ORG if count is None else count, seed, revision)
        return
    if revision is not None:
        raise click.UsageError(_("--revision goes with --orgs."))
    if not count:
        raise click.UsageError(_("Give --cases (at least 1), or --orgs."))
    from mailslot.cli import _demo_cases as demo
    from mailslot.db.planner import analyze

    with organisation(ctx) as org:
        rng = random.Random(seed)  # noqa: S311 - the shape of demo data, not secrets
        # Files are written without an fsync each (the batch is synced at once); an object
        # store takes each blob as it comes.
        blobs = org.blobs if org.config.s3_location else demo.BatchedBlobs(org.config.blob_dir)
        started = time.monotonic()
        now = org.now()
        with org.db() as db:
            setup = demo.channels_to_fill(db, channel_name, now)
        if not setup:
            raise click.ClickException(
                _("No channel named %(name)s with recipients.", name=repr(channel_name))
                if channel_name
                else _("No channel with recipients: add one with `mailslot channels add`.")
            )
        plans = demo.plan_cases(rng, setup, count, now)
        with org.db() as db:
            taken = demo.pseudonyms(db)
        for start in range(0, count, BATCH):
            with org.db() as db:
                batch = plans[start : start + BATCH]
                demo.write_cases(db, blobs, rng, batch, setup, taken, now)
            done = min(count, start + BATCH)
            elapsed = time.monotonic() - started
            text = ngettext(
                "demo-data: %(done)s/%(num)s case, %(seconds)s s",
                "demo-data: %(done)s/%(num)s cases, %(seconds)s s",
                count,
                done=done,
                seconds=round(elapsed),
            )
            click.echo(text, err=True)
        # PostgreSQL without autovacuum would otherwise plan every query on these tables
        # without statistics (db/planner.py).
        if analyze(org.engine):
            click.echo(_("demo-data: statistics gathered (ANALYZE)"), err=True)
    elapsed = time.monotonic() - started
    echo_json(
        {
            "cases": count,
            "channels": len(setup),
            "seconds": round(elapsed, 1),
            "cases_per_second": round(count / elapsed, 1) if elapsed else None,
        }
    )
    sys.stdout.flush()


def many_orgs(
    ctx: click.Context, count: int, cases: int, seed: int | None, revision: str | None
) -> None:
    from mailslot.cli._demo_orgs import make_orgs

    rng = random.Random(seed)  # noqa: S311 - the shape of demo data, not secrets
    started = time.monotonic()

    def progress(done: int) -> None:
        if done == count or done % 50 == 0:
            elapsed = time.monotonic() - started
            text = ngettext(
                "demo-data: %(done)s/%(num)s organisation, %(seconds)s s",
                "demo-data: %(done)s/%(num)s organisations, %(seconds)s s",
                count,
                done=done,
                seconds=round(elapsed),
            )
            click.echo(text, err=True)

    runtime = open_runtime(ctx)
    try:
        made = make_orgs(runtime, count, cases, rng, progress, revision)
    except MailslotError as exc:
        raise click.ClickException(message_of(exc)) from None
    finally:
        runtime.close()
    elapsed = time.monotonic() - started
    echo_json(
        {
            "organisations": len(made.slugs),
            "first": made.slugs[0],
            "last": made.slugs[-1],
            "cases_per_organisation": 0 if revision else cases,
            "revision": revision,
            "staff": ["demo-admin", "demo-alice", "demo-bob"],
            "passphrase": made.passphrase,
            "database_copied": made.copied,
            "seconds": round(elapsed, 1),
        }
    )
    sys.stdout.flush()
