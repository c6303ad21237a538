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
from mailslot.errors import InvalidInput, ServiceError, TooLarge
from mailslot.filenames import safe_filename
from mailslot.i18n import N_plural
from mailslot.sizes import human_size
from mailslot.storage import BlobStore

T = TypeVar("T")

MAX_FIELDS: Final = 20
MAX_FIELD_BYTES: Final = 1024 * 1024
# After a refusal, read (and discard) at most this much more so the browser sees our page.
DRAIN_LIMIT: Final = 64 * 1024 * 1024
# Network pieces are gathered into steps before parsing and encryption (see receive_form): a
# fast sender's up to BATCH_BYTES (fewer thread hops), a slow sender's up to SLOW_BATCH (one
# sealed chunk), and no step waits longer than BATCH_WAIT once it holds SLOW_BATCH. So what a
# connection holds grows with its speed, not with the size of what it sends.
BATCH_BYTES: Final = 2 * 1024 * 1024
SLOW_BATCH: Final = 64 * 1024
BATCH_WAIT: Final = 0.05
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
    field: str = ""  # the name of the form field it was chosen in


@dataclass
class Limits:
    max_file_size: int
    max_submission_size: int
    max_files: int
    max_fields: int = MAX_FIELDS  # text fields, besides the files


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)
    upload: ItemUpload | None = None
    discard: bool = False  # a file part of a refused form: its bytes are dropped


class _Receiver:
    """The parser's callbacks; raise to stop the upload, leaving nothing behind.

    A refusal that leaves the form readable (a missing or stale CSRF token, a file or the
    whole submission over its limit, too many files, or one the caller passes in) goes
    through :meth:`refuse` instead: every blob is deleted and no file is stored any more,
    but the text fields and the names of the chosen files are still read, so the page that
    tells the refusal can show what was typed (nothing of it is stored)."""

    def __init__(
        self,
        blobs: BlobStore,
        limits: Limits,
        check_csrf: Callable[[str | None], None],
        refusal: ServiceError | None = None,
    ) -> None:
        self.blobs = blobs
        self.limits = limits
        self.check_csrf = check_csrf
        self.refusal = refusal
        self.fields: dict[str, str] = {}
        self.pairs: list[tuple[str, str]] = []  # every text field in order, repeats kept
        self.files: list[UploadedFile] = []
        self.chosen: list[str] = []  # every file name the form holds, stored or not
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
        if self.parts > self.limits.max_fields + self.limits.max_files:
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
            self._check_csrf(None)
        filename = options.get(b"filename")
        if filename is not None:
            self.part.filename = browser_filename(filename.decode("utf-8", "replace"))
            self.part.content_type = self.headers.get(b"content-type", b"").decode("latin-1")
            if self.part.filename:
                self.chosen.append(safe_filename(self.part.filename))
                if len(self.chosen) > self.limits.max_files:
                    self.refuse(
                        TooLarge(
                            N_plural(
                                "You can send at most %(num)s file at once.",
                                "You can send at most %(num)s files at once.",
                            ),
                            num=self.limits.max_files,
                        )
                    )
                if self.refusal is not None:
                    self.part.discard = True
                    return
                self.part.upload = ItemUpload(self.blobs, limit=self.limits.max_file_size)

    def _check_csrf(self, token: str | None) -> None:
        if self.refusal is None:
            try:
                self.check_csrf(token)
            except ServiceError as exc:
                self.refuse(exc)

    def refuse(self, error: ServiceError) -> None:
        """Refuse the form (the first refusal is the one told), keep reading its text."""
        if self.refusal is None:
            self.refusal = error
        self.abort()
        if self.part.filename:
            self.part.discard = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        piece = memoryview(data)[start:end]  # no copy: a file's batch is sealed from here
        self.total += len(piece)
        if self.part.discard:
            return
        if self.total > self.limits.max_submission_size and self.refusal is None:
            self.refuse(self._too_large_in_total())
            if self.part.filename:  # a file's part: dropped from here on
                return
        if self.part.upload is not None:
            try:
                self.part.upload.write(piece)
            except TooLarge:
                self.refuse(
                    TooLarge(
                        "The file “%(name)s” is larger than the limit of %(limit)s.",
                        name=self.chosen[-1],
                        limit=human_size(self.limits.max_file_size),
                    )
                )
        elif self.part.filename is None:
            if len(self.part.data) + len(piece) > MAX_FIELD_BYTES:
                raise self.refusal or TooLarge("The message is too long.")
            self.part.data += piece
        elif piece:
            raise InvalidInput("The upload could not be read. Please try again.")

    def _too_large_in_total(self) -> TooLarge:
        if self.part.filename:
            return TooLarge(
                "The files together are larger than the limit of %(limit)s (with “%(name)s”).",
                name=self.chosen[-1],
                limit=human_size(self.limits.max_submission_size),
            )
        return TooLarge(
            "This submission is larger than the limit of %(limit)s.",
            limit=human_size(self.limits.max_submission_size),
        )

    def on_part_end(self) -> None:
        part = self.part
        if part.discard:
            return
        if part.upload is not None:
            part.upload.close()
            self.files.append(
                UploadedFile(
                    upload=part.upload,
                    filename=safe_filename(part.filename or ""),
                    content_type=safe_content_type(part.content_type),
                    field=part.name,
                )
            )
            part.upload = None
        elif part.filename is None:
            try:
                value = part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("The text could not be read (it is not valid UTF-8).") from None
            if part.name == "csrf" and self.parts == 1:
                self._check_csrf(value)
            self.fields[part.name] = value
            self.pairs.append((part.name, value))

    def flush(self) -> None:
        if self.part.upload is not None:
            self.part.upload.flush()

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
    # The name of every file the form held, in order: of a refused form, the files to choose
    # again (none of them was kept).
    chosen: list[str] = field(default_factory=list)
    # Every text field in order, a repeated name (a multiple choice) once per value.
    pairs: list[tuple[str, str]] = field(default_factory=list)


