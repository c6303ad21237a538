"""``mailslot check`` for what reaches beyond the machine: the object store, the onion services
and their torrc, and the address the operator's pages listen on.

The one write is the object store's probe: a small random object, deleted at once.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from mailslot.check_findings import Finding
from mailslot.config import Config
from mailslot.i18n import N_, LazyText, N_plural
from mailslot.tor import SOURCE, STAFF


def object_store(config: Config) -> Iterator[Finding]:
    """With MAILSLOT_BLOB_URL set: the bucket takes a small random object, gives it back and
    deletes it (the one write ``check`` makes, undone at once); versioning is reported,
    because a versioned bucket keeps what Mailslot deletes."""
    if config.s3_location is None:
        return
    from mailslot.errors import MailslotError  # noqa: PLC0415 - with the store below
    from mailslot.storage.s3 import S3BlobStore  # noqa: PLC0415 - boto3 only when configured

    name = LazyText(N_("object storage %(url)s"), url=config.blob_url)
    try:
        store = S3BlobStore.from_config(config)
        store.probe()
        versioning = store.versioning()
    except MailslotError as exc:
        yield Finding(
            name,
            False,
            str(exc),
            LazyText(
                N_(
                    "check MAILSLOT_BLOB_URL, MAILSLOT_S3_ENDPOINT_URL, the AWS_* credentials, "
                    "and that they allow PutObject, GetObject, DeleteObject, ListBucket, "
                    "ListBucketMultipartUploads and AbortMultipartUpload on the bucket"
                )
            ),
        )
        return
    yield Finding(
        name, True, LazyText(N_("reachable: a test blob was written, read back and deleted"))
    )
    yield Finding(
        LazyText(N_("object storage versioning")),
        versioning == "",
        # The bucket's own word for its state (Enabled, Suspended) is shown as it is.
        LazyText(N_("versioning %(state)s"), state=versioning or LazyText(N_("never enabled"))),
        LazyText(
            N_(
                "a versioned bucket keeps deleted blobs as old versions (ciphertext whose keys "
                "are gone, but still there), and versioning cannot be turned off: use a bucket "
                "that never had it, or a lifecycle rule that expires noncurrent versions after "
                "a day"
            )
        ),
        warn=versioning != "",
    )


def tor_services(config: Config, torrc: Path | None) -> Iterator[Finding]:
    if config.tor_dir is None and torrc is None:
        yield Finding(
            LazyText(N_("tor")),
            True,
            LazyText(
                N_(
                    "not configured (MAILSLOT_TOR_DIR unset): sources must reach Mailslot "
                    "another way"
                )
            ),
        )
        return
    if config.tor_dir is not None:
        for service in (SOURCE, STAFF):
            hostname = config.tor_dir / service / "hostname"
            readable = os.access(hostname, os.R_OK)
            yield Finding(
                LazyText(N_("tor %(service)s service"), service=service),
                readable,
                LazyText(N_("%(path)s readable"), path=hostname)
                if readable
                else LazyText(N_("%(path)s missing or unreadable"), path=hostname),
                LazyText(
                    N_(
                        "start tor with the torrc from `mailslot tor-config`, and add this "
                        "account to tor's group"
                    )
                ),
            )
        auth = config.tor_dir / STAFF / "authorized_clients"
        clients = list(auth.glob("*.auth")) if auth.is_dir() else []
        yield Finding(
            LazyText(N_("tor staff client authorisation")),
            bool(clients),
            LazyText(*N_plural("%(num)s client key(s)", "%(num)s client key(s)"), num=len(clients)),
            LazyText(N_("run `mailslot tor-config --client NAME` to create one")),
        )
    if torrc is not None:
        yield _verify_torrc(torrc)


def operator_address(config: Config) -> Finding:
    """The operator's pages manage every organisation: they should listen on loopback only,
    and be reached through an SSH tunnel or an onion service with client authorisation
    (docs/deployment.md). Any other address is a warning (a proxy in front may be meant)."""
    host, port = config.operator_addr
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: only "localhost" is sure to stay on the machine
        loopback = host.lower() == "localhost"
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    name = LazyText(N_("operator address"))
    if loopback:
        return Finding(name, True, LazyText(N_("%(address)s (loopback only)"), address=shown))
    return Finding(
        name,
        False,
        LazyText(
            N_(
                "%(address)s listens beyond this machine: anyone who reaches it sees the login "
                "page of the pages that manage every organisation"
            ),
            address=shown,
        ),
        LazyText(
            N_(
                "set MAILSLOT_OPERATOR_ADDR=127.0.0.1:8082 and reach it through an SSH tunnel "
                "(ssh -L 8082:127.0.0.1:8082 host) or an onion service with client "
                "authorisation"
            )
        ),
        warn=True,
    )


def _verify_torrc(torrc: Path, which: Callable[[str], str | None] = shutil.which) -> Finding:
    binary = which("tor") or next(
        (p for p in ("/usr/sbin/tor", "/usr/bin/tor") if os.access(p, os.X_OK)), None
    )
    if binary is None:
        return Finding("torrc", False, LazyText(N_("tor is not installed")), "apt install tor")
    result = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [binary, "--verify-config", "-f", str(torrc), "--defaults-torrc", os.devnull],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ok = result.returncode == 0 and "Configuration was valid" in result.stdout
    last = (result.stdout.strip().splitlines() or [""])[-1]
    shown = f"{torrc}: {last}"  # tor's own words
    return Finding("torrc", ok, shown, LazyText(N_("fix the torrc (see tor's message)")))
