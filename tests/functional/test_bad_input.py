"""Hostile and broken submissions: each gets a clear answer and leaves nothing half-written."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import func, select

from mailslot import i18n
from mailslot.cases.models import Case, Item
from mailslot.cases.services import MESSAGE_TOO_LONG
from mailslot.sources.models import Source
from tests.conftest import Account, LiveServer
from tests.functional.helpers import csrf, files_under, new_source, submit

BOUNDARY = "mailslot-bad-input-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
UNREADABLE = "The upload could not be read. Please try again."
FORM_EXPIRED = (
    "This form had expired, so nothing was sent. What you wrote is below: press Send again."
)
CSRF_REFUSED = (
    "This form has expired or did not come from this site. Go back, reload and try again."
)
NOTHING_TO_SEND = "Write a message or choose at least one file to send."
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</textarea><script>alert(3)</script>",
    "file\u202egpj.exe is not a picture",
    "W" * 10_000,
]


@dataclass(frozen=True)
class Snapshot:
    blob_files: tuple[str, ...]
    items: int
    cases: int
    sources: int


def snapshot(server: LiveServer) -> Snapshot:
    # List the files first: opening a runtime tidies away unfinished (.partial) blobs.
    root = server.data_dir / "blobs"
    files = tuple(str(p.relative_to(root)) for p in files_under(root))
    runtime = server.runtime()
    try:
        with runtime.default.db() as db:

            def count(model: Any) -> int:
                return int(db.scalar(select(func.count()).select_from(model)) or 0)

            return Snapshot(files, count(Item), count(Case), count(Source))
    finally:
        runtime.close()


def part(name: str, value: bytes, filename: bytes | None = None, ctype: str = "") -> bytes:
    head = f'Content-Disposition: form-data; name="{name}"'.encode()
    if filename is not None:
        head += b'; filename="' + filename + b'"'
    head += b"\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n".encode()
    return f"--{BOUNDARY}\r\n".encode() + head + b"\r\n" + value + b"\r\n"


def body(*parts: bytes, close: bool = True) -> bytes:
    return b"".join(parts) + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


def start(client: httpx.Client) -> str:
    """Become a new source with a session; return the form's CSRF token."""
    new_source(client)
    return csrf(client.get("/submit").text)


def post(client: httpx.Client, payload: bytes, content_type: str = MULTIPART) -> httpx.Response:
    return client.post("/submit", content=payload, headers={"Content-Type": content_type})


def error_of(response: httpx.Response) -> str:
    match = re.search(r'role="alert"><strong>[^<]*</strong> (.*?)</div>', response.text, re.S)
    assert match, response.text
    return match[1]


@pytest.fixture(scope="module", autouse=True)
def open_channel(recipient: Account) -> Account:
    """A recipient in the default channel, so that sources can submit at all."""
    return recipient


@pytest.fixture(scope="module")
def api(server: LiveServer, recipient: Account) -> Iterator[httpx.Client]:
    with server.api_client(recipient) as client:
        yield client


@pytest.fixture(scope="module")
def staff(server: LiveServer, recipient: Account) -> Iterator[httpx.Client]:
    with closing(server.staff_client(recipient)) as client:
        yield client


def newest_items(api: httpx.Client) -> tuple[str, list[dict[str, Any]]]:
    case_id = api.get("/cases", params={"limit": 1}).json()["cases"][0]["id"]
    return case_id, api.get(f"/cases/{case_id}").json()["items"]


# Size.


def test_oversized_message_is_refused(server: LiveServer, source: httpx.Client) -> None:
    new_source(source)
    before = snapshot(server)
    response = submit(source, "a" * 100_001, files=[("x.txt", b"kept?", "text/plain")])
    assert response.status_code == 400
    expected = i18n.translate_plural("en", *MESSAGE_TOO_LONG, 100_000)
    assert error_of(response) == expected == "The message is too long (at most 100000 characters)."
    assert snapshot(server) == before
    # The limit itself is allowed.
    assert submit(source, "b" * 100_000).status_code == 303
    assert snapshot(server).items == before.items + 1


def test_a_field_over_a_mebibyte_is_refused(server: LiveServer, source: httpx.Client) -> None:
    token = start(source)
    before = snapshot(server)
    payload = body(
        part("csrf", token.encode()),
        part("files", b"0" * 5000, b"first.bin"),
        part("message", b"m" * (1024 * 1024 + 1)),
    )
    response = post(source, payload)
    assert response.status_code == 413
    assert error_of(response) == "The message is too long."
    assert snapshot(server) == before


def test_too_many_files_are_refused(server: LiveServer, source: httpx.Client) -> None:
    new_source(source)
    before = snapshot(server)
    files = [(f"f{i}.txt", b"x", "text/plain") for i in range(101)]
    response = submit(source, "Lots of files.", files=files)
    assert response.status_code == 413
    assert error_of(response) == "You can send at most 100 files at once."
    assert snapshot(server) == before


