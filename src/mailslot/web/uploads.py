"""Streaming ``multipart/form-data`` for submissions: each file is encrypted chunk by chunk as
it arrives and written to the blob store; nothing is spooled, no file is ever whole in memory.

Parsing, encryption and writing run in a worker thread per batch of network chunks, so slow
uploads occupy no thread while they wait for the network and never block the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, overload

import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from mailslot.cases.services import ItemUpload
from mailslot.errors import InvalidInput, TooLarge
from mailslot.filenames import safe_filename
from mailslot.sizes import human_size
from mailslot.storage import BlobStore

T = TypeVar("T")

MAX_FIELDS: Final = 20
MAX_FIELD_BYTES: Final = 1024 * 1024
# After a refusal, read (and discard) at most this much more so the browser sees our page.
DRAIN_LIMIT: Final = 64 * 1024 * 1024
# Network pieces are gathered up to this size before parsing and encryption (see receive_form).
BATCH_BYTES: Final = 2 * 1024 * 1024
# The size of a piece from a sender that is keeping up with the server (uvicorn reads 64 KiB).
FULL_PIECE: Final = 32 * 1024
_CONTENT_TYPE: Final = re.compile(
    r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}"
)


def browser_filename(sent: str) -> str:
    """Undo the escaping browsers apply to a file name in a form (HTML's multipart/form-data
    encoding: ``"`` as ``%22``, CR and LF as ``%0D`` and ``%0A``; ``%`` itself is left as
    it is, so a name that really holds "%22" cannot be told apart and reads as a quote)."""
    return sent.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


def safe_content_type(raw: str) -> str:
    value = raw.split(";", 1)[0].strip().lower()
    return value if _CONTENT_TYPE.fullmatch(value) else "application/octet-stream"


@dataclass
class UploadedFile:
    upload: ItemUpload
    filename: str
    content_type: str


@dataclass
class Limits:
    max_file_size: int
    max_submission_size: int
    max_files: int


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)
    upload: ItemUpload | None = None


class _Receiver:
    """The parser's callbacks; raise to stop the upload, leaving nothing behind."""

    def __init__(
        self, blobs: BlobStore, limits: Limits, check_csrf: Callable[[str | None], None]
    ) -> None:
        self.blobs = blobs
        self.limits = limits
        self.check_csrf = check_csrf
        self.fields: dict[str, str] = {}
        self.files: list[UploadedFile] = []
        self.part = _Part()
        self.parts = 0
        self.total = 0
        self.headers: dict[bytes, bytes] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()

    # Header callbacks.

    def on_part_begin(self) -> None:
        self.part = _Part()
        self.headers = {}
        self.parts += 1
        if self.parts > MAX_FIELDS + self.limits.max_files:
            raise InvalidInput("The form has too many fields.")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if name is None:
            raise InvalidInput("The upload could not be read. Please try again.")
        self.part.name = name.decode("utf-8", "replace")
        if self.parts == 1 and self.part.name != "csrf":
            # The token comes first, so nothing is stored for a forged request.
            self.check_csrf(None)
        filename = options.get(b"filename")
        if filename is not None:
            self.part.filename = browser_filename(filename.decode("utf-8", "replace"))
            self.part.content_type = self.headers.get(b"content-type", b"").decode("latin-1")
            if self.part.filename:
                if len(self.files) >= self.limits.max_files:
                    raise TooLarge(
                        "You can send at most %(n)s files at once.", n=self.limits.max_files
                    )
                self.part.upload = ItemUpload(self.blobs, limit=self.limits.max_file_size)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        piece = memoryview(data)[start:end]  # no copy: a file's batch is sealed from here
        self.total += len(piece)
        if self.total > self.limits.max_submission_size:
            raise TooLarge(
                "This submission is larger than the limit of %(limit)s.",
                limit=human_size(self.limits.max_submission_size),
            )
        if self.part.upload is not None:
            try:
                self.part.upload.write(piece)
            except TooLarge:
                raise TooLarge(
                    "A file is larger than the limit of %(limit)s.",
                    limit=human_size(self.limits.max_file_size),
                ) from None
        elif self.part.filename is None:
            if len(self.part.data) + len(piece) > MAX_FIELD_BYTES:
                raise TooLarge("The message is too long.")
            self.part.data += piece
        elif piece:
            raise InvalidInput("The upload could not be read. Please try again.")

    def on_part_end(self) -> None:
        part = self.part
        if part.upload is not None:
            part.upload.close()
            self.files.append(
                UploadedFile(
                    upload=part.upload,
                    filename=safe_filename(part.filename or ""),
                    content_type=safe_content_type(part.content_type),
                )
            )
            part.upload = None
        elif part.filename is None:
            try:
                value = part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("The text could not be read (it is not valid UTF-8).") from None
            if part.name == "csrf" and self.parts == 1:
                self.check_csrf(value)
            self.fields[part.name] = value

    def abort(self) -> None:
        if self.part.upload is not None:
            self.part.upload.abort()
            self.part.upload = None
        for uploaded in self.files:
            self.blobs.delete(uploaded.upload.blob_id)
        self.files.clear()


