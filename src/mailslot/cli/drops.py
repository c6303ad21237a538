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

from mailslot.cli.common import _, cannot_create, ngettext
from mailslot.cli.help import Command
from mailslot.i18n import N_

if TYPE_CHECKING:
    from mailslot import drops

_NEW_FILE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _verified_chain(path: Path, fingerprint: str | None) -> list[drops.Manifest]:
    from mailslot import drops

    try:
        chain = drops.load_chain(path.read_bytes())
        drops.verify_chain(chain, fingerprint)
    except OSError as exc:
        raise click.ClickException(
            _("Cannot read %(path)s: %(reason)s.", path=path, reason=exc.strerror)
        ) from None
    except drops.DropError as exc:
        raise click.ClickException(
            _("The key manifest %(path)s is refused: %(reason)s.", path=path, reason=exc)
        ) from None
    return chain


def _warn(text: str) -> None:
    click.echo(_("WARNING: %(warning)s", warning=text), err=True)


def _remember(chain: list[drops.Manifest], state: Path) -> None:
    """Check the chain against the manifests this machine saw before, then record it."""
    from mailslot import drops

    seen = drops.SeenManifests(state)
    try:
        seen.check(chain)
    except drops.ManifestForked as exc:
        _warn(
            _(
                "%(reason)s. Someone holding the organisation's signing key published two "
                "different histories. Sealing goes ahead with the manifest given; before handing "
                "the file on, ask the organisation, through another route, which drop key is "
                "theirs.",
                reason=exc,
            )
        )
    try:
        report = seen.record(chain)
    except (OSError, drops.DropError) as exc:
        _warn(
            _(
                "could not remember this manifest in %(path)s: %(reason)s",
                path=state,
                reason=exc,
            )
        )
        return
    if report.rolled_back:
        _warn(
            _(
                "this manifest ends at version %(now)s, but version %(before)s was seen "
                "before: it may be out of date or held back.",
                now=report.latest_now,
                before=report.latest_before,
            )
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
                raise click.ClickException(
                    _("--to %(target)s…: %(reason)s.", target=target[:16], reason=exc)
                ) from None
            continue
        if manifest_path is None:
            raise click.ClickException(
                _("--to %(target)s: a channel name needs --manifest.", target=target)
            )
        if chain is None:
            chain = _verified_chain(manifest_path, fingerprint)
            if fingerprint is None:
                _warn(
                    _(
                        "the manifest is signed by key %(fingerprint)s; compare it with the "
                        "fingerprint on the drop card or the /keys page (or pass --fingerprint).",
                        fingerprint=chain[-1].fingerprint,
                    )
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
        raise click.ClickException(
            _("%(path)s exists already; nothing was written.", path=path)
        ) from None
    except OSError as exc:
        raise click.ClickException(cannot_create(path, exc)) from None


@click.command(
    "seal",
    cls=Command,
    help=N_(
        "Seal FILES (and a note) into one age file that only the organisation can"
        " open.\n\n"
        "The result is a standard age file (c2sp.org/age, post-quantum recipient "
        "type) holding a tar of the files; the stock age tool can open it too. "
        "Nothing goes over a network."
    ),
)
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "targets",
    multiple=True,
    required=True,
    help=N_("A channel named in the manifest, or an age1pq1… recipient (repeatable)."),
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("The sealed file to write (must not exist), e.g. drop.age."),
)
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=N_("The organisation's key manifest (keys.json), needed to seal to a channel by name."),
)
@click.option(
    "--fingerprint", help=N_("The signing-key fingerprint the manifest must be signed by.")
)
@click.option("--note", help=N_("A note to carry with the files (as note.txt)."))
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    help=N_(
        "Where to remember manifests seen, to warn of forks "
        "[default: ~/.local/share/mailslot/manifests]."
    ),
)
@click.option("--no-state", is_flag=True, help=N_("Remember nothing on this computer."))
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
    from mailslot import drops

    if not files and note is None:
        raise click.UsageError(_("Give at least one FILE or a --note."))
    if no_state and state is not None:
        raise click.UsageError(_("--state and --no-state exclude each other."))
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
            raise click.ClickException(
                _("Sealing failed: %(reason)s; nothing was kept.", reason=exc)
            ) from None
        if isinstance(exc, drops.DropError):
            raise click.ClickException(_("Sealing failed: %(reason)s.", reason=exc)) from None
        raise
    if note is not None:
        text = ngettext(
            "Sealed %(num)s file and a note into %(path)s.",
            "Sealed %(num)s files and a note into %(path)s.",
            len(files),
            path=out_path,
        )
    else:
        text = ngettext(
            "Sealed %(num)s file into %(path)s.",
            "Sealed %(num)s files into %(path)s.",
            len(files),
            path=out_path,
        )
    click.echo(text)


