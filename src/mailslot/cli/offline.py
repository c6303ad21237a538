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
from mailslot.cli.common import fail, organisation

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def _create_private(path: Path) -> IO[bytes]:
    """Open a new file readable by its owner only; refuse to replace anything."""
    try:
        fd = os.open(path, _NEW_FILE, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} exists already; nothing was changed.") from None
    except OSError as exc:
        raise click.ClickException(f"Cannot create {path}: {exc.strerror}.") from None
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


@click.group()
def keys() -> None:
    """Recipients' private keys."""


@keys.command("export")
@click.option("--user", "username", required=True, help="The recipient whose key goes offline.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The key file to write (must not exist).",
)
@click.pass_context
def keys_export(ctx: click.Context, username: str, out_path: Path) -> None:
    """Move a recipient's private key into a passphrase-protected key file.

    Afterwards the server holds no copy of the key that it can use: it can no longer decrypt
    anything for this recipient, and neither the password nor the recovery key brings it back.
    """
    from mailslot.audit import services as audit
    from mailslot.recipients import services as recipients

    if out_path.exists() or out_path.is_symlink():
        raise click.ClickException(f"{out_path} exists already; nothing was changed.")
    password = click.prompt(f"Password of {username}", hide_input=True)
    code = click.prompt("Current code from the authenticator app")
    passphrase = click.prompt(
        "New passphrase for the key file",
        hide_input=True,
        confirmation_prompt="Repeat the passphrase",
    )
    try:
        recipients.check_password(passphrase, username)
    except errors.ServiceError as exc:
        raise fail(exc) from None
    if passphrase == password:
        raise click.ClickException("Choose a passphrase that is not your password.")

    written = False
    with organisation(ctx) as org:
        try:
            with org.db() as db:
                user = recipients.find_user(db, username)
                keys = org.kdf(lambda: recipients.derive_for(user, password, org.config.kdf))
                auth = recipients.authenticate(db, user, keys, code, org.now())
                if auth.private_seed is None:
                    raise click.ClickException(f"The key of {username} is already offline.")
                seed = auth.private_seed
                pair = _write_keyfile(out_path, seed, passphrase)
                written = True
                if pair.seed != seed or pair.public_key != auth.user.public_key:
                    raise click.ClickException("The key file did not read back correctly.")
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
    click.echo(f"Wrote the private key of {username} to {out_path}.")
    click.echo(f"Key fingerprint: {fingerprint}")
    click.echo(
        "The server has deleted its password and recovery copies of this key. It can no longer "
        f"decrypt anything for {username}; only this file and its passphrase can. There is no "
        "recovery: keep the file on offline media, make a second copy, and do not lose the "
        "passphrase."
    )


# -- export ---------------------------------------------------------------------------------------


@click.command("export")
@click.option("--case", "case_refs", multiple=True, help="Case id or pseudonym (repeatable).")
@click.option("--all", "all_cases", is_flag=True, help="Every case on this instance.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bundle file to write (must not exist).",
)
@click.pass_context
def export(ctx: click.Context, case_refs: tuple[str, ...], all_cases: bool, out_path: Path) -> None:
    """Write cases, as ciphertext only, to a bundle for `mailslot decrypt`."""
    from mailslot.audit import services as audit
    from mailslot.offline import export as exporting

    if bool(case_refs) == all_cases:
        raise click.UsageError("Give either --case (one or more) or --all.")
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
            raise click.ClickException(f"The export failed and was removed: {exc}") from None
        except BaseException:
            out_path.unlink(missing_ok=True)
            raise
    click.echo(
        f"Wrote {summary.cases} case(s) and {summary.items} item(s) to {out_path} "
        f"({summary.bytes} bytes of ciphertext)."
    )
    if summary.left_out:
        click.echo(f"{summary.left_out} item(s) had no key for recipients and were left out.")
    click.echo("The bundle holds only ciphertext: open it with `mailslot decrypt` and a key file.")