@dataclass
class ReceivedForm:
    fields: dict[str, str]
    files: list[UploadedFile]


def _whole(form: ReceivedForm) -> ReceivedForm:
    return form


@overload
async def receive_form(
    request: Request,
    blobs: BlobStore,
    limits: Limits,
    check_csrf: Callable[[str | None], None],
) -> ReceivedForm: ...


@overload
async def receive_form(
    request: Request,
    blobs: BlobStore,
    limits: Limits,
    check_csrf: Callable[[str | None], None],
    complete: Callable[[ReceivedForm], T],
) -> T: ...


async def receive_form(
    request: Request,
    blobs: BlobStore,
    limits: Limits,
    check_csrf: Callable[[str | None], None],
    complete: Callable[[ReceivedForm], Any] = _whole,
) -> Any:
    """Read a multipart form from the request stream, encrypting files as they arrive.

    ``complete`` gets the whole form in the worker thread, in the same step that parsed its
    end (one thread hop less for what the caller does next); its result is returned.

    On any error, ``complete``'s included, every file blob written so far is deleted before
    the error propagates.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise InvalidInput("The upload could not be read. Please try again.")
    declared = request.headers.get("content-length", "")
    overhead = 1024 * 1024
    if declared.isdigit() and int(declared) > limits.max_submission_size + overhead:
        raise TooLarge(
            "This submission is larger than the limit of %(limit)s.",
            limit=human_size(limits.max_submission_size),
        )
    receiver = _Receiver(blobs, limits, check_csrf)
    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": receiver.on_part_begin,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
        },
    )
    # A body announced as small is gathered whole (it is at most one batch) and parsed in a
    # single worker-thread step: a text submission costs one hop here, not two.
    small = declared.isdigit() and int(declared) <= BATCH_BYTES
    stream = request.stream()
    pending: list[bytes] = []
    pending_size = 0
    # The batch a worker thread is parsing, encrypting and writing while the event loop
    # receives the next one. At most one is in flight, so the parser is never used by two
    # threads at once and memory stays at two batches per upload.
    in_flight: asyncio.Future[None] | None = None

    def parse(pieces: list[bytes]) -> None:
        for piece in pieces:  # piece by piece: joining them would copy every byte once more
            parser.write(piece)

    def finish(rest: list[bytes]) -> Any:
        parse(rest)
        parser.finalize()
        if receiver.parts == 0 or receiver.part.upload is not None:
            raise InvalidInput("The upload could not be read. Please try again.")
        return complete(ReceivedForm(fields=receiver.fields, files=receiver.files))

    try:
        async for chunk in stream:
            pending.append(chunk)
            pending_size += len(chunk)
            # A fast sender's full-size pieces are gathered into one worker-thread step (fewer
            # hops between threads); a slow sender's small pieces go through at once, so
            # nothing waits in memory for a connection that is crawling.
            if pending_size >= BATCH_BYTES or (len(chunk) < FULL_PIECE and not small):
                batch, pending, pending_size = pending, [], 0
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.ensure_future(anyio.to_thread.run_sync(parse, batch))
        if in_flight is not None:
            await in_flight
            in_flight = None
        result = await anyio.to_thread.run_sync(finish, pending)
    except BaseException as exc:
        if in_flight is not None and not await _settled(in_flight):
            # Cancelled while a worker still holds the parser: clean up once it is done.
            loop = asyncio.get_running_loop()
            in_flight.add_done_callback(lambda _: loop.run_in_executor(None, receiver.abort))
            raise
        await anyio.to_thread.run_sync(receiver.abort)
        if isinstance(exc, FormParserError):
            await drain(stream)
            raise InvalidInput("The upload could not be read. Please try again.") from None
        if isinstance(exc, (InvalidInput, TooLarge)):
            await drain(stream)
        raise
    return result


async def _settled(work: asyncio.Future[None]) -> bool:
    """Wait for ``work`` to end, whatever its outcome; False if this task is cancelled first."""
    try:
        await asyncio.wait({work})
    except asyncio.CancelledError:
        return False
    with contextlib.suppress(BaseException):
        work.result()  # its error, if any, is the one being handled (or a consequence of it)
    return True


async def drain(stream: AsyncIterator[bytes]) -> None:
    """Read the rest of a refused body (up to a limit) so the browser can show our answer."""
    seen = 0
    try:
        async for chunk in stream:
            seen += len(chunk)
            if seen > DRAIN_LIMIT:
                return
    except (ClientDisconnect, RuntimeError):
        return
