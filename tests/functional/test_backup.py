"""Backup and restore end to end: a real server with sources, files, replies and a deleted
case is backed up while it serves (with an upload in progress), then restored into new, empty
instances, on the same database backend and on the other one, and served again: recipients
read every message and file byte for byte, and the source's codename still opens the case."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests import conftest
from tests.conftest import (
    POSTGRESQL_URL,
    TEST_DATABASE,
    LiveServer,
    drop_database,
    start_server,
    stop_server,
)
from tests.functional.helpers import csrf, find_case, login, new_source, submit

pytestmark = pytest.mark.timeout(600)

PASSPHRASE = "lantern orchard quietly folding maps"
MESSAGE = "The ledger is in the basement archive.\n정오에 만나요.\n"
REPLY = "Thank you. Can you say which year? 감사합니다"
DOCUMENT = os.urandom(150_000) + b"end of the ledger"
SMALL = b"a,b\n1,2\n"
DELETED = "This case will be deleted before the backup."
IN_FLIGHT = "Sent while the backup ran."
BOUNDARY = "mailslot-backup-boundary"


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailslot.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
        check=False,
    )


def need_postgresql() -> None:
    if not POSTGRESQL_URL:
        if os.environ.get("CI"):
            pytest.fail("MAILSLOT_TEST_POSTGRESQL_URL must be set in CI")
        pytest.skip("no PostgreSQL server configured (set MAILSLOT_TEST_POSTGRESQL_URL)")


def new_postgresql_database() -> str:
    """A fresh, empty database on the test server, whatever backend the suite runs on."""
    need_postgresql()
    name = "mailslot_" + os.urandom(6).hex()
    admin = POSTGRESQL_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return POSTGRESQL_URL.rsplit("/", 1)[0] + "/" + name


class Target:
    """An empty place to restore into: a data directory and a database of one backend."""

    def __init__(self, base: Path, backend: str) -> None:
        self.base = base
        self.data_dir = base / "data"
        self.backend = backend
        if backend == "postgresql":
            self.database: str | None = new_postgresql_database()
            self.url = self.database
        else:
            self.database = None
            self.url = f"sqlite:///{self.data_dir / 'mailslot.sqlite3'}"

    def env(self, template: dict[str, str]) -> dict[str, str]:
        return {
            **template,
            "MAILSLOT_DATA_DIR": str(self.data_dir),
            "MAILSLOT_DATABASE_URL": self.url,
        }

    def close(self) -> None:
        drop_database(self.database)


@pytest.fixture(scope="module")
def origin(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Fill the serving instance: a case with a message, two files and a reply; a deleted case."""
    account = server.add_user("recipient")
    source = httpx.Client(base_url=server.source_url, timeout=60)
    codename = new_source(source)
    response = submit(
        source,
        MESSAGE,
        files=[("ledger.pdf", DOCUMENT, "application/pdf"), ("small.csv", SMALL, "text/csv")],
    )
    assert response.status_code == 303, response.text
    source.close()
    with httpx.Client(base_url=server.source_url, timeout=60) as other:
        new_source(other)
        assert submit(other, DELETED).status_code == 303
    with server.api_client(account) as api:
        case = find_case(api, MESSAGE)
        assert api.post(f"/cases/{case['id']}/replies", json={"text": REPLY}).status_code == 201
        doomed = find_case(api, DELETED)
        assert api.delete(f"/cases/{doomed['id']}").status_code == 204
        contents = read_case(api, case["id"])
    assert DOCUMENT in contents.values()
    assert REPLY.encode() in contents.values()
    return {"account": account, "codename": codename, "case": case["id"], "contents": contents}


def read_case(api: httpx.Client, case_id: str) -> dict[str, bytes]:
    detail = api.get(f"/cases/{case_id}")
    assert detail.status_code == 200, detail.text
    out = {}
    for item in detail.json()["items"]:
        response = api.get(f"/cases/{case_id}/items/{item['id']}/content")
        assert response.status_code == 200, response.text
        out[item["id"]] = response.content
    return out