@click.command(
    "verify",
    cls=Command,
    help=N_("Check a key manifest file and its whole chain against a signing-key fingerprint."),
)
@click.argument("manifest_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--fingerprint",
    required=True,
    help=N_("The signing-key fingerprint from the drop card or the /keys page."),
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print the latest version as JSON."))
def keys_verify(manifest_path: Path, fingerprint: str, as_json: bool) -> None:
    chain = _verified_chain(manifest_path, fingerprint)
    latest = chain[-1]
    if as_json:
        click.echo(json.dumps({"verified": True, "versions": len(chain), **latest.to_json()}))
        return
    click.echo(
        ngettext(
            "Verified: %(num)s version(s), each signed by %(fingerprint)s.",
            "Verified: %(num)s version(s), each signed by %(fingerprint)s.",
            len(chain),
            fingerprint=latest.fingerprint,
        )
    )
    click.echo(
        _(
            "Organisation: %(name)s (version %(version)s, %(created)s)",
            name=latest.organisation,
            version=latest.version,
            created=latest.created,
        )
    )
    for channel in latest.channels:
        click.echo(_("Channel %(name)s: %(key)s", name=channel.name, key=channel.drop_recipient))
    for recipient in latest.recipients:
        click.echo(_("Recipient %(name)s: %(key)s", name=recipient.name, key=recipient.fingerprint))


@click.command(
    "card",
    cls=Command,
    help=N_(
        "Write a printable drop card: the address, a channel's key as a QR code, "
        "the signing-key fingerprint and three lines of instructions."
    ),
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("The card to write (must not exist): a .pdf (a page per channel) or a .png."),
)
@click.option("--channel", help=N_("The channel whose key the card holds [default: every one]."))
@click.option(
    "--lang",
    "languages",
    multiple=True,
    help=N_(
        "A language of the instructions (repeatable) [default: English and the "
        "organisation's default language]."
    ),
)
@click.pass_context
def keys_card(
    ctx: click.Context, out_path: Path, channel: str | None, languages: tuple[str, ...]
) -> None:
    from mailslot import errors, i18n
    from mailslot.cli.common import fail, organisation
    from mailslot.dropkeys import card, printing

    kind = out_path.suffix.lower()
    if kind not in (".pdf", ".png"):
        raise click.BadParameter(_("the card is written as .pdf or .png"), param_hint="--out")
    locales = []
    for language in languages:
        locale = i18n.supported(language)
        if locale is None:
            raise click.BadParameter(
                _("%(language)s is not a language of Mailslot.", language=repr(language))
            )
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
        raise click.ClickException(
            _("A PNG holds one card: choose --channel (%(names)s).", names=names)
        )
    data = printing.png(cards[0]) if kind == ".png" else printing.pdf(cards)
    try:
        fd = os.open(out_path, _NEW_FILE, 0o644)
    except OSError as exc:
        raise click.ClickException(cannot_create(out_path, exc)) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    click.echo(
        ngettext(
            "Wrote %(num)s card to %(path)s.",
            "Wrote %(num)s cards to %(path)s.",
            len(cards) if kind == ".pdf" else 1,
            path=out_path,
        )
    )
    click.echo(_("Signing-key fingerprint: %(fingerprint)s", fingerprint=cards[0].fingerprint))