# -- decrypt --------------------------------------------------------------------------------------


@click.command("decrypt")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The key file from `mailslot keys export`.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the decrypted cases (created; must be empty if it exists).",
)
@click.option(
    "--passphrase-file",
    type=click.File("r"),
    help="Read the passphrase from the first line of this file instead of asking.",
)
@click.option(
    "--inspect",
    is_flag=True,
    help="Also write what each file reveals (as `mailslot inspect --json`) next to it, "
    "as NAME.inspect.json.",
)
def decrypt(
    bundle: Path, key_path: Path, out_dir: Path, passphrase_file: IO[str] | None, inspect: bool
) -> None:
    """Decrypt a bundle with an offline key file, verifying every item.

    Needs no database, data directory or network. Exits with status 1 if anything was damaged
    or could not be written, or if nothing in the bundle is addressed to the key.
    """
    from mailslot.crypto.keyfile import MAX_KEYFILE_SIZE
    from mailslot.documents.sandbox import DEFAULT_LIMITS
    from mailslot.offline.decrypt import check_output_dir, decrypt_bundle

    try:
        check_output_dir(out_dir)
    except FileExistsError as exc:
        raise click.ClickException(f"{exc} Choose a new or empty folder.") from None
    with key_path.open("rb") as handle:
        key_data = handle.read(MAX_KEYFILE_SIZE + 1)
    _check_version(key_path, key_data[:5], b"MSLR", "key file")
    try:
        info = crypto.read_keyfile_info(key_data)
    except crypto.DecryptionError:
        raise click.ClickException(
            f"{key_path} is not a Mailslot key file, or it is damaged."
        ) from None
    with bundle.open("rb") as source:
        # Version 1 (before case key versions) is still read; version 2 is written.
        _check_version(bundle, source.read(5), b"MSLB", "bundle", known=(1, 2, 3))
    if passphrase_file is not None:
        passphrase = passphrase_file.readline().rstrip("\r\n")
    else:
        passphrase = click.prompt("Passphrase of the key file", hide_input=True)
    try:
        key = crypto.open_keyfile(key_data, passphrase)
    except crypto.DecryptionError:
        raise click.ClickException(
            "The passphrase is wrong, or the key file is damaged. Nothing was written."
        ) from None
    click.echo(f"Key fingerprint: {crypto.format_fingerprint(info.fingerprint)}")

    created = not out_dir.exists()
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with bundle.open("rb") as source:
        report = decrypt_bundle(
            source,
            key,
            out_dir,
            echo=click.echo,
            now=int(time.time()),
            inspect=DEFAULT_LIMITS if inspect else None,
        )
    if created and not any(out_dir.iterdir()):
        out_dir.rmdir()

    click.echo(f"Wrote {report.files} file(s) for {len(report.opened)} case(s) into {out_dir}.")
    damaged = report.failures - report.write_errors
    problems = []
    if damaged:
        problems.append(
            f"{damaged} problem(s): something in the bundle is damaged or was altered. "
            "Damaged items were not written."
        )
    if report.write_errors:
        problems.append(
            f"{report.write_errors} item(s) or case(s) could not be written into {out_dir} "
            "(named above); the rest of the bundle was decrypted."
        )
    if problems:
        raise click.ClickException(" ".join([*problems, "Everything written has been verified."]))
    if not report.opened:
        raise click.ClickException("Nothing in this bundle is addressed to this key.")


def _check_version(
    path: Path, marker: bytes, magic: bytes, what: str, known: tuple[int, ...] = (1,)
) -> None:
    """Say plainly when a file is of a format version this Mailslot does not know yet."""
    if len(marker) == 5 and marker.startswith(magic) and marker[4] not in known:
        raise click.ClickException(
            f"{path} is a {what} of format version {marker[4]}, which this version of Mailslot "
            "cannot read. Install the Mailslot version that wrote it."
        )
