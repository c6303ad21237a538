"""Decrypt an export bundle with an offline key into a folder, verifying every item.

Runs without a database, a data directory or a network. Each output file is written under a
temporary name and renamed to its own only after the item's last chunk has authenticated; a
damaged item leaves no file behind. What the key cannot open (a case not addressed to it) is
reported and skipped; what fails verification is reported as damage.

File names come from sources (and folder names from the unsigned bundle), so none of them may
stop the run: temporary names start with a dot, which no output name does; the tool's own names
(``conversation.txt``, ``001-message.txt`` …) are never given to a source's file; nothing is ever
replaced; and an item or case that cannot be written is reported and the run goes on.

A sealed drop (a file flagged so when it arrived) is written as it was sent, then opened with
the drop keys of the bundle that are wrapped to this key: its note and files go into a folder
``NAME.contents`` next to it (``note.txt``, ``files/…``), as in the staff's zip. A drop that
none of them opens is "sealed to a key this channel does not hold", which is reported and is
not a failure.

With ``inspect``, each file gets a report of what it reveals (``mailslot inspect --json`` for
that one file) written next to it as ``NAME.inspect.json``, made in the document sandbox. That
ending is the tool's: a source's file whose name ends so is written as ``…_inspect.json``, so
no file a source sent can pass for a report.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from mailslot import crypto, drops
from mailslot.cases.meta import open_item_meta
from mailslot.documents import sandbox
from mailslot.drops.contents import FILES_DIR, NOTE_NAME
from mailslot.errors import MailslotError
from mailslot.filenames import OutputNames, output_filename
from mailslot.i18n import N_, LazyText, N_plural
from mailslot.offline.bundle import (
    BundleReader,
    CaseRecord,
    CaseWrap,
    DropKeyRecord,
    ItemEntry,
    ItemRecord,
    PastWrap,
)
from mailslot.sizes import human_size

INDEX_NAME: Final = "conversation.txt"
TEXT_KINDS: Final = frozenset({"message", "reply", "note"})
# The names this tool gives its own files in a case folder, with or without a " (2)": a source's
# file name of this form is written as "_NAME" instead (filenames.OutputNames).
OWN_NAMES: Final = re.compile(
    r"(?:conversation|\d+-(?:message|reply|note))(?: \(\d+\))?\.txt|\d+-file(?: \(\d+\))?",
    re.IGNORECASE,
)
# Output names never start with a dot (filenames.output_filename), so no name in a bundle can
# collide with a temporary file.
TEMP_PREFIX: Final = ".mailslot-"
TEMP_SUFFIX: Final = ".partial"
# The ending of the inspection reports (``--inspect``), never left on a source's file name.
REPORT_SUFFIX: Final = ".inspect.json"
# A sealed drop's contents go into NAME + this, as in the staff's zip.
CONTENTS_SUFFIX: Final = ".contents"
NOT_HELD: Final = LazyText(N_("sealed to a key this channel does not hold"))
# The progress lines (``echo``) are LazyText: English for any caller, in the operator's language
# where ``mailslot decrypt`` prints them; the problems also go, in English, into the index file.
NOT_WRITTEN: Final = N_("Case %(case)s: NOT WRITTEN: %(problem)s.")
ITEM_DAMAGED: Final = N_("Case %(case)s, item %(item)s: DAMAGED: %(name)s.")
ITEM_NOT_WRITTEN: Final = N_("Case %(case)s, item %(item)s: NOT WRITTEN: %(problem)s.")
TAR_BLOCK: Final = 512
PIECE: Final = 1 << 20


class BundleDamaged(MailslotError):
    """The bundle's framing is broken: nothing after this point can be read."""


@dataclass
class ItemOutcome:
    record: ItemRecord
    time: int
    size: int | None = None
    filename: str | None = None
    original_name: str | None = None
    problem: str | None = None
    write_error: bool = False  # the problem is the output folder's, not the bundle's
    report: str | None = None  # the inspection report's file name (``--inspect``)
    report_problem: str | None = None  # why it could not be written
    drop_folder: str | None = None  # a sealed drop's contents folder, once opened
    drop_problem: str | None = None  # why a sealed drop was not (wholly) opened
    drop_failed: bool = False  # ``drop_problem`` is damage or a write error, not NOT_HELD