def _whole(form: ReceivedForm) -> ReceivedForm:
    return form


@overload
async def receive_form(
    request: Request,
    blobs: BlobStore,
    limits: Limits,
    check_csrf: Callable[[str | None], None],
    *,
    refusal: ServiceError | None = ...,
    on_refusal: Callable[[ReceivedForm], None] | None = ...,
) -> ReceivedForm: ...


@overload
async def receive_form(
    request: Request,
    blobs: BlobStore,
    limits: Limits,
    check_csrf: Callable[[str | None], None],
    complete: Callable[[ReceivedForm], T],
    *,
    refusal: ServiceError | None = ...,
    on_refusal: Callable[[ReceivedForm], None] | None = ...,
) -> T: ...


async def receive_form(
    request: Request,
    blobs: BlobStore,
    limits: Limits,
    check_csrf: Callable[[str | None], None],
    complete: Callable[[ReceivedForm], Any] = _whole,
    *,
    refusal: ServiceError | None = None,
    on_refusal: Callable[[ReceivedForm], None] | None = None,
) -> Any:
    """Read a multipart form from the request stream, encrypting files as they arrive.

    ``complete`` gets the whole form in the worker thread, in the same step that parsed its
    end (one thread hop less for what the caller does next); its result is returned.

    On any error, ``complete``'s included, every file blob written so far is deleted before
    the error propagates.

    A form refused while it is read (a CSRF token that does not match, a file or the whole
    over its limit, too many files; or ``refusal``, given by the caller: a form to read
    without storing anything) is read on to its end, or for at most ``DRAIN_LIMIT`` more
    bytes, storing no file; ``on_refusal`` then gets its text fields and the names of its
    files, and the refusal is raised.
    """
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise InvalidInput("The upload could not be read. Please try again.")
    declared = request.headers.get("content-length", "")
    overhead = 1024 * 1024
    if (
        declared.isdigit()
        and int(declared) > limits.max_submission_size + overhead
        and refusal is None
    ):
        refusal = TooLarge(
            "This submission is larger than the limit of %(limit)s.",
            limit=human_size(limits.max_submission_size),
        )
    receiver = _Receiver(blobs, limits, check_csrf, refusal)
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
    stream = request.stream()
    pending: list[bytes] = []
    pending_size = 0
    loop = asyncio.get_running_loop()
    started = 0.0  # when the first piece of ``pending`` arrived
    # The step a worker thread is parsing, encrypting and writing while the event loop
    # receives the next one. At most one is in flight, so the parser is never used by two
    # threads at once and memory stays at two steps per upload.
    in_flight: asyncio.Future[None] | None = None

    def parse(pieces: list[bytes]) -> None:
        for piece in pieces:  # piece by piece: joining them would copy every byte once more
            parser.write(piece)
        # What was sealed goes to the store now: a slow sender's chunks do not wait in
        # memory for a write block that would take them minutes to fill.
        receiver.flush()

    def refused() -> ServiceError | None:
        if receiver.refusal is not None and on_refusal is not None:
            on_refusal(
                ReceivedForm(dict(receiver.fields), [], list(receiver.chosen), list(receiver.pairs))
            )
        return receiver.refusal

    def finish(rest: list[bytes]) -> Any:
        parse(rest)
        parser.finalize()
        if receiver.parts == 0 or receiver.part.upload is not None:
            raise InvalidInput("The upload could not be read. Please try again.")
        if (error := refused()) is not None:
            raise error
        return complete(
            ReceivedForm(receiver.fields, receiver.files, receiver.chosen, receiver.pairs)
        )

    after_refusal = 0  # bytes received since the form was refused
    body = _Body(stream)
    try:
        # Past SLOW_BATCH, a pause of BATCH_WAIT seals what arrived: a sender that stops
        # after a burst leaves no step waiting in memory for a piece that may never come.
        while (
            piece := await body.next(BATCH_WAIT if pending_size >= SLOW_BATCH else None)
        ) is not None:
            if isinstance(piece, bytes):
                if not pending:
                    started = loop.time()
                pending.append(piece)
                pending_size += len(piece)
                if receiver.refusal is not None:
                    after_refusal += len(piece)
                    if after_refusal > DRAIN_LIMIT:  # what the form's text holds came long ago
                        if in_flight is not None:
                            await in_flight
                        error = await anyio.to_thread.run_sync(refused)
                        assert error is not None  # noqa: S101 - refused above
                        raise error
            # A text submission (under SLOW_BATCH) is parsed whole, in the one step that
            # ends the form. A crawling sender's pieces go through a chunk's worth at a time.
            if pending_size >= BATCH_BYTES or (
                pending_size >= SLOW_BATCH
                and (piece is PAUSED or loop.time() - started >= BATCH_WAIT)
            ):
                batch, pending, pending_size = pending, [], 0
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.ensure_future(anyio.to_thread.run_sync(parse, batch))
        if in_flight is not None:
            await in_flight
            in_flight = None
        result = await anyio.to_thread.run_sync(finish, pending)
    except BaseException as exc:
        if not isinstance(exc, (FormParserError, InvalidInput, TooLarge)):
            body.cancel()
        elif not await body.settle():
            raise
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


