"""The air-gap workflow end to end: a source submits to a real server; the recipient takes the
key offline with ``mailslot keys export``; the server exports the case; ``mailslot decrypt``
recovers it in a scrubbed environment with no data directory, database or MAILSLOT_* variable."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mailslot import drops
from mailslot.offline.bundle import BundleReader, ItemEntry
from mailslot.recipients.models import User
from tests.conftest import Account, LiveServer
from tests.functional.helpers import find_case, new_source, submit
from tests.unit.drops.test_interop import Node, node  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(300)

MESSAGE = "The order came from the third floor.\nSecond line: 정오에 만나요.\n"
DOCUMENT = bytes(range(256)) * 600 + b"end of the memo"
PASSPHRASE = "a calm passphrase for the offline laptop"


def cli(
    args: list[str], env: dict[str, str], *, stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # A new session has no controlling terminal, so hidden prompts read from stdin.
    return subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", *args],
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
        check=False,
    )


@pytest.fixture(scope="module")
def offline(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Submit, note the case, then take the recipient's key offline (once for the module)."""
    account = server.add_user("recipient")
    # Another holder of the case finds it, so that the account's own logins (each needs an
    # unused TOTP code, a few a minute) are left for the tests.
    colleague = server.add_user("recipient")
    source = httpx.Client(base_url=server.source_url, timeout=60)
    new_source(source)
    response = submit(source, MESSAGE, files=[("../memo 3.pdf", DOCUMENT, "application/pdf")])
    assert response.status_code == 303, response.text
    source.close()
    with server.api_client(colleague) as api:
        case = find_case(api, MESSAGE)
    work = tmp_path_factory.mktemp("offline")
    key_file = work / "alice.mslkey"
    stdin = "\n".join(
        [account.password, server.totp.code(account.totp_secret), PASSPHRASE, PASSPHRASE, ""]
    )
    result = cli(
        ["keys", "export", "--user", account.username, "--out", str(key_file)],
        server.env,
        stdin=stdin,
    )
    assert result.returncode == 0, result.stderr
    assert "can no longer decrypt" in result.stdout
    return {"account": account, "case": case, "key": key_file, "work": work}


def account_of(state: dict[str, object]) -> Account:
    account = state["account"]
    assert isinstance(account, Account)
    return account