def slow_upload(
    server: LiveServer, started: threading.Event, release: threading.Event, result: list[int]
) -> None:
    """A submission whose file keeps streaming until ``release`` is set."""
    client = httpx.Client(base_url=server.source_url, timeout=300)
    new_source(client)
    token = csrf(client.get("/submit").text)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="message"\r\n\r\n{IN_FLIGHT}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="late.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    part = b"x" * 300_000

    def body() -> Iterator[bytes]:
        yield head
        yield part
        started.set()
        release.wait(240)
        yield part
        yield tail

    length = len(head) + 2 * len(part) + len(tail)
    try:
        response = client.post(
            "/submit",
            content=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(length),
            },
        )
        result.append(response.status_code)
    finally:
        client.close()


def backup(live_env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    secret = out.parent / "passphrase.txt"
    secret.write_text(PASSPHRASE + "\n")
    return cli(["backup", "--out", str(out), "--passphrase-file", str(secret)], live_env)


def restore(target: Target, archive: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    secret = archive.parent / "passphrase.txt"
    secret.write_text(PASSPHRASE + "\n")
    return cli(["restore", str(archive), "--passphrase-file", str(secret)], target.env(env))


@pytest.fixture(scope="module")
def archive(
    server: LiveServer, origin: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """``mailslot backup`` while the server runs and a source's upload is half way."""
    work = tmp_path_factory.mktemp("backup")
    out = work / "instance.msla"
    started, release = threading.Event(), threading.Event()
    status: list[int] = []
    uploader = threading.Thread(
        target=slow_upload, args=(server, started, release, status), daemon=True
    )
    uploader.start()
    try:
        assert started.wait(60)
        result = backup(server.env, out)
    finally:
        release.set()
    uploader.join(60)
    assert result.returncode == 0, result.stderr
    assert "Wrote" in result.stdout
    assert status == [303]
    stat = out.stat()
    assert stat.st_mode & 0o777 == 0o600
    data = out.read_bytes()
    assert data[:5] == b"MSLA\x01"
    # Encrypted: no plaintext of the case, no blob ciphertext in clear, no table names.
    for needle in (MESSAGE.encode(), DOCUMENT[:64], b"case_key_wraps", b"ledger.pdf"):
        assert needle not in data
    return out


def check_restored(live: LiveServer, origin: dict[str, Any], token: str | None = None) -> str:
    """Log in (or reuse a restored API token), read everything, use the codename; the token."""
    token = token or live.api_token(origin["account"])
    with httpx.Client(
        base_url=f"{live.staff_url}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ) as api:
        restored = read_case(api, origin["case"])
        for item_id, content in origin["contents"].items():
            assert restored[item_id] == content
        listing = api.get("/cases", params={"limit": 200}).json()["cases"]
        texts: set[bytes] = set()
        for summary in listing:
            texts.update(read_case(api, summary["id"]).values())  # every item opens
        assert DELETED.encode() not in texts
        assert IN_FLIGHT.encode() not in texts  # committed after the snapshot
        with httpx.Client(base_url=live.source_url, timeout=60) as source:
            assert login(source, origin["codename"]).status_code == 303
            assert REPLY in source.get("/conversation").text
            assert submit(source, "After the restore.").status_code == 303
        assert b"After the restore." in read_case(api, origin["case"]).values()
    return token


def serve(target: Target, server: LiveServer) -> LiveServer:
    # start_server would make (and, given our URL, never drop) a database of its own.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conftest, "fresh_database", lambda: None)
        live = start_server(target.base, {"MAILSLOT_DATABASE_URL": target.url})
    live.totp = server.totp  # the restored accounts remember which codes were used
    return live


def test_restore_into_an_empty_instance(
    server: LiveServer, origin: dict[str, Any], archive: Path, tmp_path: Path
) -> None:
    target = Target(tmp_path / "same", TEST_DATABASE)
    try:
        result = restore(target, archive, server.env)
        assert result.returncode == 0, result.stderr
        assert "intact" in result.stdout
        assert stat_mode(target.data_dir) == 0o700
        live = serve(target, server)
        try:
            check_restored(live, origin)
        finally:
            stop_server(live)
    finally:
        target.close()


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_restore_into_the_other_backend_and_back(
    server: LiveServer, origin: dict[str, Any], archive: Path, tmp_path: Path
) -> None:
    """suite backend → archive → other backend (served, backed up online) → suite backend."""
    need_postgresql()
    other = "sqlite" if TEST_DATABASE == "postgresql" else "postgresql"
    first = Target(tmp_path / "other", other)
    second = Target(tmp_path / "back", TEST_DATABASE)
    try:
        result = restore(first, archive, server.env)
        assert result.returncode == 0, result.stderr
        live = serve(first, server)
        try:
            # This token's session travels on through the second backup.
            token = check_restored(live, origin)
            again = tmp_path / "again" / "instance.msla"
            again.parent.mkdir()
            made = backup(live.env, again)
            assert made.returncode == 0, made.stderr
        finally:
            stop_server(live)
        result = restore(second, again, server.env)
        assert result.returncode == 0, result.stderr
        live = serve(second, server)
        try:
            check_restored(live, origin, token)
        finally:
            stop_server(live)
    finally:
        first.close()
        second.close()


def test_restore_refuses_a_target_that_holds_anything(
    server: LiveServer, archive: Path, tmp_path: Path
) -> None:
    target = Target(tmp_path / "busy", TEST_DATABASE)
    try:
        target.data_dir.mkdir(parents=True)
        (target.data_dir / "notes.txt").write_text("keep me")
        result = restore(target, archive, server.env)
        assert result.returncode == 1
        assert "is not empty" in result.stderr
        assert (target.data_dir / "notes.txt").read_text() == "keep me"
        assert sorted(p.name for p in target.data_dir.iterdir()) == ["notes.txt"]
        # The serving instance itself is never a valid target.
        live = cli(
            ["restore", str(archive), "--passphrase-file", str(archive.parent / "passphrase.txt")],
            server.env,
        )
        assert live.returncode == 1
        assert "is not empty" in live.stderr
    finally:
        target.close()


def test_a_tampered_archive_changes_nothing(
    server: LiveServer, archive: Path, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.msla"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    target = Target(tmp_path / "t", TEST_DATABASE)
    try:
        result = restore(target, tampered, server.env)
        assert result.returncode == 1
        assert "Nothing was restored" in result.stderr
        assert not target.data_dir.exists()
        if target.database is not None:
            with psycopg.connect(target.database.replace("+psycopg", "")) as connection:
                tables = connection.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'"
                ).fetchone()
            assert tables == (0,)
        wrong = tmp_path / "wrong.txt"
        wrong.write_text("not the passphrase at all, sorry\n")
        result = cli(
            ["restore", str(archive), "--passphrase-file", str(wrong)], target.env(server.env)
        )
        assert result.returncode == 1
        assert "passphrase is wrong" in result.stderr
        assert not target.data_dir.exists()
    finally:
        target.close()


def test_backup_refuses_a_weak_passphrase_and_an_existing_file(
    server: LiveServer, archive: Path, tmp_path: Path
) -> None:
    weak = tmp_path / "weak.txt"
    weak.write_text("backup backup\n")
    out = tmp_path / "x.msla"
    result = cli(["backup", "--out", str(out), "--passphrase-file", str(weak)], server.env)
    assert result.returncode == 1
    assert "passphrase" in result.stderr
    assert not out.exists()
    result = backup(server.env, archive)
    assert result.returncode == 1
    assert "exists already" in result.stderr