class _Paused:
    """What :meth:`_Body.next` gives when the sender has paused."""


PAUSED: Final = _Paused()


class _Body:
    """A request body read piece by piece, noticing when its sender pauses.

    A read that a pause interrupted goes on in the background and gives its piece to the
    next call, so no byte is lost and the stream is never read by two tasks at once.
    """

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self._stream = stream
        self._reading: asyncio.Future[bytes | None] | None = None

    async def _read(self) -> bytes | None:
        try:
            return await anext(self._stream)
        except StopAsyncIteration:
            return None

    async def next(self, pause: float | None) -> bytes | _Paused | None:
        """The next piece (None at the end), or PAUSED if none came within ``pause``."""
        if self._reading is None:
            if pause is None:  # the common case, without a task per piece
                return await self._read()
            self._reading = asyncio.ensure_future(self._read())
        if pause is not None:
            done, _ = await asyncio.wait({self._reading}, timeout=pause)
            if not done:
                return PAUSED
        reading, self._reading = self._reading, None
        return await reading

    async def settle(self) -> bool:
        """Wait for a read in progress to end (its piece is dropped), so that the rest of
        the stream can be drained; False if this task is cancelled first."""
        if self._reading is None:
            return True
        reading, self._reading = self._reading, None
        return await _settled(reading)

    def cancel(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None


async def _settled(work: asyncio.Future[Any]) -> bool:
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