def test_a_few_dozen_tiny_files_are_fine(
    server: LiveServer, api: httpx.Client, source: httpx.Client
) -> None:
    new_source(source)
    before = snapshot(server)
    files = [(f"tiny-{i:02d}.txt", str(i).encode(), "text/plain") for i in range(36)]
    assert submit(source, "", files=files).status_code == 303
    _, items = newest_items(api)
    assert [i["filename"] for i in items] == [name for name, _, _ in files]
    after = snapshot(server)
    assert len(after.blob_files) == len(before.blob_files) + 36
    assert after.items == before.items + 36


# Broken forms.


@pytest.mark.parametrize(
    "kind",
    [
        "garbage",
        "missing-boundary",
        "not-multipart",
        "truncated-file",
        "no-closing-boundary",
        "part-without-name",
    ],
)
def test_malformed_multipart_is_refused(
    server: LiveServer, source: httpx.Client, kind: str
) -> None:
    token = start(source).encode()
    complete_file = part("files", b"complete document" * 100, b"done.txt", "text/plain")
    content_type = MULTIPART
    if kind == "garbage":
        payload = b"\x00\xff garbage, not a form \r\n--" * 100
    elif kind == "missing-boundary":
        payload = body(part("csrf", token), part("message", b"hello"))
        content_type = "multipart/form-data"
    elif kind == "not-multipart":
        payload = b"csrf=" + token + b"&message=hello"
        content_type = "application/x-www-form-urlencoded"
    elif kind == "truncated-file":
        cut = part("files", b"y" * 200_000, b"cut.bin", "application/octet-stream")
        payload = body(part("csrf", token), complete_file, cut[:100_000], close=False)
    elif kind == "no-closing-boundary":
        payload = body(part("csrf", token), complete_file, close=False)
    else:
        payload = body(part("csrf", token), complete_file).replace(b'name="files"; ', b"")
    before = snapshot(server)
    response = post(source, payload, content_type)
    assert response.status_code == 400
    assert error_of(response) == UNREADABLE
    assert "Send a message or documents" in response.text
    assert snapshot(server) == before


@pytest.mark.parametrize("kind", ["missing", "not-first", "wrong", "empty", "foreign-origin"])
def test_forged_submissions_store_nothing(
    server: LiveServer, source: httpx.Client, kind: str
) -> None:
    token = start(source).encode()
    document = part("files", b"z" * 50_000, b"doc.txt", "text/plain")
    headers = {"Content-Type": MULTIPART}
    if kind == "missing":
        payload = body(part("message", b"no token"), document)
    elif kind == "not-first":
        payload = body(part("message", b"late token"), document, part("csrf", token))
    elif kind == "wrong":
        payload = body(part("csrf", b"x" * len(token)), document)
    elif kind == "empty":
        payload = body(part("csrf", b""), document)
    else:
        payload = body(part("csrf", token), document)
        headers["Origin"] = "http://evil.example"
    before = snapshot(server)
    response = source.post("/submit", content=payload, headers=headers)
    assert response.status_code == 403
    if kind == "foreign-origin":  # refused before it is read
        assert error_of(response) == CSRF_REFUSED
    else:  # read for its text only (shown again), storing nothing
        assert error_of(response) == FORM_EXPIRED
        assert "doc.txt" in response.text  # the file to choose again
    assert snapshot(server) == before


def test_invalid_utf8_is_refused(server: LiveServer, source: httpx.Client) -> None:
    token = start(source).encode()
    before = snapshot(server)
    payload = body(
        part("csrf", token),
        part("files", b"before the bad text", b"a.txt", "text/plain"),
        part("message", b"caf\xe9 \xff\xfe"),
    )
    response = post(source, payload)
    assert response.status_code == 400
    assert error_of(response) == "The text could not be read (it is not valid UTF-8)."
    assert snapshot(server) == before


@pytest.mark.parametrize("message", ["", " \n\t "])
def test_nothing_to_send_is_refused(server: LiveServer, source: httpx.Client, message: str) -> None:
    new_source(source)
    before = snapshot(server)
    response = submit(source, message)
    assert response.status_code == 400
    assert error_of(response) == NOTHING_TO_SEND
    assert snapshot(server) == before