def test_key_file_is_private_and_server_wraps_are_gone(
    server: LiveServer, offline: dict[str, object]
) -> None:
    key_file = offline["key"]
    assert isinstance(key_file, Path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes()[:5] == b"MSLR\x01"
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            user = db.scalar(select(User).where(User.username == account_of(offline).username))
            assert user is not None
            assert user.key_offline
            assert user.private_key_password_wrap is None
            assert user.private_key_recovery_wrap is None
    finally:
        runtime.close()


def test_recipient_still_logs_in_but_sees_no_plaintext(
    server: LiveServer, offline: dict[str, object]
) -> None:
    case = offline["case"]
    assert isinstance(case, dict)
    staff = server.staff_client(account_of(offline))
    try:
        page = staff.get(f"/cases/{case['id']}")
    finally:
        staff.close()
    assert page.status_code == 200
    assert "third floor" not in page.text
    assert "memo 3.pdf" not in page.text
    assert "offline" in page.text


def test_export_refuses_to_overwrite_and_the_key_cannot_be_exported_twice(
    server: LiveServer, offline: dict[str, object], tmp_path: Path
) -> None:
    existing = tmp_path / "exists"
    existing.write_bytes(b"keep me")
    case = offline["case"]
    assert isinstance(case, dict)
    result = cli(["export", "--case", case["id"], "--out", str(existing)], server.env)
    assert result.returncode != 0
    assert existing.read_bytes() == b"keep me"
    account = account_of(offline)
    stdin = "\n".join(
        [account.password, server.totp.code(account.totp_secret), PASSPHRASE, PASSPHRASE, ""]
    )
    again = cli(
        ["keys", "export", "--user", account.username, "--out", str(tmp_path / "k2")],
        server.env,
        stdin=stdin,
    )
    assert again.returncode != 0
    assert "already offline" in again.stderr
    assert not (tmp_path / "k2").exists()


@pytest.fixture(scope="module")
def air_gap(server: LiveServer, offline: dict[str, object]) -> Path:
    """A folder on the 'offline machine' holding the bundle, the key file and a passphrase."""
    case = offline["case"]
    work = offline["work"]
    key_file = offline["key"]
    assert isinstance(case, dict)
    assert isinstance(work, Path)
    assert isinstance(key_file, Path)
    bundle = work / "case.bundle"
    result = cli(["export", "--case", case["pseudonym"], "--out", str(bundle)], server.env)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    machine = work / "airgapped"
    (machine / "home").mkdir(parents=True)
    shutil.copy(bundle, machine / "case.bundle")
    shutil.copy(key_file, machine / "key")
    (machine / "pass.txt").write_text(PASSPHRASE + "\n")
    (machine / "wrong.txt").write_text(PASSPHRASE + "?\n")
    return machine


def scrubbed(machine: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(machine / "home")}


def decrypt(
    machine: Path, bundle: str, out: str, typed_from: str = "pass.txt"
) -> subprocess.CompletedProcess[str]:
    args = ["decrypt", bundle, "--key", "key", "--out", out, "--passphrase-file", typed_from]
    return cli(args, scrubbed(machine), cwd=machine)


def test_decrypt_recovers_message_and_file_offline(
    air_gap: Path, offline: dict[str, object]
) -> None:
    result = decrypt(air_gap, "case.bundle", "out")
    assert result.returncode == 0, result.stdout + result.stderr
    case = offline["case"]
    assert isinstance(case, dict)
    folder = air_gap / "out" / case["pseudonym"]
    assert (folder / "001-message.txt").read_bytes() == MESSAGE.encode()
    assert (folder / "memo 3.pdf").read_bytes() == DOCUMENT
    index = (folder / "conversation.txt").read_text()
    assert "memo 3.pdf" in index
    assert "message" in index
    assert not list(air_gap.rglob("*.partial"))
    # Nothing from a server configuration was created on the offline machine.
    assert not (air_gap / "mailslot-data").exists()
    assert not any((air_gap / "home").iterdir())


def test_wrong_passphrase_writes_nothing(air_gap: Path) -> None:
    result = decrypt(air_gap, "case.bundle", "wrong-out", "wrong.txt")
    assert result.returncode != 0
    assert "passphrase is wrong" in result.stderr
    assert not (air_gap / "wrong-out").exists()


def test_tampered_stream_fails_and_leaves_no_partial_file(
    air_gap: Path, offline: dict[str, object]
) -> None:
    data = bytearray((air_gap / "case.bundle").read_bytes())
    # Find the file's stream by reading the bundle, then flip one byte in its middle.
    for entry in BundleReader(io.BytesIO(bytes(data))):
        if isinstance(entry, ItemEntry) and entry.record.kind == "file":
            start = bytes(data).find(b"".join(entry.stream()))
            break
    assert start > 0
    data[start + len(data[start:]) // 4] ^= 0x01
    (air_gap / "tampered.bundle").write_bytes(bytes(data))
    result = decrypt(air_gap, "tampered.bundle", "tampered-out")
    assert result.returncode != 0
    assert "DAMAGED" in result.stdout
    case = offline["case"]
    assert isinstance(case, dict)
    folder = air_gap / "tampered-out" / case["pseudonym"]
    assert not (folder / "memo 3.pdf").exists()
    assert not list((air_gap / "tampered-out").rglob("*.partial"))
    assert (folder / "001-message.txt").read_bytes() == MESSAGE.encode()


def test_decrypt_ignores_a_stray_server_configuration(air_gap: Path) -> None:
    env = {**scrubbed(air_gap), "MAILSLOT_KDF": "not a cost", "MAILSLOT_SOURCE_ADDR": "nowhere"}
    args = ["decrypt", "case.bundle", "--key", "key", "--out", "stray-out"]
    result = cli([*args, "--passphrase-file", "pass.txt"], env, cwd=air_gap)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (air_gap / "stray-out").is_dir()


def test_no_file_name_stops_the_decryption(
    server: LiveServer, air_gap: Path, offline: dict[str, object]
) -> None:
    """A source names its files after the tool's temporary and own files; the bundle holds that
    case first and another after it: both are decrypted whole, with no traceback."""
    reader = server.add_user("recipient")  # its own logins: see the module fixture
    source = httpx.Client(base_url=server.source_url, timeout=60)
    new_source(source)
    hostile = ["x.pdf.partial", "x.pdf", "conversation.txt.partial", "conversation.txt"]
    files = [(name, f"content of {name}".encode(), "application/pdf") for name in hostile]
    response = submit(source, "Names chosen to get in the way.", files=files)
    assert response.status_code == 303, response.text
    source.close()
    with server.api_client(reader) as api:
        case = find_case(api, "Names chosen to get in the way.")
    first = offline["case"]
    assert isinstance(first, dict)
    work = air_gap / "hostile"
    work.mkdir()
    for name, refs in {
        "ordered.bundle": ["--case", case["pseudonym"], "--case", first["pseudonym"]],
        "all.bundle": ["--all"],
    }.items():
        result = cli(["export", *refs, "--out", str(work / name)], server.env)
        assert result.returncode == 0, result.stderr
        shutil.copy(work / name, air_gap / name)
        out = name.removesuffix(".bundle") + "-out"
        result = decrypt(air_gap, name, out)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        folder = air_gap / out / case["pseudonym"]
        for original in hostile:
            written = "_conversation.txt" if original == "conversation.txt" else original
            assert (folder / written).read_bytes() == f"content of {original}".encode()
        assert (folder / "conversation.txt").read_text().startswith("Case: ")
        later = air_gap / out / first["pseudonym"]
        assert (later / "001-message.txt").read_bytes() == MESSAGE.encode()
        assert (later / "memo 3.pdf").read_bytes() == DOCUMENT
        assert not [p for p in (air_gap / out).rglob("*") if p.name.startswith(".")]


def test_decrypt_opens_sealed_drops_from_npm_age_and_mailslot_seal(
    server: LiveServer,
    air_gap: Path,
    node: Node,  # noqa: F811
) -> None:
    """A file sealed by the npm age implementation and a drop made by ``mailslot seal`` (a note
    and two files) are sent in one case; the offline key opens both byte for byte from the
    export bundle; a file sealed to a stranger's key is reported, not a failure."""
    reader = server.add_user("recipient")  # before the keys are read: it rotates them
    work = air_gap / "drops"
    work.mkdir()
    manifest = work / "keys.json"
    manifest.write_bytes(httpx.get(f"{server.source_url}/keys.json", timeout=60).content)
    latest = drops.load_chain(manifest.read_bytes())[-1]
    recipient = latest.channel("default").drop_recipient
    photo = os.urandom(200_000)
    from_npm = node("encrypt", recipient, data=photo)
    report, scan = work / "report.txt", work / "scan.bin"
    report.write_bytes(b"The convoy left at dawn.\n" * 500)
    scan.write_bytes(os.urandom(70_000))
    sealed = work / "sealed.age"
    args = ["seal", str(report), str(scan), "--to", "default", "--out", str(sealed)]
    args += ["--manifest", str(manifest), "--fingerprint", latest.fingerprint, "--no-state"]
    result = cli([*args, "--note", "Carried by a friend."], scrubbed(air_gap), cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    stranger = drops.DropKeyPair.generate()
    stray = b"".join(drops.seal_stream([stranger.recipient], [b"for another desk"]))
    source = httpx.Client(base_url=server.source_url, timeout=60)
    new_source(source)
    files = [("photo.jpg.age", from_npm), ("sealed.age", sealed.read_bytes()), ("stray.age", stray)]
    text = "Three sealed files."
    response = submit(source, text, [(n, d, "application/octet-stream") for n, d in files])
    assert response.status_code == 303, response.text
    source.close()
    with server.api_client(reader) as api:
        case = find_case(api, text)
    result = cli(["export", "--case", case["id"], "--out", str(work / "drops.bundle")], server.env)
    assert result.returncode == 0, result.stderr
    shutil.copy(work / "drops.bundle", air_gap / "drops.bundle")
    assert (air_gap / "drops.bundle").read_bytes()[:5] == b"MSLB\x03"
    result = decrypt(air_gap, "drops.bundle", "drops-out")
    assert result.returncode == 0, result.stdout + result.stderr
    folder = air_gap / "drops-out" / case["pseudonym"]
    assert (folder / "photo.jpg.age").read_bytes() == from_npm
    assert (folder / "photo.jpg.age.contents" / "photo.jpg").read_bytes() == photo
    opened = folder / "sealed.age.contents"
    assert (opened / "note.txt").read_text() == "Carried by a friend."
    assert (opened / "files" / "report.txt").read_bytes() == report.read_bytes()
    assert (opened / "files" / "scan.bin").read_bytes() == scan.read_bytes()
    assert not (folder / "stray.age.contents").exists()
    index = (folder / "conversation.txt").read_text()
    assert "stray.age  (sealed drop: sealed to a key this channel does not hold)" in index
    assert "(sealed drop, opened in sealed.age.contents)" in index
