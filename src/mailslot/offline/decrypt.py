"""Decrypt an export bundle with an offline key into a folder, verifying every item.

Runs without a database, a data directory or a network. Each output file is written as
``NAME.partial`` and renamed to ``NAME`` only after the item's last chunk has authenticated;
a damaged item leaves no file behind. What the key cannot open (a case not addressed to it) is
reported and skipped; what fails verification is reported as damage.
"""

from __future__ import annotations

import datetime
import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from mailslot import crypto
from mailslot.cases.meta import open_item_meta
from mailslot.errors import MailslotError
from mailslot.filenames import OutputNames
from mailslot.offline.bundle import BundleReader, CaseRecord, ItemEntry, ItemRecord
from mailslot.sizes import human_size

INDEX_NAME: Final = "conversation.txt"
TEXT_KINDS: Final = frozenset({"message", "reply", "note"})
_WRITE_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


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


@dataclass
class CaseOutcome:
    record: CaseRecord
    folder: Path | None = None
    items: list[ItemOutcome] = field(default_factory=list)
    problem: str | None = None


@dataclass
class Report:
    cases: list[CaseOutcome] = field(default_factory=list)
    damaged: bool = False

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
        return count + (1 if self.damaged else 0)

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


def _write_verified(folder: Path, name: str, chunks: Iterator[bytes]) -> int:
    """Write ``chunks`` to ``name.partial`` and rename it to ``name`` once all have been read
    (the last one is yielded only after the stream authenticated). On any error the partial
    file is removed and the error propagates."""
    partial = folder / (name + ".partial")
    fd = os.open(partial, _WRITE_FLAGS, 0o600)
    written = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                written += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(partial, folder / name)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def _bundle_stream(entry: ItemEntry) -> Iterator[bytes]:
    """The item's ciphertext; a bundle that ends inside it is damage to the whole bundle."""
    try:
        yield from entry.stream()
    except crypto.DecryptionError:
        raise BundleDamaged() from None


class _Decryptor:
    def __init__(
        self, key: crypto.KeyPair, out_dir: Path, echo: Callable[[str], None], now: int
    ) -> None:
        self.key = key
        self.fingerprint = crypto.key_fingerprint(key.public_key)
        self.out_dir = out_dir
        self.echo = echo
        self.now = now
        self.report = Report()
        self.folders = OutputNames()
        self.case: CaseOutcome | None = None
        self.case_key: crypto.KeyPair | None = None
        self.names = OutputNames()

    def start_case(self, record: CaseRecord) -> None:
        self.finish_case()
        outcome = CaseOutcome(record)
        self.case, self.case_key = outcome, None
        self.report.cases.append(outcome)
        wrap = record.wrap_for(self.fingerprint)
        if wrap is None:
            self.echo(f"Case {record.pseudonym}: not addressed to this key; skipped.")
            return
        try:
            seed = self.key.unwrap(wrap.wrapped, crypto.WrapPurpose.CASE_KEY, record.id)
            case_key = crypto.KeyPair.from_seed(seed)
            crypto.verify(case_key.public_key, record.public_key)
        except crypto.DecryptionError:
            outcome.problem = "its key could not be opened (damaged or altered)"
            self.echo(f"Case {record.pseudonym}: DAMAGED: {outcome.problem}.")
            return
        folder = self.out_dir / self.folders.take(record.pseudonym, fallback="case")
        folder.mkdir(mode=0o700)
        outcome.folder, self.case_key = folder, case_key
        self.names = OutputNames()
        self.names.reserve(INDEX_NAME)

    def item(self, entry: ItemEntry) -> None:
        case = self.case
        if case is None or self.case_key is None or case.folder is None:
            return  # the stream is skipped by the reader
        record = entry.record
        outcome = ItemOutcome(record, time=record.created_at)
        case.items.append(outcome)
        try:
            data_key = self.case_key.unwrap(record.wrap, crypto.WrapPurpose.ITEM_KEY, record.id)
            meta = open_item_meta(record.id, data_key, record.sealed_meta)
        except crypto.DecryptionError:
            outcome.problem = "its key or description could not be opened (damaged or altered)"
            self.echo(f"Case {case.record.pseudonym}, item {record.position}: DAMAGED.")
            return
        outcome.time = meta.get("time", record.created_at)
        if record.kind in TEXT_KINDS:
            name = self.names.take(f"{record.position:03d}-{record.kind}.txt")
        else:
            original = meta.get("filename", "")
            outcome.original_name = original
            name = self.names.take(original, fallback=f"{record.position:03d}-file")
        try:
            written = _write_verified(
                case.folder,
                name,
                crypto.open_item_stream(record.id, data_key, _bundle_stream(entry)),
            )
        except BundleDamaged:
            outcome.problem = "the bundle is damaged or ends inside it; not written"
            raise
        except crypto.DecryptionError:
            outcome.problem = "its content failed verification (damaged or altered); not written"
            self.echo(f"Case {case.record.pseudonym}, item {record.position}: DAMAGED: {name}.")
            return
        expected = meta.get("size")
        if expected is not None and expected != written:
            (case.folder / name).unlink()
            outcome.problem = "its size does not match its description; not written"
            self.echo(f"Case {case.record.pseudonym}, item {record.position}: DAMAGED: {name}.")
            return
        outcome.filename, outcome.size = name, written

    def finish_case(self) -> None:
        case = self.case
        if case is None or case.folder is None:
            return
        self.case = None
        lines = _index(case, self.fingerprint, self.now)
        _write_verified(case.folder, INDEX_NAME, iter([lines.encode()]))
        _fsync_dir(case.folder)
        ok = sum(1 for i in case.items if i.problem is None)
        self.echo(f"Case {case.record.pseudonym}: {ok} of {len(case.items)} items in {case.folder}")


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
) -> Report:
    """Decrypt everything in the bundle that ``key`` can open into ``out_dir`` (which must
    exist and be empty). Never raises for damage: it is counted in the returned report."""
    work = _Decryptor(key, out_dir, echo, now)
    try:
        for entry in BundleReader(source):
            if isinstance(entry, CaseRecord):
                work.start_case(entry)
            else:
                work.item(entry)
    except (crypto.DecryptionError, BundleDamaged):
        work.report.damaged = True
        echo("The bundle is damaged, altered or incomplete; reading stopped there.")
    work.finish_case()
    return work.report
