"""``mailslot audit``: verify the hash chain, print its head as an anchor, export JSON Lines.

Only reads. ``verify`` exits 1 and names the first bad event when the chain does not hold;
``export`` streams events in batches, so a long log needs constant memory.
"""

from __future__ import annotations

import json
import sys
from typing import IO

import click

from mailslot.cli.common import _, echo_json, message_of, ngettext, organisation
from mailslot.cli.help import Group
from mailslot.i18n import N_


@click.group(cls=Group, help=N_("The audit trail of staff actions."))
def audit() -> None:
    pass


@audit.command(
    "verify",
    help=N_("Recompute every link of the chain; exit 1 at the first event that does not hold."),
)
@click.option(
    "--anchor",
    help=N_("SEQ:HASH printed earlier by `mailslot audit head` and kept outside this server."),
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print one JSON object."))
@click.pass_context
def verify(ctx: click.Context, anchor: str | None, as_json: bool) -> None:
    from mailslot.audit import services as audit_services

    try:
        anchored = audit_services.parse_anchor(anchor) if anchor is not None else None
    except ValueError as exc:
        raise click.BadParameter(message_of(exc), param_hint="--anchor") from None
    with organisation(ctx) as org:
        try:
            with org.db() as db:
                result = audit_services.verify(db, anchor=anchored)
        except audit_services.ChainBroken as exc:
            if as_json:
                echo_json({"ok": False, "seq": exc.seq, "reason": exc.reason})
            else:
                click.echo(
                    _(
                        "FAIL: the audit trail does not verify at event %(seq)s: %(reason)s.",
                        seq=exc.seq,
                        reason=exc.reason,
                    )
                )
            sys.exit(1)
    if as_json:
        echo_json(
            {
                "ok": True,
                "events": result.events,
                "head": result.anchor,
                "anchored": anchored is not None,
            }
        )
        return
    if anchored is not None:
        text = ngettext(
            "ok: %(num)s event, every link holds and passes through the anchor. Head: %(head)s",
            "ok: %(num)s events, every link holds and passes through the anchor. Head: %(head)s",
            result.events,
            head=result.anchor,
        )
    else:
        text = ngettext(
            "ok: %(num)s event, every link holds. Head: %(head)s",
            "ok: %(num)s events, every link holds. Head: %(head)s",
            result.events,
            head=result.anchor,
        )
    click.echo(text)


@audit.command(
    "head",
    help=N_("Print the newest link as SEQ:HASH: keep it somewhere else to use as an anchor."),
)
@click.pass_context
def head(ctx: click.Context) -> None:
    from mailslot.audit import services as audit_services

    with organisation(ctx) as org, org.db() as db:
        seq, digest = audit_services.head(db)
    click.echo(f"{seq}:{digest.hex()}")


@audit.command(
    "export", help=N_("Write events as JSON Lines (one object per line, oldest first) for a SIEM.")
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.File("w", encoding="utf-8", lazy=True),
    help=N_("File to write ('-' for standard output)."),
)
@click.option("--since", "since_seq", type=click.IntRange(min=0), help=N_("Only events after SEQ."))
@click.option("--case", "case_id", help=N_("Only events about this case id."))
@click.option("--action", help=N_("Only this action (or every action of an area: 'case')."))
@click.option("--actor", help=N_("Only events by this username."))
@click.pass_context
def export(
    ctx: click.Context,
    out: IO[str],
    since_seq: int | None,
    case_id: str | None,
    action: str | None,
    actor: str | None,
) -> None:
    from mailslot.audit import services as audit_services

    filters = audit_services.Filters(
        actor=actor, action=action, case_id=case_id, since_seq=since_seq
    )
    count = 0
    with organisation(ctx) as org:
        with org.db() as db:
            for line in audit_services.exported(db, filters):
                out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                count += 1
        out.flush()
    click.echo(ngettext("Wrote %(num)s event.", "Wrote %(num)s events.", count), err=True)
