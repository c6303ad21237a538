"""``mailslot seal`` and ``mailslot keys verify``: sealed drops made on an offline computer;
``mailslot keys card``: the printable drop card, on the server.

``seal`` and ``keys verify`` run with no configuration, data directory, database or network:
``seal`` reads the files, the organisation's key manifest (the whole chain, as ``/keys.json``
serves it) and writes one age file; ``keys verify`` checks a manifest chain against a
signing-key fingerprint (from a drop card or the ``/keys`` page). ``keys card`` reads the
latest published manifest of an organisation. Spec: ``docs/spec/sealed-drops.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

if TYPE_CHECKING:
    from mailslot import drops

_NEW_FILE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _verified_chain(path: Path, fingerprint: str | None) -> list[drops.Manifest]:
    from mailslot import drops

    try:
        chain = drops.load_chain(path.read_bytes())
        drops.verify_chain(chain, fingerprint)
    except OSError as exc:
        raise click.ClickException(f"Cannot read {path}: {exc.strerror}.") from None
    except drops.DropError as exc:
        raise click.ClickException(f"The key manifest {path} is refused: {exc}.") from None
    return chain


def _warn(text: str) -> None:
    click.echo(f"WARNING: {text}", err=True)


def _remember(chain: list[drops.Manifest], state: Path) -> None:
    """Check the chain against the manifests this machine saw before, then record it."""
    from mailslot import drops

    seen = drops.SeenManifests(state)
    try:
        seen.check(chain)
    except drops.ManifestForked as exc:
        _warn(
            f"{exc}. Someone holding the organisation's signing key published two different "
            "histories. Sealing goes ahead with the manifest given; before handing the file "
            "on, ask the organisation, through another route, which drop key is theirs."
        )
    try:
        report = seen.record(chain)
    except (OSError, drops.DropError) as exc:
        _warn(f"could not remember this manifest in {state}: {exc}")
        return
    if report.rolled_back:
        _warn(
            f"this manifest ends at version {report.latest_now}, but version "
            f"{report.latest_before} was seen before: it may be out of date or held back."
        )


def _recipients(
    targets: tuple[str, ...],
    manifest_path: Path | None,
    fingerprint: str | None,
    state: Path | None,
) -> list[drops.PqRecipient]:
    from mailslot import drops

    recipients = []
    chain: list[drops.Manifest] | None = None
    for target in targets:
        if target.lower().startswith("age1"):
            try:
                recipients.append(drops.PqRecipient.parse(target))
            except drops.RecipientInvalid as exc:
                raise click.ClickException(f"--to {target[:16]}…: {exc}.") from None
            continue
        if manifest_path is None:
            raise click.ClickException(f"--to {target}: a channel name needs --manifest.")
        if chain is None:
            chain = _verified_chain(manifest_path, fingerprint)
            if fingerprint is None:
                _warn(
                    f"the manifest is signed by key {chain[-1].fingerprint}; compare it with "
                    "the fingerprint on the drop card or the /keys page (or pass --fingerprint)."
                )
            if state is not None:
                _remember(chain, state)
        try:
            entry = chain[-1].channel(target)
        except drops.ManifestInvalid as exc:
            raise click.ClickException(f"{exc}.") from None
        recipients.append(drops.PqRecipient.parse(entry.drop_recipient))
    return recipients


def _create(path: Path) -> int:
    try:
        return os.open(path, _NEW_FILE, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} exists already; nothing was written.") from None
    except OSError as exc:
        raise click.ClickException(f"Cannot create {path}: {exc.strerror}.") from None


@click.command("seal")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "targets",
    multiple=True,
    required=True,
    help="A channel named in the manifest, or an age1pq1… recipient (repeatable).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sealed file to write (must not exist), e.g. drop.age.",
)
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The organisation's key manifest (keys.json), needed to seal to a channel by name.",
)
@click.option("--fingerprint", help="The signing-key fingerprint the manifest must be signed by.")
@click.option("--note", help="A note to carry with the files (as note.txt).")
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to remember manifests seen, to warn of forks "
    "[default: ~/.local/share/mailslot/manifests].",
)
@click.option("--no-state", is_flag=True, help="Remember nothing on this computer.")
def seal(
    files: tuple[Path, ...],
    targets: tuple[str, ...],
    out_path: Path,
    manifest_path: Path | None,
    fingerprint: str | None,
    note: str | None,
    state: Path | None,
    no_state: bool,
) -> None:
    """Seal FILES (and a note) into one age file that only the organisation can open.

    The result is a standard age file (c2sp.org/age, post-quantum recipient type) holding a
    tar of the files; the stock age tool can open it too. Nothing goes over a network.
    """
    from mailslot import drops

    if not files and note is None:
        raise click.UsageError("Give at least one FILE or a --note.")
    if no_state and state is not None:
        raise click.UsageError("--state and --no-state exclude each other.")
    state_dir = None if no_state else (state or drops.default_directory())
    recipients = _recipients(targets, manifest_path, fingerprint, state_dir)
    fd = _create(out_path)
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = drops.DropWriter(recipients, handle)
            drops.write_drop(writer, files, note)
            writer.close()
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as exc:
        out_path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise click.ClickException(f"Sealing failed: {exc}; nothing was kept.") from None
        if isinstance(exc, drops.DropError):
            raise click.ClickException(f"Sealing failed: {exc}.") from None
        raise
    count = len(files)
    click.echo(
        f"Sealed {count} file{'s' if count != 1 else ''}"
        f"{' and a note' if note is not None else ''} into {out_path}."
    )


@click.command("verify")
@click.argument("manifest_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--fingerprint",
    required=True,
    help="The signing-key fingerprint from the drop card or the /keys page.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the latest version as JSON.")
def keys_verify(manifest_path: Path, fingerprint: str, as_json: bool) -> None:
    """Check a key manifest file and its whole chain against a signing-key fingerprint."""
    chain = _verified_chain(manifest_path, fingerprint)
    latest = chain[-1]
    if as_json:
        click.echo(json.dumps({"verified": True, "versions": len(chain), **latest.to_json()}))
        return
    click.echo(f"Verified: {len(chain)} version(s), each signed by {latest.fingerprint}.")
    click.echo(f"Organisation: {latest.organisation} (version {latest.version}, {latest.created})")
    for channel in latest.channels:
        click.echo(f"Channel {channel.name}: {channel.drop_recipient}")
    for recipient in latest.recipients:
        click.echo(f"Recipient {recipient.name}: {recipient.fingerprint}")


@click.command("card")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The card to write (must not exist): a .pdf (a page per channel) or a .png.",
)
@click.option("--channel", help="The channel whose key the card holds [default: every one].")
@click.option(
    "--lang",
    "languages",
    multiple=True,
    help="A language of the instructions (repeatable) [default: English and the "
    "organisation's default language].",
)
@click.pass_context
def keys_card(
    ctx: click.Context, out_path: Path, channel: str | None, languages: tuple[str, ...]
) -> None:
    """Write a printable drop card: the address, a channel's key as a QR code, the
    signing-key fingerprint and three lines of instructions."""
    from mailslot import errors, i18n
    from mailslot.cli.common import fail, organisation
    from mailslot.dropkeys import card, printing

    kind = out_path.suffix.lower()
    if kind not in (".pdf", ".png"):
        raise click.BadParameter("the card is written as .pdf or .png", param_hint="--out")
    locales = []
    for language in languages:
        locale = i18n.supported(language)
        if locale is None:
            raise click.BadParameter(f"{language!r} is not a language of Mailslot.")
        locales.append(locale)
    with organisation(ctx) as org:
        host, port = org.config.source_addr
        try:
            cards = card.drop_cards(
                org,
                locales or ["en"],
                f"http://{host if ':' not in host else f'[{host}]'}:{port}",
                channel,
                with_organisation=not locales,
            )
        except errors.ServiceError as exc:
            raise fail(exc) from None
    if kind == ".png" and len(cards) > 1:
        names = ", ".join(c.channel for c in cards)
        raise click.ClickException(f"A PNG holds one card: choose --channel ({names}).")
    data = printing.png(cards[0]) if kind == ".png" else printing.pdf(cards)
    try:
        fd = os.open(out_path, _NEW_FILE, 0o644)
    except OSError as exc:
        raise click.ClickException(f"Cannot create {out_path}: {exc.strerror}.") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    click.echo(f"Wrote {len(cards) if kind == '.pdf' else 1} card(s) to {out_path}.")
    click.echo(f"Signing-key fingerprint: {cards[0].fingerprint}")