@dataclass
class CaseOutcome:
    record: CaseRecord
    folder: Path | None = None
    items: list[ItemOutcome] = field(default_factory=list)
    problem: str | None = None
    write_error: bool = False


@dataclass
class Report:
    cases: list[CaseOutcome] = field(default_factory=list)
    damaged: bool = False
    bad_drop_keys: int = 0  # drop keys wrapped to this key that did not open

    @property
    def opened(self) -> list[CaseOutcome]:
        return [c for c in self.cases if c.folder is not None]

    @property
    def skipped(self) -> list[CaseOutcome]:
        return [c for c in self.cases if c.folder is None and c.problem is None]

    @property
    def failures(self) -> int:
        count = sum(1 for c in self.cases if c.problem is not None)
        count += sum(1 for c in self.cases for i in c.items if i.problem is not None)
        count += sum(1 for c in self.cases for i in c.items if i.report_problem)
        count += sum(1 for c in self.cases for i in c.items if i.drop_failed)
        return count + self.bad_drop_keys + (1 if self.damaged else 0)

    @property
    def write_errors(self) -> int:
        """Failures to write to the output folder (a full disk, a refused name), not damage."""
        count = sum(1 for c in self.cases if c.write_error)
        count += sum(1 for c in self.cases for i in c.items if i.report_problem)
        return count + sum(1 for c in self.cases for i in c.items if i.write_error)

    @property
    def files(self) -> int:
        return sum(1 for c in self.cases for i in c.items if i.filename and not i.problem)


def check_output_dir(out_dir: Path) -> None:
    """Refuse an output folder that exists and is not empty (or is not a plain folder)."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise FileExistsError(f"{out_dir} exists and is not a folder.")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty.")


def _utc(timestamp: int) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return "?"
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _size(n: int | None) -> str:
    return "-" if n is None else human_size(n)


def _visible(text: str) -> str:
    """A name as it may be shown in the index: control and direction characters escaped."""
    return "".join(
        ch
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
        else f"\\u{ord(ch):04x}"
        for ch in text
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _write_verified(folder: Path, name: str, chunks: Iterator[bytes]) -> int:
    """Write ``chunks`` to a new temporary file (``.mailslot-XXXXXXXX.partial``, private) and
    rename it to ``name`` once all have been read (the last one is yielded only after the stream
    authenticated). An existing ``name`` is never replaced. On any error the temporary file is
    removed and the error propagates."""
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
    partial = Path(temp)
    written = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                written += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        target = folder / name
        # Names are distinct ignoring case, but the file system has the last word (and rename
        # would silently replace a file).
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target))
        os.rename(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def _bundle_stream(entry: ItemEntry) -> Iterator[bytes]:
    """The item's ciphertext; a bundle that ends inside it is damage to the whole bundle."""
    try:
        yield from entry.stream()
    except (crypto.DecryptionError, OSError):
        raise BundleDamaged() from None


def not_a_report_name(raw: str) -> str:
    """A source's file name, changed if it would end like an inspection report's."""
    name = output_filename(raw, fallback="")
    if name.casefold().endswith(REPORT_SUFFIX):
        return name[: -len(REPORT_SUFFIX)] + "_inspect.json"
    return raw


