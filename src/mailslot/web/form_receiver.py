"""The multipart parser's callbacks for a submission's form: each part's headers, its text
kept (up to ``MAX_FIELD_BYTES``), a file's bytes sealed into an ``ItemUpload`` as they arrive,
and refusals that stop storing but keep reading the text. :mod:`mailslot.web.uploads` feeds
it the request body in batches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from python_multipart.multipart import parse_options_header

from mailslot.cases.sealing import ItemUpload
from mailslot.errors import InvalidInput, ServiceError, TooLarge
from mailslot.filenames import safe_filename
from mailslot.i18n import N_plural
from mailslot.sizes import human_size
from mailslot.storage import BlobStore

MAX_FIELDS: Final = 20
MAX_FIELD_BYTES: Final = 1024 * 1024
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
class FormPart:
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)
    upload: ItemUpload | None = None
    discard: bool = False  # a file part of a refused form: its bytes are dropped


class FormReceiver:
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
        self.part = FormPart()
        self.parts = 0
        self.total = 0
        self.headers: dict[bytes, bytes] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()

    # Header callbacks.

    def on_part_begin(self) -> None:
        self.part = FormPart()
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
