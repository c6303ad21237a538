"""Streaming multipart uploads: filename and type sanitising, limits, and clean refusal."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailslot import crypto, errors
from mailslot.filenames import safe_filename
from mailslot.storage import FilesystemBlobStore
from mailslot.web.downloads import content_disposition
from mailslot.web.errors import CsrfError, status_for
from mailslot.web.form_receiver import Limits, safe_content_type
from mailslot.web.uploads import BATCH_BYTES, ReceivedForm, receive_form

pytestmark = pytest.mark.no_database

BOUNDARY = "----mailslot-test-boundary"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Users\\me\\Desktop\\leak.docx", "leak.docx"),
        ("/absolute/path/x.txt", "x.txt"),
        ("a\x00b.txt", "ab.txt"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),
        ("보고서 2024.hwp", "보고서 2024.hwp"),
        ("  .hidden  ", "hidden"),
        ("...", "file"),
        ("", "file"),
        ("dir/", "file"),
        ("\x00\x01\x02", "file"),
    ],
)
def test_safe_filename(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_safe_filename_is_bounded() -> None:
    name = safe_filename("ü" * 1000 + ".txt")
    assert len(name) == 255
    assert set(name) == {"ü"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("application/pdf", "application/pdf"),
        ("Text/Plain; charset=utf-8", "text/plain"),
        ("image/svg+xml", "image/svg+xml"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("application/" + "x" * 65, "application/octet-stream"),
        ("text/html\r\nX-Injected: 1", "application/octet-stream"),
        ('text/html; x="', "text/html"),
        ("", "application/octet-stream"),
        ("pdf", "application/octet-stream"),
        ("../../", "application/octet-stream"),
        ("text/plain text/html", "application/octet-stream"),
        ("ÄÖ/Ü", "application/octet-stream"),
    ],
)
def test_safe_content_type(raw: str, expected: str) -> None:
    assert safe_content_type(raw) == expected


def test_content_disposition_has_ascii_fallback_and_rfc5987_name() -> None:
    header = content_disposition('Bericht "über" 報告;v2.pdf')
    assert header.startswith("attachment; ")
    assert 'filename="Bericht __ber_ ___v2.pdf"' in header
    assert "filename*=UTF-8''Bericht%20%22%C3%BCber%22%20%E5%A0%B1%E5%91%8A%3Bv2.pdf" in header
    assert "\r" not in content_disposition("a\r\nSet-Cookie: x.txt")
    assert "\n" not in content_disposition("a\r\nSet-Cookie: x.txt")


def test_browser_escapes_in_file_names_are_undone(harness: Harness) -> None:
    # Chromium and Firefox send a quote in a file name as %22, CR and LF as %0D and %0A.
    sent = part("files", b"data", "say %22hi%22%0D%0A.txt")
    response = harness.post(body(CSRF, sent))
    assert response.status_code == 200, response.text
    assert [f["filename"] for f in response.json()["files"]] == ['say "hi".txt']


# receive_form, driven in-process with small limits.


@dataclass
class Harness:
    app: Starlette
    blobs: FilesystemBlobStore
    received: list[ReceivedForm] = field(default_factory=list)
    tokens: list[str | None] = field(default_factory=list)

    def blob_files(self) -> list[Path]:
        return [p for p in self.blobs.root.rglob("*") if p.is_file()]

    def post(self, body: bytes, content_type: str | None = None, **headers: str) -> httpx.Response:
        headers["content-type"] = content_type or f"multipart/form-data; boundary={BOUNDARY}"

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.post("/upload", content=body, headers=headers)

        return anyio.run(send)


LIMITS = Limits(max_file_size=1000, max_submission_size=2500, max_files=3)


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    received: list[ReceivedForm] = []
    tokens: list[str | None] = []

    def check_csrf(token: str | None) -> None:
        tokens.append(token)
        if token != "right-token":
            raise CsrfError()

    async def upload(request: Request) -> Response:
        try:
            form = await receive_form(request, blobs, LIMITS, check_csrf)
        except errors.ServiceError as exc:
            return JSONResponse({"error": exc.message}, status_code=status_for(exc))
        received.append(form)
        files = [
            {"filename": f.filename, "content_type": f.content_type, "size": f.upload.length}
            for f in form.files
        ]
        return JSONResponse({"fields": form.fields, "files": files})

    app = Starlette(routes=[Route("/upload", upload, methods=["POST"])])
    return Harness(app, blobs, received, tokens)


def part(name: str, value: bytes, filename: str | None = None, ctype: str = "") -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"Content-Disposition: {disposition}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return f"--{BOUNDARY}\r\n{head}\r\n".encode() + value + b"\r\n"


def body(*parts: bytes, close: bool = True) -> bytes:
    return b"".join(parts) + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


CSRF = part("csrf", b"right-token")


def test_fields_and_files_are_received_and_encrypted(harness: Harness) -> None:
    response = harness.post(
        body(
            CSRF,
            part("message", "Grüße".encode()),
            part("files", b"%PDF secret", "../a.pdf", "application/pdf"),
            part("files", b"", "", "application/octet-stream"),  # a browser's empty file input
        )
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["fields"] == {"csrf": "right-token", "message": "Grüße"}
    assert data["files"] == [{"filename": "a.pdf", "content_type": "application/pdf", "size": 11}]
    assert harness.tokens == ["right-token"]
    upload = harness.received[0].files[0].upload
    stored = b"".join(harness.blobs.open(upload.blob_id))
    assert b"%PDF secret" not in stored
    opened = crypto.open_item_stream(
        bytes.fromhex(upload.item_id), upload.data_key, harness.blobs.open(upload.blob_id)
    )
    assert b"".join(opened) == b"%PDF secret"
    assert len(harness.blob_files()) == 1


def test_csrf_must_come_first(harness: Harness) -> None:
    response = harness.post(body(part("files", b"x", "a.txt"), CSRF))
    assert response.status_code == 403
    assert harness.tokens == [None]
    assert harness.blob_files() == []


def test_wrong_csrf_stores_nothing(harness: Harness) -> None:
    response = harness.post(body(part("csrf", b"forged"), part("files", b"x" * 500, "a.txt")))
    assert response.status_code == 403
    assert harness.blob_files() == []


@pytest.mark.parametrize(
    ("parts", "status", "message"),
    [
        (
            [part("files", b"ok", "1.txt"), part("files", b"x" * 1001, "2.txt")],
            413,
            "The file “%(name)s” is larger than the limit of %(limit)s.",
        ),
        (
            [part("files", b"x" * 900, f"{i}.txt") for i in range(3)],
            413,
            "The files together are larger than the limit of %(limit)s (with “%(name)s”).",
        ),
        (
            [part("files", b"x", f"{i}.txt") for i in range(4)],
            413,
            "You can send at most %(num)s file at once.",
        ),
        (
            [part("files", b"x", "1.txt"), part("message", b"\xff\xfe broken")],
            400,
            "The text could not be read (it is not valid UTF-8).",
        ),
        (
            [part("files", b"x", "1.txt"), part("message", b"m" * (1024 * 1024 + 1))],
            413,
            "This submission is larger than the limit of %(limit)s.",
        ),
    ],
)
def test_limits_refuse_and_leave_nothing(
    harness: Harness, parts: list[bytes], status: int, message: str
) -> None:
    response = harness.post(body(CSRF, *parts))
    assert response.status_code == status
    assert response.json()["error"] == message
    assert harness.blob_files() == []
    assert harness.received == []


def test_truncated_body_leaves_nothing(harness: Harness) -> None:
    whole = part("files", b"complete", "1.txt")
    cut = part("files", b"x" * 600, "2.txt")[:-200]
    response = harness.post(body(CSRF, whole, cut, close=False))
    assert response.status_code == 400
    assert response.json()["error"] == "The upload could not be read. Please try again."
    assert harness.blob_files() == []


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (b"\x00garbage\xff" * 50, None),
        (b"", None),
        (body(CSRF), "multipart/form-data"),
        (body(CSRF), f"multipart/form-data; boundary={'b' * 201}"),
        (b"csrf=right-token&message=hi", "application/x-www-form-urlencoded"),
        (body(CSRF).replace(b"Content-Disposition", b"X-Nothing"), None),
    ],
)
def test_unreadable_forms_are_refused(
    harness: Harness, payload: bytes, content_type: str | None
) -> None:
    response = harness.post(payload, content_type)
    assert response.status_code == 400
    assert response.json()["error"] == "The upload could not be read. Please try again."
    assert harness.blob_files() == []


def test_declared_length_over_the_limit_is_refused_before_reading(harness: Harness) -> None:
    declared = str(LIMITS.max_submission_size + 1024 * 1024 + 1)
    response = harness.post(body(CSRF), None, **{"content-length": declared})
    assert response.status_code == 413
    assert harness.tokens == []


class _GatedBlobs:
    """A blob store whose writes wait for ``gate``: a batch stays in its worker thread."""

    def __init__(self, inner: FilesystemBlobStore) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.gate = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create(self) -> Any:
        writer = self.inner.create()
        real_write = writer.write

        def write(data: bytes | bytearray | memoryview) -> None:
            self.entered.set()
            self.gate.wait(10)
            real_write(data)

        writer.write = write
        return writer


@pytest.mark.parametrize("cancels", [1, 2])
def test_cancelled_upload_is_cleaned_up_once_its_worker_is_done(
    tmp_path: Path, cancels: int
) -> None:

    # The request is cancelled while a worker thread still encrypts and writes a batch. The
    # parser is never used from two threads: the cleanup waits for the worker; cancelled
    # again while it waits (as anyio's cancel scopes do), it leaves the cleanup to run when
    # the worker ends. Either way the blob goes.
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    gated = _GatedBlobs(blobs)
    first = CSRF + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; '.encode()
    first += b'filename="a.bin"\r\n\r\n' + b"x" * BATCH_BYTES
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": first, "more_body": True}
        await asyncio.sleep(3600)  # the rest never comes
        raise AssertionError("unreachable")

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
    }
    limits = Limits(max_file_size=4 << 20, max_submission_size=8 << 20, max_files=3)

    def files() -> list[Path]:
        return [p for p in blobs.root.rglob("*") if p.is_file()]

    async def scenario() -> None:
        request = Request(scope, receive)
        task = asyncio.ensure_future(
            receive_form(request, gated, limits, lambda _: None)  # type: ignore[arg-type]
        )
        await asyncio.to_thread(gated.entered.wait, 10)
        assert files()  # the worker has started the blob
        for _ in range(cancels):
            task.cancel()
            await asyncio.sleep(0.05)
        assert not task.done() if cancels == 1 else task.done()
        gated.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(500):
            if not files():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"left behind: {files()}")

    asyncio.run(scenario())