class _Decryptor:
    def __init__(
        self,
        key: crypto.KeyPair,
        out_dir: Path,
        echo: Callable[[str], None],
        now: int,
        inspect: sandbox.Limits | None,
    ) -> None:
        self.key = key
        self.inspect = inspect
        self.fingerprint = crypto.key_fingerprint(key.public_key)
        self.out_dir = out_dir
        self.echo = echo
        self.now = now
        self.report = Report()
        self.folders = OutputNames()
        self.case: CaseOutcome | None = None
        # Every version of the current case's key this recipient holds (see bundle.py).
        self.case_keys: dict[int, crypto.KeyPair] | None = None
        self.names = OutputNames(OWN_NAMES)
        # The drop keys of the bundle wrapped to this key (version 3 bundles).
        self.identities: list[drops.PqIdentity] = []

    def drop_key(self, record: DropKeyRecord) -> None:
        wrap = record.wrap_for(self.fingerprint)
        if wrap is None:
            return
        try:
            seed = self.key.unwrap(wrap.wrapped, crypto.WrapPurpose.DROP_KEY, record.id)
        except crypto.DecryptionError:
            self.report.bad_drop_keys += 1
            self.echo(
                LazyText(
                    N_("Drop key %(id)s: DAMAGED: it could not be opened."), id=record.id.hex()
                )
            )
            return
        self.identities.append(drops.DropKeyPair(seed).identity)

    def _case_key(
        self, record: CaseRecord, version: int, wrap: CaseWrap | PastWrap
    ) -> crypto.KeyPair:
        context = crypto.case_key_context(record.id, version)
        return crypto.KeyPair.from_seed(
            self.key.unwrap(wrap.wrapped, crypto.WrapPurpose.CASE_KEY, context)
        )

    def start_case(self, record: CaseRecord) -> None:
        self.finish_case()
        outcome = CaseOutcome(record)
        self.case, self.case_keys = outcome, None
        self.report.cases.append(outcome)
        wrap = record.wrap_for(self.fingerprint)
        if wrap is None:
            self.echo(
                LazyText(
                    N_("Case %(case)s: not addressed to this key; skipped."), case=record.pseudonym
                )
            )
            return
        try:
            case_keys = {record.key_version: self._case_key(record, record.key_version, wrap)}
            crypto.verify(case_keys[record.key_version].public_key, record.public_key)
            for past in record.past_wraps_for(self.fingerprint):
                case_keys[past.version] = self._case_key(record, past.version, past)
        except crypto.DecryptionError:
            outcome.problem = LazyText(N_("its key could not be opened (damaged or altered)"))
            self.echo(
                _case_line(N_("Case %(case)s: DAMAGED: %(problem)s."), record, outcome.problem)
            )
            return
        folder = self.out_dir / self.folders.take(record.pseudonym, fallback="case")
        try:
            folder.mkdir(mode=0o700)
        except OSError as exc:
            outcome.problem = LazyText(
                N_("its folder could not be created (%(reason)s); not written"), reason=_reason(exc)
            )
            outcome.write_error = True
            self.echo(_case_line(NOT_WRITTEN, record, outcome.problem))
            return
        outcome.folder, self.case_keys = folder, case_keys
        self.names = OutputNames(OWN_NAMES)
        self.names.reserve(INDEX_NAME)

    def item(self, entry: ItemEntry) -> None:
        case = self.case
        if case is None or self.case_keys is None or case.folder is None:
            return  # the stream is skipped by the reader
        record = entry.record
        outcome = ItemOutcome(record, time=record.created_at)
        case.items.append(outcome)
        try:
            case_key = self.case_keys.get(record.key_version)
            if case_key is None:  # a version this recipient was never given
                raise crypto.DecryptionError()
            data_key = case_key.unwrap(record.wrap, crypto.WrapPurpose.ITEM_KEY, record.id)
            meta = open_item_meta(record.id, data_key, record.sealed_meta)
        except crypto.DecryptionError:
            outcome.problem = LazyText(
                N_("its key or description could not be opened (damaged or altered)")
            )
            self.echo(_item_line(N_("Case %(case)s, item %(item)s: DAMAGED."), case, record))
            return
        outcome.time = meta.get("time", record.created_at)
        if record.kind in TEXT_KINDS:
            name = self.names.take_own(f"{record.position:03d}-{record.kind}.txt")
        else:
            original = meta.get("filename", "")
            outcome.original_name = original
            raw = not_a_report_name(original) if self.inspect is not None else original
            name = self.names.take(raw, fallback=f"{record.position:03d}-file")
        try:
            written = _write_verified(
                case.folder,
                name,
                crypto.open_item_stream(record.id, data_key, _bundle_stream(entry)),
            )
        except BundleDamaged:
            outcome.problem = LazyText(N_("the bundle is damaged or ends inside it; not written"))
            raise
        except crypto.DecryptionError:
            outcome.problem = LazyText(
                N_("its content failed verification (damaged or altered); not written")
            )
            self.echo(_item_line(ITEM_DAMAGED, case, record, name=name))
            return
        except OSError as exc:
            outcome.problem = LazyText(
                N_("it could not be written as %(name)s (%(reason)s)"),
                name=name,
                reason=_reason(exc),
            )
            outcome.write_error = True
            self.echo(_item_line(ITEM_NOT_WRITTEN, case, record, problem=outcome.problem))
            return
        expected = meta.get("size")
        if expected is not None and expected != written:
            (case.folder / name).unlink()
            outcome.problem = LazyText(N_("its size does not match its description; not written"))
            self.echo(_item_line(ITEM_DAMAGED, case, record, name=name))
            return
        outcome.filename, outcome.size = name, written
        if self.inspect is not None and record.kind not in TEXT_KINDS:
            self._inspect(case, outcome, name, self.inspect)
        if record.kind == "file" and meta.get("drop", False):
            self._open_drop(case, outcome, name)

    def _open_drop(self, case: CaseOutcome, outcome: ItemOutcome, name: str) -> None:
        """Open the sealed drop just written as ``name`` into ``NAME.contents``."""
        assert case.folder is not None  # noqa: S101 - only called for a written file
        folder_name = self.names.take_own(name + CONTENTS_SUFFIX)
        try:
            with (case.folder / name).open("rb") as handle:
                reader = drops.DropReader(self.identities, handle.read)
                folder = case.folder / folder_name
                folder.mkdir(mode=0o700)
                outcome.drop_folder = folder_name
                _write_drop(folder, reader, name)
        except drops.NoMatchingKey:
            outcome.drop_problem = NOT_HELD
            self.echo(
                _item_line(
                    N_("Case %(case)s, item %(item)s: %(name)s is %(problem)s."),
                    case,
                    outcome.record,
                    name=name,
                    problem=NOT_HELD,
                )
            )
        except drops.DropError:
            outcome.drop_problem = LazyText(N_("the drop is damaged or not complete"))
            outcome.drop_failed = True
            line = N_("Case %(case)s, item %(item)s: DAMAGED: the sealed drop %(name)s.")
            self.echo(_item_line(line, case, outcome.record, name=name))
        except OSError as exc:
            outcome.drop_problem = LazyText(
                N_("its contents could not be written (%(reason)s)"), reason=_reason(exc)
            )
            outcome.drop_failed = outcome.write_error = True
            self.echo(
                _item_line(ITEM_NOT_WRITTEN, case, outcome.record, problem=outcome.drop_problem)
            )

    def _inspect(
        self, case: CaseOutcome, outcome: ItemOutcome, name: str, limits: sandbox.Limits
    ) -> None:
        """Write ``NAME.inspect.json`` next to the file just written (read back from it)."""
        assert case.folder is not None  # noqa: S101 - only called for a written file
        report_name = name + REPORT_SUFFIX
        self.names.reserve(report_name)
        try:
            with (case.folder / name).open("rb") as handle:
                data = handle.read(limits.max_input + 1)
            if len(data) > limits.max_input:
                inspection = sandbox.failed(name, "unknown", sandbox.Failure.TOO_LARGE)
            else:
                inspection = sandbox.inspect(data, name, limits=limits)
            text = json.dumps([inspection.report.to_json()], ensure_ascii=False, indent=2)
            _write_verified(case.folder, report_name, iter([text.encode() + b"\n"]))
        except OSError as exc:
            outcome.report_problem = LazyText(
                N_("%(name)s could not be written (%(reason)s)"),
                name=report_name,
                reason=_reason(exc),
            )
            self.echo(
                _item_line(ITEM_NOT_WRITTEN, case, outcome.record, problem=outcome.report_problem)
            )
            return
        outcome.report = report_name

    def finish_case(self) -> None:
        case = self.case
        if case is None or case.folder is None:
            return
        self.case = None
        lines = _index(case, self.fingerprint, self.now)
        try:
            _write_verified(case.folder, INDEX_NAME, iter([lines.encode()]))
            _fsync_dir(case.folder)
        except OSError as exc:
            case.problem = LazyText(
                N_("its index %(name)s could not be written (%(reason)s)"),
                name=INDEX_NAME,
                reason=_reason(exc),
            )
            case.write_error = True
            self.echo(_case_line(NOT_WRITTEN, case.record, case.problem))
        ok = sum(1 for i in case.items if i.problem is None)
        self.echo(
            LazyText(
                *N_plural(
                    "Case %(case)s: %(ok)s of %(num)s item in %(folder)s",
                    "Case %(case)s: %(ok)s of %(num)s items in %(folder)s",
                ),
                case=case.record.pseudonym,
                ok=ok,
                num=len(case.items),
                folder=case.folder,
            )
        )


