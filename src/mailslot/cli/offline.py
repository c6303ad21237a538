"""``mailslot keys export``, ``mailslot export`` and ``mailslot decrypt``: the offline-key workflow.

``decrypt`` runs on an air-gapped machine: it reads only the bundle and the key file, and never
touches a configuration, a data directory, a database or the network.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO

import click

from mailslot import crypto, errors
from mailslot.cli.common import (
    _,
    cannot_create,
    echo_progress,
    exists_already,
    fail,
    ngettext,
    organisation,
)
from mailslot.cli.help import Command, Group
from mailslot.i18n import N_

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _create_private(path: Path) -> IO[bytes]:
    """Open a new file readable by its owner only; refuse to replace anything."""
    try:
        fd = os.open(path, _NEW_FILE, 0o600)
    except FileExistsError:
        raise click.ClickException(exists_already(path)) from None
    except OSError as exc:
        raise click.ClickException(cannot_create(path, exc)) from None
    return os.fdopen(fd, "wb")


def _write_keyfile(path: Path, seed: bytes, passphrase: str) -> crypto.KeyPair:
    """Write a new key file, then read back what reached the disk (before the server forgets
    its own copies). If anything fails once the file exists, the file is removed."""
    data = crypto.seal_keyfile(seed, passphrase)
    handle = _create_private(path)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return crypto.open_keyfile(path.read_bytes(), passphrase)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


# -- keys export ----------------------------------------------------------------------------------


@click.group(cls=Group, help=N_("Recipients' private keys."))
def keys() -> None:
    pass


@keys.command(
    "export",
    help=N_(
        "Move a recipient's private key into a passphrase-protected key file.\n\n"
        "Afterwards the server holds no copy of the key that it can use: it can "
        "no longer decrypt anything for this recipient, and neither the password "
        "nor the recovery key brings it back."
    ),
)
@click.option("--user", "username", required=True, help=N_("The recipient whose key goes offline."))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("The key file to write (must not exist)."),
)
@click.pass_context
def keys_export(ctx: click.Context, username: str, out_path: Path) -> None:
    from mailslot.audit import services as audit
    from mailslot.recipients import services as recipients

    if out_path.exists() or out_path.is_symlink():
        raise click.ClickException(exists_already(out_path))
    password = click.prompt(_("Password of %(username)s", username=username), hide_input=True)
    code = click.prompt(_("Current code from the authenticator app"))
    passphrase = click.prompt(
        _("New passphrase for the key file"),
        hide_input=True,
        confirmation_prompt=_("Repeat the passphrase"),
    )
    try:
        recipients.check_password(passphrase, username)
    except errors.ServiceError as exc:
        raise fail(exc) from None
    if passphrase == password:
        raise click.ClickException(_("Choose a passphrase that is not your password."))

    written = False
    with organisation(ctx) as org:
        try:
            with org.db() as db:
                user = recipients.find_user(db, username)
                keys = org.kdf(lambda: recipients.derive_for(user, password, org.config.kdf))
                auth = recipients.authenticate(db, user, keys, code, org.now())
                if auth.private_seed is None:
                    raise click.ClickException(
                        _("The key of %(username)s is already offline.", username=username)
                    )
                seed = auth.private_seed
                pair = _write_keyfile(out_path, seed, passphrase)
                written = True
                if pair.seed != seed or pair.public_key != auth.user.public_key:
                    raise click.ClickException(_("The key file did not read back correctly."))
                recipients.take_key_offline(db, auth.user)
                audit.record(
                    db,
                    "account.key_offline",
                    now=org.now(),
                    actor_id=auth.user.id,
                    actor=auth.user.username,
                    via="cli",
                )
        except errors.ServiceError as exc:
            if written:
                out_path.unlink(missing_ok=True)
            raise fail(exc) from None
        except BaseException:
            if written:
                out_path.unlink(missing_ok=True)
            raise
    fingerprint = crypto.format_fingerprint(crypto.key_fingerprint(pair.public_key))
    click.echo(
        _("Wrote the private key of %(username)s to %(path)s.", username=username, path=out_path)
    )
    click.echo(_("Key fingerprint: %(fingerprint)s", fingerprint=fingerprint))
    click.echo(
        _(
            "The server has deleted its password and recovery copies of this key. It can no "
            "longer decrypt anything for %(username)s; only this file and its passphrase can. "
            "There is no recovery: keep the file on offline media, make a second copy, and do "
            "not lose the passphrase.",
            username=username,
        )
    )


# -- export ---------------------------------------------------------------------------------------


@click.command(
    "export",
    cls=Command,
    help=N_("Write cases, as ciphertext only, to a bundle for `mailslot decrypt`."),
)
@click.option("--case", "case_refs", multiple=True, help=N_("Case id or pseudonym (repeatable)."))
@click.option("--all", "all_cases", is_flag=True, help=N_("Every case on this instance."))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("The bundle file to write (must not exist)."),
)
@click.pass_context
def export(ctx: click.Context, case_refs: tuple[str, ...], all_cases: bool, out_path: Path) -> None:
    from mailslot.audit import services as audit
    from mailslot.offline import export as exporting

    if bool(case_refs) == all_cases:
        raise click.UsageError(_("Give either --case (one or more) or --all."))
    with organisation(ctx) as org, org.db() as db:
        try:
            if all_cases:
                cases = exporting.all_cases(db)
            else:
                cases = [exporting.find_case(db, ref) for ref in case_refs]
        except errors.ServiceError as exc:
            raise fail(exc) from None
        handle = _create_private(out_path)
        try:
            with handle:
                summary = exporting.export_cases(db, org.blobs, cases, handle)
                handle.flush()
                os.fsync(handle.fileno())
            # Ciphertext only, but it leaves the server: each case is recorded.
            for case in cases:
                audit.record(db, "case.export", now=org.now(), case_id=case.id, via="cli")
        except (errors.MailslotError, crypto.CryptoError) as exc:
            out_path.unlink(missing_ok=True)
            raise click.ClickException(
                _("The export failed and was removed: %(reason)s", reason=exc)
            ) from None
        except BaseException:
            out_path.unlink(missing_ok=True)
            raise
    click.echo(
        _(
            "Wrote %(cases)s and %(items)s to %(path)s (%(bytes)s of ciphertext).",
            cases=ngettext("%(num)s case", "%(num)s cases", summary.cases),
            items=ngettext("%(num)s item", "%(num)s items", summary.items),
            path=out_path,
            bytes=ngettext("%(num)s byte", "%(num)s bytes", summary.bytes),
        )
    )
    if summary.left_out:
        click.echo(
            ngettext(
                "%(num)s item had no key for recipients and was left out.",
                "%(num)s items had no key for recipients and were left out.",
                summary.left_out,
            )
        )
    click.echo(
        _("The bundle holds only ciphertext: open it with `mailslot decrypt` and a key file.")
    )


# -- decrypt --------------------------------------------------------------------------------------


@click.command(
    "decrypt",
    cls=Command,
    help=N_(
        "Decrypt a bundle with an offline key file, verifying every item.\n\n"
        "Needs no database, data directory or network. Exits with status 1 if "
        "anything was damaged or could not be written, or if nothing in the "
        "bundle is addressed to the key."
    ),
)
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=N_("The key file from `mailslot keys export`."),
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=N_("Folder for the decrypted cases (created; must be empty if it exists)."),
)
@click.option(
    "--passphrase-file",
    type=click.File("r"),
    help=N_("Read the passphrase from the first line of this file instead of asking."),
)
@click.option(
    "--inspect",
    is_flag=True,
    help=N_(
        "Also write what each file reveals (as `mailslot inspect --json`) next to it, "
        "as NAME.inspect.json."
    ),
)
def decrypt(
    bundle: Path, key_path: Path, out_dir: Path, passphrase_file: IO[str] | None, inspect: bool
) -> None:
    from mailslot.crypto.keyfile import MAX_KEYFILE_SIZE
    from mailslot.documents.sandbox import DEFAULT_LIMITS
    from mailslot.offline.decrypt import check_output_dir, decrypt_bundle

    try:
        check_output_dir(out_dir)
    except FileExistsError as exc:
        raise click.ClickException(
            _("%(reason)s Choose a new or empty folder.", reason=exc)
        ) from None
    with key_path.open("rb") as handle:
        key_data = handle.read(MAX_KEYFILE_SIZE + 1)
    _check_version(key_path, key_data[:5], b"MSLR", KEY_FILE_TOO_NEW)
    try:
        info = crypto.read_keyfile_info(key_data)
    except crypto.DecryptionError:
        raise click.ClickException(
            _("%(path)s is not a Mailslot key file, or it is damaged.", path=key_path)
        ) from None
    with bundle.open("rb") as source:
        # Version 1 (before case key versions) is still read; version 2 is written.
        _check_version(bundle, source.read(5), b"MSLB", BUNDLE_TOO_NEW, known=(1, 2, 3))
    if passphrase_file is not None:
        passphrase = passphrase_file.readline().rstrip("\r\n")
    else:
        passphrase = click.prompt(_("Passphrase of the key file"), hide_input=True)
    try:
        key = crypto.open_keyfile(key_data, passphrase)
    except crypto.DecryptionError:
        raise click.ClickException(
            _("The passphrase is wrong, or the key file is damaged. Nothing was written.")
        ) from None
    fingerprint = crypto.format_fingerprint(info.fingerprint)
    click.echo(_("Key fingerprint: %(fingerprint)s", fingerprint=fingerprint))

    created = not out_dir.exists()
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with bundle.open("rb") as source:
        report = decrypt_bundle(
            source,
            key,
            out_dir,
            echo=echo_progress,
            now=int(time.time()),
            inspect=DEFAULT_LIMITS if inspect else None,
        )
    if created and not any(out_dir.iterdir()):
        out_dir.rmdir()

    click.echo(
        _(
            "Wrote %(files)s for %(cases)s into %(path)s.",
            files=ngettext("%(num)s file", "%(num)s files", report.files),
            cases=ngettext("%(num)s case", "%(num)s cases", len(report.opened)),
            path=out_dir,
        )
    )
    damaged = report.failures - report.write_errors
    problems = []
    if damaged:
        problems.append(
            ngettext(
                "%(num)s problem: something in the bundle is damaged or was altered. Damaged "
                "items were not written.",
                "%(num)s problems: something in the bundle is damaged or was altered. Damaged "
                "items were not written.",
                damaged,
            )
        )
    if report.write_errors:
        problems.append(
            ngettext(
                "%(num)s item(s) or case(s) could not be written into %(path)s (named above); "
                "the rest of the bundle was decrypted.",
                "%(num)s item(s) or case(s) could not be written into %(path)s (named above); "
                "the rest of the bundle was decrypted.",
                report.write_errors,
                path=out_dir,
            )
        )
    if problems:
        problems.append(_("Everything written has been verified."))
        raise click.ClickException(" ".join(problems))
    if not report.opened:
        raise click.ClickException(_("Nothing in this bundle is addressed to this key."))


KEY_FILE_TOO_NEW = N_(
    "%(path)s is a key file of format version %(version)s, which this version of Mailslot "
    "cannot read. Install the Mailslot version that wrote it."
)
BUNDLE_TOO_NEW = N_(
    "%(path)s is a bundle of format version %(version)s, which this version of Mailslot "
    "cannot read. Install the Mailslot version that wrote it."
)


def _check_version(
    path: Path, marker: bytes, magic: bytes, too_new: str, known: tuple[int, ...] = (1,)
) -> None:
    """Say plainly when a file is of a format version this Mailslot does not know yet
    (``too_new``: the message that says so)."""
    if len(marker) == 5 and marker.startswith(magic) and marker[4] not in known:
        raise click.ClickException(_(too_new, path=path, version=marker[4]))
