"""``mailslot inspect`` and ``mailslot sanitize``: what documents reveal about whoever made
them, and copies without it.

Both run on any computer (the offline one too): they need no configuration, data directory,
database or network. Every file is parsed in a sandboxed child process
(:mod:`mailslot.documents.sandbox`), never in this one; originals are only read.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mailslot.cli.common import _, echo_json, ngettext, operator_language
from mailslot.cli.help import Command
from mailslot.i18n import DEFAULT_LOCALE, N_

if TYPE_CHECKING:
    from mailslot.documents.sandbox import Inspection

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _read(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None if it is larger than ``limit`` (read no further)."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


@click.command(
    "inspect",
    cls=Command,
    help=N_(
        "Report what each FILE reveals: places, people, devices, times, hidden "
        "parts.\n\n"
        'Types Mailslot cannot read are reported as "not inspected", which does '
        "not mean clean. Exits 1 if any file could not be inspected (damaged, too"
        " large, or the sandbox stopped it)."
    ),
)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print one JSON array of reports."))
def inspect(files: tuple[Path, ...], as_json: bool) -> None:
    from mailslot.documents import sandbox

    inspections = []
    for path in files:
        data = _read(path, sandbox.DEFAULT_LIMITS.max_input)
        if data is None:
            inspections.append(sandbox.failed(str(path), "unknown", sandbox.Failure.TOO_LARGE))
        else:
            inspections.append(sandbox.inspect(data, str(path)))
    if as_json:
        echo_json([i.report.to_json() for i in inspections])
    else:
        for inspection in inspections:
            _print_report(inspection)
    if any(i.failure is not None for i in inspections):
        sys.exit(1)


def _print_report(inspection: Inspection) -> None:
    from mailslot.documents.findings import LABELS

    report = inspection.report
    if not report.inspected:
        note = report.note or _("not inspected")
        if inspection.failure is None:
            note += _(" (Mailslot cannot read this type: that does not mean it is clean)")
        click.echo(
            _("%(file)s (%(type)s): %(note)s", file=report.file, type=report.type, note=note)
        )
        return
    click.echo(
        ngettext(
            "%(file)s (%(type)s): %(num)s finding",
            "%(file)s (%(type)s): %(num)s findings",
            len(report.findings),
            file=report.file,
            type=report.type,
        )
    )
    english = operator_language() == DEFAULT_LOCALE
    for finding in report.findings:
        # In English the kind as --json names it (as it always was); else its name translated.
        # The detail is the document's own words (as on the staff page, which shows it as is).
        kind = finding.kind if english else _(LABELS[finding.kind])
        line = f"  {kind}: {finding.detail}"
        click.echo(line)
    if report.note:
        click.echo(_("  note: %(note)s", note=report.note))


@click.command(
    "sanitize",
    cls=Command,
    help=N_(
        "Write a copy of each FILE without what identifies its source, into "
        "--out.\n\n"
        "The originals are only read. A copy whose name exists in --out is not "
        "written. Exits 1 if any copy could not be made or written."
    ),
)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=N_("Folder for the copies (created if missing). Nothing in it is ever replaced."),
)
@click.option(
    "--flatten",
    is_flag=True,
    help=N_("Render to pixels and rebuild as PDF or PNG (no hidden text)."),
)
@click.option("--greyscale", is_flag=True, help=N_("Flatten, in shades of grey."))
def sanitize(files: tuple[Path, ...], out_dir: Path, flatten: bool, greyscale: bool) -> None:
    from mailslot.documents import sandbox

    flatten = flatten or greyscale  # only a flattened copy is made in shades of grey
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise click.ClickException(_("%(path)s is not a folder.", path=out_dir))
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    problems = 0
    for path in files:
        data = _read(path, sandbox.DEFAULT_LIMITS.max_input)
        if data is None:
            made = sandbox.Sanitization(copy=None, failure=sandbox.Failure.TOO_LARGE)
        else:
            made = sandbox.sanitize(data, path.name, flatten=flatten, greyscale=greyscale)
        if made.copy is None:
            problems += 1
            reason = sandbox.REASONS[made.failure or sandbox.Failure.CRASH]
            detail = f" ({made.detail})" if made.detail else ""
            text = _(
                "%(path)s: no sanitised copy: %(reason)s%(detail)s.",
                path=path,
                reason=reason,
                detail=detail,
            )
            click.echo(text, err=True)
            continue
        target = out_dir / made.copy.name
        try:
            _write_new(target, made.copy.data)
        except OSError as exc:
            problems += 1
            why = _("exists already") if isinstance(exc, FileExistsError) else exc.strerror
            text = _(
                "%(path)s: not written: %(target)s %(reason)s.",
                path=path,
                target=target,
                reason=why,
            )
            click.echo(text, err=True)
            continue
        click.echo(f"{path} -> {target}")
    if problems:
        raise click.ClickException(
            ngettext(
                "%(problems)s of %(num)s file(s) have no copy.",
                "%(problems)s of %(num)s file(s) have no copy.",
                len(files),
                problems=problems,
            )
        )


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (never replacing anything) with ``data``; removed again on failure."""
    fd = os.open(path, _NEW_FILE, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
