"""Streaming ``multipart/form-data`` for submissions: each file is encrypted chunk by chunk as
it arrives and written to the blob store; nothing is spooled, no file is ever whole in memory.

Parsing, encryption and writing run in a worker thread per batch of network chunks, so slow
uploads occupy no thread while they wait for the network and never block the event loop.
The parser's callbacks (fields, files, refusals) are in :mod:`mailslot.web.form_receiver`;
this module reads the body, batches it and runs the parser.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, overload

import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from mailslot.errors import InvalidInput, ServiceError, TooLarge
from mailslot.sizes import human_size
from mailslot.storage import BlobStore
from mailslot.web.form_receiver import FormReceiver, Limits, UploadedFile

T = TypeVar("T")

# After a refusal, read (and discard) at most this much more so the browser sees our page.
DRAIN_LIMIT: Final = 64 * 1024 * 1024
# Network pieces are gathered into steps before parsing and encryption (see receive_form): a
# fast sender's up to BATCH_BYTES (fewer thread hops), a slow sender's up to SLOW_BATCH (one
# sealed chunk), and no step waits longer than BATCH_WAIT once it holds SLOW_BATCH. So what a
# connection holds grows with its speed, not with the size of what it sends.
BATCH_BYTES: Final = 2 * 1024 * 1024
SLOW_BATCH: Final = 64 * 1024
BATCH_WAIT: Final = 0.05


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
    receiver = FormReceiver(blobs, limits, check_csrf, refusal)
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
