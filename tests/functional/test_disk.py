"""What a seized disk shows: after a realistic session of use, no plaintext anywhere.

A fresh ``mailslot serve`` runs a scenario with three sources, files, replies, a deleted case, a
reply deleted by its source and a refused upload. Every text that went in carries a random
marker. After the server stops, every byte it left (data directory, SQLite files, blobs, its
TMPDIR, its log) is searched for each marker and each codename.
"""

from __future__ import annotations

import base64
import os
import re
import stat
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mailslot.cases.models import Item
from tests.conftest import LiveServer, start_server, stop_server
from tests.functional.helpers import csrf, find_case, login, new_source, submit

BIG_FILE = 300 * 1024
TOO_BIG = 2 * 1024 * 1024
# The link to the confirmation page (or, before it, the form itself).
REPLY_DELETE_RE = re.compile(r'"/replies/([0-9a-f]+)/delete"')
# The only log lines allowed to name the loopback address: startup, not requests.
STARTUP_LINES = (
    "Uvicorn running on",
    "/setup/",
    "Source interface:",
    "Staff interface:",
    "Operator pages:",
)


def marker(kind: str) -> str:
    return f"MARKER-{kind}-{os.urandom(8).hex()}"


def encodings(text: str) -> dict[str, bytes]:
    """The forms a leaked text would most likely take on disk."""
    raw = text.encode()
    forms = {
        "utf-8": raw,
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
        "hex": raw.hex().encode(),
    }
    for shift in range(3):
        # Base64 of the text at each alignment, without the groups it shares with neighbours.
        core = base64.b64encode(b"\0" * shift + raw)[4:-4]
        forms[f"base64/{shift}"] = core
        forms[f"base64url/{shift}"] = core.translate(bytes.maketrans(b"+/", b"-_"))
    return forms