def _case_line(line: str, record: CaseRecord, problem: str | None) -> LazyText:
    return LazyText(line, case=record.pseudonym, problem=problem)


def _item_line(line: str, case: CaseOutcome, record: ItemRecord, **params: object) -> LazyText:
    return LazyText(line, case=case.record.pseudonym, item=record.position, **params)


class _Replay:
    """A reader that gives back ``head`` before the rest of ``reader``."""

    def __init__(self, head: bytes, reader: drops.DropReader) -> None:
        self._head = head
        self._reader = reader

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            return self._reader.read(n)
        if n < 0:
            out, self._head = self._head + self._reader.read(), b""
        else:
            out, self._head = self._head[:n], self._head[n:]
        return out


def _pieces(read: Callable[[int], bytes]) -> Iterator[bytes]:
    while piece := read(PIECE):
        yield piece


def _write_drop(folder: Path, reader: drops.DropReader, sealed_name: str) -> None:
    """A drop's note and files into ``folder`` (a tar made by ``mailslot seal``), or the one
    file a plain ``age`` tool sealed, named after the sealed file without ``.age``. Each file
    is renamed to its own name only once read to its end; the age payload authenticates each
    piece before it is given out."""
    head = reader.read(TAR_BLOCK)
    replay = _Replay(head, reader)
    if len(head) < TAR_BLOCK or not drops.looks_like_tar(head):
        single = sealed_name[:-4] if sealed_name.lower().endswith(".age") else sealed_name
        _write_verified(folder, output_filename(single, fallback="drop"), _pieces(replay.read))
        return
    files: Path | None = None
    names = OutputNames()  # in ``files/``: a tar may hold a name twice
    for entry in drops.read_drop(replay):
        if entry.is_note:
            _write_verified(folder, NOTE_NAME, _pieces(entry.stream.read))
            continue
        if files is None:
            files = folder / FILES_DIR
            files.mkdir(mode=0o700)
        _write_verified(files, names.take(entry.name), _pieces(entry.stream.read))