def test_a_dropped_upload_leaves_nothing(server: LiveServer, source: httpx.Client) -> None:
    token = start(source).encode()
    cookie = source.cookies["mailslot_source"]
    before = snapshot(server)
    root = server.data_dir / "blobs"
    head = part("csrf", token) + part("files", b"q" * 200_000, b"big.bin")[:150_000]
    port = int(server.source_url.rsplit(":", 1)[1])
    request = (
        f"POST /submit HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Origin: http://127.0.0.1:{port}\r\n"  # as a browser sends it
        f"Cookie: mailslot_source={cookie}\r\nContent-Type: {MULTIPART}\r\n"
        f"Content-Length: {len(head) + 10_000_000}\r\n\r\n"
    ).encode() + head

    def wait_for(condition: Any) -> bool:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return False

    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        assert wait_for(lambda: any(p.name.endswith(".partial") for p in files_under(root)))
    assert wait_for(lambda: not any(p.name.endswith(".partial") for p in files_under(root)))
    assert snapshot(server) == before
    assert source.get("/").status_code == 200


def test_login_form_abuse_is_answered_cleanly(source: httpx.Client) -> None:
    empty = source.post("/login", data={"codename": "   "})
    assert empty.status_code == 400
    assert error_of(empty) == "Enter your codename."
    long = source.post("/login", data={"codename": "word " * 150})  # cut to 500 characters
    assert long.status_code == 401
    huge = source.post("/login", data={"codename": "word " * 5000})
    assert huge.status_code == 400
    assert error_of(huge) == "The request could not be read. Please try again."
    fields = [(f"f{i}", (None, b"x")) for i in range(20)]
    crowded = source.post("/login", files=fields)
    assert crowded.status_code == 400
    assert error_of(crowded) == "The request could not be read. Please try again."
    assert "mailslot_source" not in source.cookies


# Names and contents.


PATH_LIKE = [
    (b"../../etc/passwd", "passwd"),
    (b"..\\..\\boot.ini", "boot.ini"),
    (b"/etc/shadow", "shadow"),
    (b"C:\\Windows\\win.ini", "win.ini"),
    (b"nul\x00byte.txt", "nulbyte.txt"),
    (b"\x00", "file"),
    (b"evil\xe2\x80\xaetxt.exe", "eviltxt.exe"),
]


def test_path_like_filenames_are_stored_safely(
    server: LiveServer, api: httpx.Client, staff: httpx.Client, source: httpx.Client
) -> None:
    token = start(source).encode()
    files = [part("files", b"contents of " + raw, raw, "text/plain") for raw, _ in PATH_LIKE]
    response = post(source, body(part("csrf", token), *files))
    assert response.status_code == 303, response.text
    case_id, items = newest_items(api)
    assert [item["filename"] for item in items] == [stored for _, stored in PATH_LIKE]
    for item, (raw, stored) in zip(items, PATH_LIKE, strict=True):
        download = staff.get(f"/cases/{case_id}/items/{item['id']}/download")
        assert download.status_code == 200
        assert download.content == b"contents of " + raw
        assert download.headers["content-disposition"] == (
            f"attachment; filename=\"{stored}\"; filename*=UTF-8''{stored}"
        )
        assert "sandbox" in download.headers["content-security-policy"]
    names = {p.name for p in server.data_dir.parent.rglob("*")}
    assert not names & {"passwd", "boot.ini", "shadow", "win.ini", "nulbyte.txt"}


def test_empty_file_is_stored_and_downloadable(
    server: LiveServer, api: httpx.Client, source: httpx.Client
) -> None:
    new_source(source)
    before = snapshot(server)
    assert submit(source, "", files=[("empty.txt", b"", "text/plain")]).status_code == 303
    case_id, items = newest_items(api)
    (item,) = items
    assert item["filename"] == "empty.txt"
    assert item["size"] == 0
    content = api.get(f"/cases/{case_id}/items/{item['id']}/content")
    assert content.status_code == 200
    assert content.content == b""
    assert content.headers["content-length"] == "0"
    assert len(snapshot(server).blob_files) == len(before.blob_files) + 1


def test_hostile_text_is_shown_escaped(
    api: httpx.Client, staff: httpx.Client, source: httpx.Client
) -> None:
    new_source(source)
    message = "\n".join(HOSTILE)
    filename = "<img src=x onerror=alert(2)>.txt"
    response = submit(source, message, files=[(filename, b"x", "text/html")])
    assert response.status_code == 303, response.text
    case_id, items = newest_items(api)
    assert items[0]["text"] == message  # stored exactly as sent
    assert items[1]["filename"] == filename
    page = staff.get(f"/cases/{case_id}").text
    assert "<script" not in page.lower()
    assert "<img src=x" not in page
    assert "</textarea><" not in page
    for text in [*HOSTILE, filename]:
        assert str(escape(text)) in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\u202e" in page  # shown, not interpreted as markup


def test_hostile_text_echoed_back_to_the_source_is_escaped(source: httpx.Client) -> None:
    new_source(source)
    message = "\n".join(HOSTILE).ljust(100_001, ".")
    response = submit(source, message)
    assert response.status_code == 400
    assert "<script>alert" not in response.text
    assert "</textarea><script>" not in response.text
    assert str(escape(message)) in response.text