def run_scenario(server: LiveServer) -> tuple[list[str], list[str]]:
    """Use the server like a newsroom would. Returns (markers, codenames)."""
    markers: list[str] = []
    codenames: list[str] = []
    submitted: list[dict[str, Any]] = []
    recipient = server.add_user("recipient")

    for number in range(3):
        message = marker("MSG")
        name = marker("NAME") + ".pdf"
        content = b"%PDF-1.4\n" + marker("FILE").encode() + b"\n%%EOF\n"
        markers += [message, name, content.decode().split("\n")[1]]
        files = [(name, content, "application/pdf")]
        if number == 0:
            repeated = marker("BIGFILE")
            markers.append(repeated)
            line = (repeated + "\n").encode()
            big = (line * (BIG_FILE // len(line) + 1))[:BIG_FILE]
            files.append((marker("NAME") + ".txt", big, "text/plain"))
            markers.append(files[-1][0])
        with httpx.Client(base_url=server.source_url, timeout=60) as client:
            codenames.append(new_source(client))
            response = submit(client, f"Tip number {number}: {message}", files=files)
            assert response.status_code == 303, response.text
            if number == 1:
                more = marker("MSG")
                markers.append(more)
                again = submit(client, f"And one more thing: {more}")
                assert again.status_code == 303, again.text
            if number == 2:
                # Refused for size mid-stream: nothing of it may stay behind.
                refused_marker = marker("REFUSED")
                markers.append(refused_marker)
                chunk = (refused_marker + "\n").encode()
                huge = chunk * (TOO_BIG // len(chunk) + 1)
                refused = submit(client, "", files=[("refused.bin", huge, "text/plain")])
                assert refused.status_code == 413, refused.text
        submitted.append({"message": f"Tip number {number}: {message}", "files": files})

    staff = server.staff_client(recipient)
    api = server.api_client(recipient)
    with closing(staff), api:
        cases = [find_case(api, entry["message"]) for entry in submitted]
        # The markers really went in: the recipient reads each of them back intact.
        for case, entry in zip(cases, submitted, strict=True):
            stored = {i["filename"]: i for i in case["items"] if i["kind"] == "file"}
            assert set(stored) == {name for name, _, _ in entry["files"]}
            for name, content, _ in entry["files"]:
                url = f"/cases/{case['id']}/items/{stored[name]['id']}/content"
                assert api.get(url).content == content

        replies = [marker("REPLY") for _ in cases]
        markers += replies
        page = staff.get(f"/cases/{cases[0]['id']}")
        sent = staff.post(
            f"/cases/{cases[0]['id']}/replies",
            data={"csrf": csrf(page.text), "text": f"Reply: {replies[0]}"},
        )
        assert sent.status_code == 303, sent.text
        for case, reply in zip(cases[1:], replies[1:], strict=True):
            response = api.post(f"/cases/{case['id']}/replies", json={"text": reply})
            assert response.status_code == 201, response.text

        # Source 0 reads its reply, then deletes it; source 1 only reads.
        for number in (0, 1):
            with httpx.Client(base_url=server.source_url, timeout=60) as client:
                assert login(client, codenames[number]).status_code == 303
                conversation = client.get("/conversation")
                assert replies[number] in conversation.text
                if number == 0:
                    reply_ids = set(REPLY_DELETE_RE.findall(conversation.text))
                    assert len(reply_ids) == 1
                    confirm = client.get(f"/replies/{reply_ids.pop()}/delete")
                    assert confirm.status_code == 200, confirm.text
                    deleted = client.post(str(confirm.url.path), data={"csrf": csrf(confirm.text)})
                    assert deleted.status_code == 303, deleted.text
                    assert replies[0] not in client.get("/conversation").text
                logout = client.post("/logout")
                assert logout.status_code == 303

        # The recipient deletes case 2 through the staff interface.
        form = staff.get(f"/cases/{cases[2]['id']}/delete")
        assert form.status_code == 200
        gone = staff.post(
            f"/cases/{cases[2]['id']}/delete", data={"csrf": csrf(form.text), "confirm": "yes"}
        )
        assert gone.status_code == 303, gone.text
        assert api.get(f"/cases/{cases[2]['id']}").status_code == 404
    return markers, codenames


def every_file(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def blob_ids(server: LiveServer) -> set[str]:
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:
            return set(db.scalars(select(Item.blob_id)))
    finally:
        runtime.close()


def test_no_plaintext_reaches_the_disk(tmp_path: Path) -> None:
    base = tmp_path / "instance"
    base.mkdir()
    # An empty database: the server's own first start makes the schema and every file here.
    server = start_server(base, {"MAILSLOT_MAX_FILE_SIZE": "1MiB"}, template=False)
    try:
        markers, codenames = run_scenario(server)
        referenced = blob_ids(server)
        dumped = server.dump_database(base / "database.dump")
    finally:
        stop_server(server)
    assert server.proc.returncode is not None

    files = every_file(base)
    data_files = [p for p in files if p.is_relative_to(server.data_dir)]
    blob_files = [p for p in files if p.is_relative_to(server.data_dir / "blobs")]
    # The scan covers what it should: the database (the SQLite file, or on PostgreSQL a dump
    # of every table's rows), the blobs, the TMPDIR and the log.
    db_path = dumped or server.data_dir / "mailslot.sqlite3"
    assert db_path in files
    assert server.log_path in files
    assert (base / "tmp").is_dir()
    assert len(blob_files) >= 8, data_files
    assert sum(p.stat().st_size for p in blob_files) > BIG_FILE

    secrets = {m: encodings(m) for m in markers}
    secrets.update({c: encodings(c) for c in codenames})
    assert all(len(c.split()) == 7 for c in codenames)
    leaks = []
    for path in files:
        data = path.read_bytes()
        for text, forms in secrets.items():
            leaks += [
                f"{path.relative_to(base)}: {text} as {how}"
                for how, needle in forms.items()
                if needle in data
            ]
    assert leaks == []

    partials = [p for p in files if p.name.endswith(".partial")]
    assert partials == []

    # Every blob on disk belongs to an item, and every item's blob is there: the deleted
    # case and the refused upload left nothing behind.
    on_disk = {p.name for p in blob_files}
    assert on_disk == referenced

    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    for path in blob_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (server.data_dir / "blobs").rglob("*"):
        if path.is_dir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o700, path

    log = server.log_path.read_text()
    assert "Uvicorn running on" in log
    addressed = [
        line
        for line in log.splitlines()
        if "127.0.0.1" in line and not any(allowed in line for allowed in STARTUP_LINES)
    ]
    assert addressed == [], "access log lines or client addresses in the server log"
    assert not re.search(r"\b(GET|POST) /", log)
    assert "Traceback" not in log
    assert "internal error" not in log


@pytest.mark.parametrize("text", ["MARKER-MSG-0123456789abcdef", "A codename of seven words"])
def test_the_scanner_finds_what_it_looks_for(tmp_path: Path, text: str) -> None:
    """The scan above must be able to fail: every encoding is found where it was written."""
    for shift in range(3):
        blob = (
            b"x" * shift
            + text.encode("utf-16-le")
            + b"..."
            + base64.b64encode(b"y" * shift + text.encode())
            + b"..."
            + text.encode().hex().encode()
        )
        path = tmp_path / f"leak{shift}"
        path.write_bytes(blob)
        data = path.read_bytes()
        found = {how for how, needle in encodings(text).items() if needle in data}
        assert {"utf-16-le", "hex", f"base64/{shift}"} <= found
        assert encodings(text)["utf-8"] not in data