def _index(case: CaseOutcome, fingerprint: bytes, now: int) -> str:
    record = case.record
    lines = [
        f"Case: {record.pseudonym}",
        f"Case id: {record.id.hex()}",
        f"Opened: {_utc(record.created_at)} (to the hour)",
        f"Decrypted: {_utc(now)} with key {crypto.format_fingerprint(fingerprint)}",
        "",
        "Items in order. Times are when the server received each item.",
        "",
        f"{'#':>5}  {'kind':<7}  {'received':<20}  {'size':>10}  file",
    ]
    missing = record.items - len(case.items)
    for item in case.items:
        r = item.record
        name = f"NOT WRITTEN: {item.problem}" if item.problem else (item.filename or "")
        if item.original_name is not None and item.original_name != item.filename:
            name += f'  (sent as "{_visible(item.original_name)}")'
        if item.report is not None:
            name += f"  (report: {item.report})"
        elif item.report_problem is not None:
            name += f"  (NO REPORT: {item.report_problem})"
        if item.drop_problem is not None:
            name += f"  (sealed drop: {item.drop_problem})"
        elif item.drop_folder is not None:
            name += f"  (sealed drop, opened in {item.drop_folder})"
        size = _size(item.size)
        lines.append(f"{r.position:>5}  {r.kind:<7}  {_utc(item.time):<20}  {size:>10}  {name}")
    if missing > 0:
        lines.append(f"{missing} more items were not read: the bundle ended early or is damaged.")
    return "\n".join(lines) + "\n"


def decrypt_bundle(
    source: IO[bytes],
    key: crypto.KeyPair,
    out_dir: Path,
    *,
    echo: Callable[[str], None],
    now: int,
    inspect: sandbox.Limits | None = None,
) -> Report:
    """Decrypt everything in the bundle that ``key`` can open into ``out_dir`` (which must
    exist and be empty). Never raises for damage, nor for an item or case that cannot be
    written: each is counted in the returned report, and the rest is still decrypted.
    ``inspect``: write each file's inspection report next to it, with these sandbox limits."""
    work = _Decryptor(key, out_dir, echo, now, inspect)
    try:
        for entry in BundleReader(source):
            if isinstance(entry, DropKeyRecord):
                work.drop_key(entry)
            elif isinstance(entry, CaseRecord):
                work.start_case(entry)
            else:
                work.item(entry)
    except (crypto.DecryptionError, BundleDamaged, OSError):
        # Writing errors are handled where they happen: an OSError here is from reading.
        work.report.damaged = True
        echo(LazyText(N_("The bundle is damaged, altered or incomplete; reading stopped there.")))
    work.finish_case()
    return work.report
