#!/usr/bin/env python3
"""Play the adversary who seized a Mailslot server at rest, and report what they learn.

The adversary holds a copy of the data directory and of the database, and the Mailslot source
code (it is public). They hold no recipient password, recovery key, offline key file, session
cookie or codename. This script reads everything such a person can read, classifies every table
column and every file by what its bytes look like (not by what the code says they are), derives
what the clear parts reveal, and tries the attacks that person would try:

- guessing staff passwords from a small dictionary under each account's stored Argon2id cost,
  and, for any password found, opening the key, the cases and the items it unlocks;
- opening sealed sessions (they need the token held by the browser);
- guessing codenames and recovery keys (bounded and hopeless by design, but tried);
- reading the raw bytes of every file, including SQLite free pages, the unused space inside
  pages and the write-ahead log, for readable text and for key wraps that are no longer live;
- recovering the order in which rows were written (SQLite's rowid counts up with each
  insert), and the times and emptiness of the blob directories.

It never writes into the data directory: the database is copied to a scratch directory first,
because opening an SQLite file with a WAL next to it can checkpoint and delete that WAL.

Usage::

    python tools/adversary.py --data-dir DIR [--database-url URL] [--json]

With ``--json`` it prints the full report as one JSON object; otherwise a readable summary.
The column classes match the "Form" column of docs/threat-model.md:

- ``clear``: readable as stored (text, numbers, flags, times, ids that link rows);
- ``random``: salts, digests and KDF outputs, indistinguishable from random bytes;
- ``public key``: an ``MSLK`` hybrid public key, or a WebAuthn (COSE) public key;
- ``sealed``: ciphertext in one of Mailslot's formats (``MSLW``, ``MSLP``, ``MSLM``, ``MSLS``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import re
import shutil
import stat
import struct
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
from sqlalchemy import Boolean, MetaData, create_engine, select
from sqlalchemy.engine import make_url

from mailslot import crypto

DB_NAME = "mailslot.sqlite3"
# The host registry (docs/hosting.md): organisations, their hosts and quotas; no case data.
REGISTRY_NAME = "host.sqlite3"
MARKERS: dict[bytes, str] = {
    b"MSLK\x01": "MSLK",
    b"MSLW\x01": "MSLW",
    b"MSLP\x01": "MSLP",
    b"MSLM\x01": "MSLM",
    b"MSLS\x01": "MSLS",
    b"MSLI\x01": "MSLI",
    b"MSLR\x01": "MSLR",
    b"MSLB\x01": "MSLB",
}
SEALED_FORMATS = {
    "MSLW": "HPKE key wrap",
    "MSLP": "symmetric secret wrap",
    "MSLM": "sealed item metadata",
    "MSLS": "sealed session data",
    "MSLI": "item stream",
    "MSLR": "key file",
    "MSLB": "export bundle",
}
# Formats of fixed length: a stale copy can be cut out of raw bytes and compared.
FIXED_LENGTH = {"MSLW": 1173, "MSLP": 65, "MSLK": 1221}
# A WebAuthn public key is a CBOR map that starts with its key type (1): EC2, OKP or RSA.
COSE_KEY_PREFIXES = (b"\xa5\x01\x02", b"\xa4\x01\x01", b"\xa4\x01\x03")
HEX32 = re.compile(r"[0-9a-f]{32}")
HEX64 = re.compile(r"[0-9a-f]{64}")
ID_LIST = re.compile(r"[0-9a-f]{32}(,[0-9a-f]{32})*")
BASE32_SECRET = re.compile(r"[A-Z2-7]{16,128}")
KDF_COST = re.compile(r"argon2id\$m=\d+,t=\d+,p=\d+")
EPOCH_RANGE = range(1_000_000_000, 5_000_000_000)
MIN_STRING = 8
MAX_STRINGS = 400
SQLITE_MAGIC = b"SQLite format 3\x00"
WAL_MAGICS = (0x377F0682, 0x377F0683)

# What a seizer tries first. Small on purpose: this proves the attack runs, it is not a cracker.
COMMON_PASSWORDS = (
    "",
    "password",
    "Password1",
    "Password1!",
    "password123",
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty",
    "qwertyuiop",
    "letmein",
    "iloveyou",
    "admin",
    "admin123",
    "welcome",
    "welcome1",
    "changeme",
    "secret",
    "monkey",
    "dragon",
    "football",
    "sunshine",
    "trustno1",
    "mailslot",
    "mailslot123",
    "correct horse battery staple",
    "correcthorsebatterystaple",
    "Tr0ub4dor&3",
    "journalist",
    "newsroom",
    "whistleblower",
    "summer2026",
    "winter2026",
)
USER_VARIANTS = ("{u}", "{u}123", "{u}2026", "{u}!", "{U}", "{U}123!", "{u}{u}")


# Reading the database.


@dataclass
class Column:
    name: str
    boolean: bool
    declared: str


@dataclass
class Table:
    name: str
    columns: list[Column]
    rows: list[dict[str, Any]]


def read_database(url: str) -> dict[str, Table]:
    """Every table, every column, every row, through SQL (the schema is read from the file)."""
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        tables: dict[str, Table] = {}
        with engine.connect() as conn:
            for name, table in sorted(metadata.tables.items()):
                columns = [
                    Column(c.name, isinstance(c.type, Boolean), str(c.type)) for c in table.columns
                ]
                rows = [dict(row._mapping) for row in conn.execute(select(table))]
                tables[name] = Table(name, columns, rows)
        return tables
    finally:
        engine.dispose()


def insertion_order(url: str) -> dict[str, int]:
    """The tables whose rows can be put in the order they were written, through SQLite's
    rowid (a hidden counter every table has unless it is ``WITHOUT ROWID``), with how many
    rows each orders. Gaps in the counter would also show deletions."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                return {}
            schema = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL"
            ).all()
            ordered = {}
            for name, sql in schema:
                if "WITHOUT ROWID" in sql.upper():
                    continue
                quoted = name.replace('"', '""')
                # S608: a table name from the file's own schema, quoted as an identifier.
                statement = f'SELECT count(rowid) FROM "{quoted}"'  # noqa: S608
                count = conn.exec_driver_sql(statement).scalar()
                ordered[str(name)] = int(count or 0)
            return ordered
    finally:
        engine.dispose()


def scan_directories(root: Path) -> list[dict[str, Any]]:
    """Every directory with its modification time and whether it is empty."""
    return [
        {
            "path": str(path.relative_to(root)),
            "mtime": path.lstat().st_mtime,
            "empty": not any(path.iterdir()),
        }
        for path in sorted([root, *(p for p in root.rglob("*") if p.is_dir())])
        if not path.is_symlink()
    ]


@contextlib.contextmanager
def sqlite_copy(db_path: Path) -> Iterator[str]:
    """A scratch copy of the database (and its WAL), so the evidence is never modified."""
    with tempfile.TemporaryDirectory(prefix="adversary-") as scratch:
        for suffix in ("", "-wal", "-shm"):
            source = db_path.with_name(db_path.name + suffix)
            if source.exists():
                shutil.copyfile(source, Path(scratch) / (DB_NAME + suffix))
        yield f"sqlite:///{Path(scratch) / DB_NAME}"


# Classifying values by their bytes.


def marker_of(data: bytes) -> str | None:
    return MARKERS.get(bytes(data[:5]))


def is_text(data: bytes) -> bool:
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\n\t" for ch in text)


def classify_value(value: Any, column: Column, blob_names: set[str]) -> tuple[str, str]:
    """(class, kind) of one stored value, judged from the value alone."""
    if isinstance(value, bool) or column.boolean:
        return "clear", "flag"
    if isinstance(value, int | float):
        return ("clear", "time") if int(value) in EPOCH_RANGE else ("clear", "number")
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        marker = marker_of(data)
        if marker == "MSLK":
            return "public key", "MSLK"
        if marker is not None:
            return "sealed", marker
        if data.startswith(COSE_KEY_PREFIXES):
            return "public key", "COSE"
        if data and is_text(data):
            return "clear", "bytes as text"
        return "random", f"{len(data)} random-looking bytes"
    if isinstance(value, str):
        if HEX32.fullmatch(value):
            return "clear", "128-bit id"
        if HEX64.fullmatch(value):
            # A 256-bit hex value that names a blob file is a reference; otherwise a digest.
            if value in blob_names:
                return "clear", "blob name"
            return "random", "256-bit hex digest"
        if value and ID_LIST.fullmatch(value):
            return "clear", "list of ids"
        if KDF_COST.fullmatch(value):
            return "clear", "Argon2id cost"
        if BASE32_SECRET.fullmatch(value) and totp_usable(value):
            return "clear", "TOTP secret"
        return "clear", "text"
    return "clear", type(value).__name__


def totp_usable(secret: str) -> bool:
    try:
        return len(pyotp.TOTP(secret).now()) == 6
    except (ValueError, binascii.Error):
        return False


def time_precision(values: Iterable[float]) -> str:
    values = list(values)
    if any(v != int(v) for v in values):
        return "exact"
    if all(v % 86400 == 0 for v in values):
        return "day"
    if all(v % 3600 == 0 for v in values):
        return "hour"
    if all(v % 60 == 0 for v in values):
        return "minute"
    return "exact"


def render(value: Any) -> Any:
    """A value as the report shows it: clear values as they are, bytes by marker and length."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        shown: dict[str, Any] = {"bytes": len(data), "hex": data[:24].hex()}
        marker = marker_of(data)
        if marker:
            shown["format"] = marker
        return shown
    return value


def classify_tables(tables: dict[str, Table], blob_names: set[str]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for table in tables.values():
        columns: dict[str, Any] = {}
        for column in table.columns:
            values = [row[column.name] for row in table.rows if row[column.name] is not None]
            verdicts = [classify_value(v, column, blob_names) for v in values]
            classes = sorted({c for c, _ in verdicts})
            kinds = sorted({k for _, k in verdicts})
            entry: dict[str, Any] = {
                "declared": column.declared,
                "values": len(values),
                "nulls": len(table.rows) - len(values),
                "class": classes[0] if len(classes) == 1 else ("mixed" if classes else "empty"),
                "kinds": kinds,
            }
            if kinds == ["time"]:
                entry["precision"] = time_precision(values)
            if entry["class"] == "sealed":
                entry["format"] = kinds[0] if len(kinds) == 1 else "mixed"
            columns[column.name] = entry
        report[table.name] = {
            "rows": len(table.rows),
            "columns": columns,
            "values": [{k: render(v) for k, v in row.items()} for row in table.rows],
        }
    return report


# Raw bytes: strings, markers, SQLite structure.


PRINTABLE = re.compile(rb"[\x20-\x7e\t\n]{%d,}" % MIN_STRING)
PRINTABLE_UTF16 = re.compile(rb"(?:[\x20-\x7e]\x00){%d,}" % MIN_STRING)
UTF8_TEXT = re.compile(rb"(?:[\x20-\x7e]|[\xc2-\xf4][\x80-\xbf]{1,3}){%d,}" % MIN_STRING)


def readable_strings(data: bytes, limit: int = MAX_STRINGS) -> list[str]:
    """Printable runs (ASCII, UTF-8, UTF-16-LE) as a `strings` tool would show them."""
    found: dict[str, None] = {}
    for match in UTF8_TEXT.finditer(data):
        found.setdefault(match.group().decode("utf-8", "replace"), None)
    for match in PRINTABLE_UTF16.finditer(data):
        found.setdefault(match.group().decode("utf-16-le", "replace"), None)
    strings = list(found)
    return strings[:limit]


def marker_offsets(data: bytes) -> dict[str, list[int]]:
    offsets: dict[str, list[int]] = defaultdict(list)
    for magic, name in MARKERS.items():
        start = data.find(magic)
        while start != -1:
            offsets[name].append(start)
            start = data.find(magic, start + 1)
    return dict(offsets)


@dataclass
class FreeSpace:
    """Bytes of an SQLite file that hold no live record."""

    # (offset, length, what): "free page", "trunk tail", "gap" (between the cell-pointer
    # array and the cells) or "freeblock" (a freed cell inside the cell area).
    regions: list[tuple[int, int, str]] = field(default_factory=list)
    freelist_pages: int = 0
    page_size: int = 0
    page_count: int = 0

    def data(self, raw: bytes) -> Iterator[tuple[str, bytes]]:
        for offset, length, what in self.regions:
            yield what, raw[offset : offset + length]


def sqlite_free_space(raw: bytes) -> FreeSpace:
    """Free pages, unallocated gaps and freeblocks in every b-tree page of an SQLite file."""
    space = FreeSpace()
    if not raw.startswith(SQLITE_MAGIC) or len(raw) < 100:
        return space
    (page_size,) = struct.unpack(">H", raw[16:18])
    page_size = 65536 if page_size == 1 else page_size
    space.page_size = page_size
    space.page_count = len(raw) // page_size
    free_pages: set[int] = set()
    (trunk,) = struct.unpack(">I", raw[32:36])
    seen: set[int] = set()
    while trunk and trunk not in seen and trunk <= space.page_count:
        seen.add(trunk)
        base = (trunk - 1) * page_size
        nxt, count = struct.unpack(">II", raw[base : base + 8])
        leaves = struct.unpack(f">{count}I", raw[base + 8 : base + 8 + 4 * count])
        free_pages.update(leaves)
        # The trunk page's own unused tail is free space too.
        space.regions.append((base + 8 + 4 * count, page_size - 8 - 4 * count, "trunk tail"))
        trunk = nxt
    space.freelist_pages = len(free_pages) + len(seen)
    for page in sorted(free_pages):
        space.regions.append(((page - 1) * page_size, page_size, "free page"))
    for number in range(1, space.page_count + 1):
        if number in free_pages or number in seen:
            continue
        base = (number - 1) * page_size
        head = base + (100 if number == 1 else 0)
        kind = raw[head]
        if kind not in (2, 5, 10, 13):
            continue  # overflow or pointer-map page: no free areas to find this way
        header_size = 12 if kind in (2, 5) else 8
        first_freeblock, cells, content = struct.unpack(">HHH", raw[head + 1 : head + 7])
        content = 65536 if content == 0 else content
        gap_start = head + header_size + 2 * cells
        if base + content > gap_start:
            space.regions.append((gap_start, base + content - gap_start, "gap"))
        block = first_freeblock
        visited: set[int] = set()
        while block and block not in visited and block + 4 <= page_size:
            visited.add(block)
            nxt, size = struct.unpack(">HH", raw[base + block : base + block + 4])
            if size > 4:
                space.regions.append((base + block + 4, size - 4, "freeblock"))
            block = nxt
    return space


# SQLite's own leftovers in free space: the freeblock header (2-byte next, 2-byte size) it
# writes into a freed cell after zeroing it. Any longer non-zero run would be record content.
BOOKKEEPING_RUN = 4
NONZERO_RUN = re.compile(rb"[^\x00]+")


def stale_pointer_slots(chunk: bytes, page_size: int) -> int:
    """Bytes at the start of a page's gap that are left-over 2-byte cell pointers.

    SQLite shrinks a page's cell-pointer array without zeroing the slots it no longer uses;
    they hold offsets inside the page, never record content."""
    end = 0
    while end + 2 <= len(chunk) and chunk[end : end + 2] != b"\0\0":
        if int.from_bytes(chunk[end : end + 2], "big") >= page_size:
            break
        end += 2
    return end


def live_elsewhere(raw: bytes, run: bytes, free: list[tuple[int, int, str]]) -> bool:
    """Whether ``run`` also stands in a part of the file that is in use (outside every free
    region): then it is a stale copy of data the file still holds, which a seizer reads in
    the live record anyway. SQLite leaves such copies in a page's gap when it rebuilds a
    page (even ``VACUUM`` does, on the schema's own pages); what secure_delete must leave no
    trace of is a deleted record, and a deleted record has no live twin."""
    start = raw.find(run)
    while start >= 0:
        end = start + len(run)
        if not any(offset < end and start < offset + length for offset, length, _ in free):
            return True
        start = raw.find(run, start + 1)
    return False


def analyse_sqlite(raw: bytes) -> dict[str, Any]:
    space = sqlite_free_space(raw)
    nonzero = pointer_bytes = longest = live_copies = 0
    strings: list[str] = []
    markers: Counter[str] = Counter()
    for what, chunk in space.data(raw):
        # Only a gap, which starts right after a cell-pointer array, can begin with old slots.
        skip = stale_pointer_slots(chunk, space.page_size) if what == "gap" else 0
        pointer_bytes += skip
        rest = bytearray(chunk[skip:])
        for found in list(NONZERO_RUN.finditer(rest)):
            run = found.group()
            if len(run) > BOOKKEEPING_RUN and live_elsewhere(raw, run, space.regions):
                live_copies += 1
                rest[found.start() : found.end()] = bytes(len(run))  # read as zeros below
        left = bytes(rest)
        nonzero += len(left) - left.count(0)
        longest = max([longest, *(len(m.group()) for m in NONZERO_RUN.finditer(left))])
        strings += readable_strings(left)
        for name, offsets in marker_offsets(left).items():
            markers[name] += len(offsets)
    return {
        "page_size": space.page_size,
        "pages": space.page_count,
        "freelist_pages": space.freelist_pages,
        "free_bytes": sum(length for _, length, _ in space.regions),
        "stale_cell_pointer_bytes": pointer_bytes,
        "free_bytes_not_zero": nonzero,
        "longest_nonzero_run": longest,  # leaving out stale copies of live data
        "stale_copies_of_live_data": live_copies,
        "content_may_remain": longest > BOOKKEEPING_RUN,
        "strings_in_free_space": strings[:MAX_STRINGS],
        "markers_in_free_space": dict(markers),
    }


def analyse_wal(raw: bytes) -> dict[str, Any]:
    if len(raw) < 32:
        return {"frames": 0}
    magic, _version, page_size, _checkpoint, salt1, salt2 = struct.unpack(">IIIIII", raw[:24])
    if magic not in WAL_MAGICS:
        return {"frames": 0, "note": "not a WAL header"}
    frames = []
    offset = 32
    while offset + 24 + page_size <= len(raw):
        page, commit, fsalt1, fsalt2 = struct.unpack(">IIII", raw[offset : offset + 16])
        frames.append(
            {"page": page, "commit": bool(commit), "current": (fsalt1, fsalt2) == (salt1, salt2)}
        )
        offset += 24 + page_size
    return {
        "page_size": page_size,
        "frames": len(frames),
        "frames_from_earlier_generations": sum(1 for f in frames if not f["current"]),
        "pages": sorted({f["page"] for f in frames}),
    }


# Files in the data directory.


def classify_file(path: Path, root: Path, head: bytes) -> str:
    relative = path.relative_to(root)
    parts = relative.parts
    if path.name == DB_NAME and head.startswith(SQLITE_MAGIC):
        return "database"
    if relative == Path(REGISTRY_NAME) and head.startswith(SQLITE_MAGIC):
        return "host-registry"
    if path.name == DB_NAME + "-wal":
        return "wal"
    if path.name == DB_NAME + "-shm":
        return "wal-index"
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] == parts[2][:2]:
        if HEX64.fullmatch(parts[2]) and head.startswith(b"MSLI\x01"):
            return "blob"
        if parts[2].endswith(".partial") and HEX64.fullmatch(parts[2][: -len(".partial")]):
            return "partial-blob"
    if head.startswith(SQLITE_MAGIC):
        return "other SQLite database"
    return "unknown"


def scan_files(root: Path) -> list[dict[str, Any]]:
    files = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        info = path.lstat()
        entry: dict[str, Any] = {
            "path": str(path.relative_to(root)),
            "size": info.st_size,
            "mode": oct(stat.S_IMODE(info.st_mode)),
            "mtime": int(info.st_mtime),
        }
        if path.is_symlink():
            entry["kind"] = "symlink"
            files.append(entry)
            continue
        raw = path.read_bytes()
        kind = classify_file(path, root, raw[:64])
        entry["kind"] = kind
        entry["markers"] = {k: len(v) for k, v in marker_offsets(raw).items()}
        if kind == "blob":
            entry["item_id"] = raw[5:21].hex()  # the header names the item in clear
            # Ciphertext yields chance "strings" of a few characters; long ones would be leaks.
            entry["long_strings"] = [s for s in readable_strings(raw[37:]) if len(s) >= 24]
        else:
            entry["strings"] = readable_strings(raw)
        if kind == "database":
            entry["sqlite"] = analyse_sqlite(raw)
        if kind == "wal":
            entry["wal"] = analyse_wal(raw)
        files.append(entry)
    return files


# Attacks.


def password_candidates(username: str, extra: list[str]) -> list[str]:
    candidates = list(COMMON_PASSWORDS)
    candidates += [v.format(u=username, U=username.capitalize()) for v in USER_VARIANTS]
    candidates += extra
    return list(dict.fromkeys(candidates))


def private_context(user_id: str, purpose: bytes) -> bytes:
    # From src/mailslot/recipients/services.py: the source code is public.
    return b"user-private-key/" + purpose + b"/" + bytes.fromhex(user_id)


@dataclass
class Attempt:
    username: str
    tried: int = 0
    seconds: float = 0.0
    password: str | None = None
    note: str = ""


def guess_passwords(
    users: list[dict[str, Any]], extra: list[str], max_guesses: int, budget: float
) -> tuple[list[Attempt], dict[str, bytes]]:
    """Dictionary attack on each account; returns the attempts and the seeds recovered."""
    attempts, seeds = [], {}
    for user in users:
        attempt = Attempt(user["username"])
        attempts.append(attempt)
        try:
            params = crypto.KdfParams.decode(user["password_kdf"])
        except crypto.DecryptionError:
            attempt.note = "unreadable cost"
            continue
        start = time.monotonic()
        for candidate in password_candidates(user["username"], extra)[:max_guesses]:
            if time.monotonic() - start > budget:
                attempt.note = "time budget spent"
                break
            attempt.tried += 1
            try:
                keys = crypto.derive_password_keys(candidate, user["password_salt"], params)
                crypto.verify(user["password_verifier"], keys.verifier)
            except (crypto.DecryptionError, crypto.EncodingError):
                continue
            attempt.password = candidate
            wrap = user.get("private_key_password_wrap")
            if wrap is None:
                attempt.note = "password found, but the server holds no wrap (key offline)"
                break
            try:
                seed = crypto.open_secret(keys.kek, wrap, private_context(user["id"], b"password"))
            except crypto.DecryptionError:
                attempt.note = "password found, but the wrap did not open"
                break
            if crypto.KeyPair.from_seed(seed).public_key != user["public_key"]:
                attempt.note = "wrap opened to a seed that does not match the public key"
                break
            seeds[user["id"]] = seed
            attempt.note = "password found; private key recovered"
            break
        attempt.seconds = round(time.monotonic() - start, 3)
    return attempts, seeds


def try_recovery_keys(users: list[dict[str, Any]]) -> dict[str, Any]:
    """Recovery keys are 256 random bits; only degenerate keys are worth a try."""
    tried, opened = 0, []
    for user in users:
        wrap = user.get("private_key_recovery_wrap")
        if wrap is None:
            continue
        for secret in (bytes(32), b"\xff" * 32):
            tried += 1
            kek = crypto.recovery_kek(secret, bytes.fromhex(user["id"]))
            try:
                crypto.open_secret(kek, wrap, private_context(user["id"], b"recovery"))
            except crypto.DecryptionError:
                continue
            opened.append(user["username"])
    return {"tried": tried, "opened": opened, "note": "256-bit random keys; not guessable"}


def try_sessions(
    rows: list[dict[str, Any]], tokens: list[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A session opens only with its token (HKDF gives the id and the key; neither inverts)."""
    candidates = [bytes(32), b"\xff" * 32]
    for token in tokens:
        with contextlib.suppress(binascii.Error, ValueError):
            candidates.append(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    by_id = {row["id"]: row for row in rows}
    opened = []
    for raw in candidates:
        keys = crypto.session_keys(raw)
        row = by_id.get(keys.session_id)
        if row is None:
            continue
        try:
            # The body is the JSON padded with zero bytes to one size (docs/spec/format.md).
            data = json.loads(crypto.open_session(keys, row["data"]).rstrip(b"\x00"))
        except (crypto.DecryptionError, ValueError):
            continue
        opened.append({"session": row["id"], "kind": row["kind"], "data": data})
    summary = {
        "rows": len(rows),
        "tokens_tried": len(candidates),
        "opened": len(opened),
        "note": "the id is HKDF(token) and the data is sealed under another HKDF of it",
    }
    return summary, opened


def try_codenames(
    instance: dict[str, Any] | None, sources: list[dict[str, Any]], guesses: list[str]
) -> dict[str, Any]:
    if instance is None:
        return {"tried": 0}
    params = crypto.KdfParams.decode(instance["source_kdf"])
    lookups = {row["lookup"]: row["id"] for row in sources}
    found = []
    for guess in guesses:
        keys = crypto.derive_source_keys(guess, instance["codename_salt"], params)
        if keys.lookup in lookups:
            found.append({"codename": guess, "source": lookups[keys.lookup]})
    return {
        "tried": len(guesses),
        "found": found,
        "note": "about 90 bits per codename; each guess costs one Argon2id run",
    }


def name_throttles(
    rows: list[dict[str, Any]], known: Iterable[str], guesses: Iterable[str]
) -> dict[str, Any]:
    """Throttle rows are keyed by a digest of the username: match it against known names."""
    candidates = {name.strip().lower() for name in [*known, *guesses] if name}
    digests = {crypto.digest(b"login-throttle", name.encode()): name for name in candidates}
    named = [
        {"username": digests[row["key"]], "failures": row["failures"]}
        for row in rows
        if row["key"] in digests
    ]
    return {"rows": len(rows), "tried": len(candidates), "named": named}


def blob_path(root: Path, blob_id: str) -> Path:
    return root / "blobs" / blob_id[:2] / blob_id


def read_blob(root: Path, blob_id: str) -> Iterator[bytes]:
    with blob_path(root, blob_id).open("rb") as handle:
        while chunk := handle.read(1 << 16):
            yield chunk


def open_with_seed(
    tables: dict[str, Table], root: Path, user_id: str, seed: bytes
) -> list[dict[str, Any]]:
    """Everything a recovered recipient key opens: case keys, then every item of those cases."""
    recipient = crypto.KeyPair.from_seed(seed)
    items_by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in rows_of(tables, "items"):
        items_by_case[item["case_id"]].append(item)
    item_wraps = {
        (w["item_id"], w["holder"]): w["wrapped"] for w in rows_of(tables, "item_key_wraps")
    }
    # Every version of each case key the user holds: the current one (its version is the
    # case's), and the earlier ones a revocation left behind (``case_past_key_wraps``).
    versions = {c["id"]: c["key_version"] for c in rows_of(tables, "cases")}
    held = [(w, versions.get(w["case_id"], 0)) for w in rows_of(tables, "case_key_wraps")]
    held += [(w, w["version"]) for w in rows_of(tables, "case_past_key_wraps")]
    case_keys: dict[str, dict[int, crypto.KeyPair]] = defaultdict(dict)
    for wrap, version in held:
        if wrap["user_id"] != user_id:
            continue
        context = crypto.case_key_context(bytes.fromhex(wrap["case_id"]), version)
        with contextlib.suppress(crypto.DecryptionError):
            seed = recipient.unwrap(wrap["wrapped"], crypto.WrapPurpose.CASE_KEY, context)
            case_keys[wrap["case_id"]][version] = crypto.KeyPair.from_seed(seed)
    recovered = []
    for case_id, keys in case_keys.items():
        for item in sorted(items_by_case[case_id], key=lambda i: i["position"]):
            wrapped = item_wraps.get((item["id"], "case"))
            key = keys.get(item["key_version"])
            if wrapped is not None and key is not None:
                recovered.append(open_item(root, item, key, wrapped, via=f"user {user_id}"))
    return recovered


def open_for_source(
    tables: dict[str, Table], root: Path, source_seed: bytes
) -> list[dict[str, Any]]:
    key = crypto.KeyPair.from_seed(source_seed)
    items = {i["id"]: i for i in rows_of(tables, "items")}
    recovered = []
    for wrap in rows_of(tables, "item_key_wraps"):
        if wrap["holder"] == "source" and wrap["item_id"] in items:
            with contextlib.suppress(crypto.DecryptionError):
                recovered.append(
                    open_item(root, items[wrap["item_id"]], key, wrap["wrapped"], via="source")
                )
    return recovered


def open_item(
    root: Path, item: dict[str, Any], key: crypto.KeyPair, wrapped: bytes, *, via: str
) -> dict[str, Any]:
    item_id = bytes.fromhex(item["id"])
    data_key = key.unwrap(wrapped, crypto.WrapPurpose.ITEM_KEY, item_id)
    result: dict[str, Any] = {"item": item["id"], "case": item["case_id"], "via": via}
    result["meta"] = crypto.open_meta(item_id, data_key, item["sealed_meta"])
    try:
        content = b"".join(
            crypto.open_item_stream(item_id, data_key, read_blob(root, item["blob_id"]))
        )
    except (OSError, crypto.DecryptionError) as exc:
        result["content_error"] = type(exc).__name__
    else:
        result["content"] = content.decode("utf-8", "replace")
    return result


def stale_ciphertext(
    files: list[dict[str, Any]], root: Path, tables: dict[str, Table]
) -> dict[str, Any]:
    """Fixed-length wraps and keys present in raw database bytes but in no live row."""
    live: dict[str, set[bytes]] = defaultdict(set)
    for table in tables.values():
        for row in table.rows:
            for value in row.values():
                if isinstance(value, bytes) and (marker := marker_of(value)):
                    live[marker].add(value)
    found: dict[str, Any] = {}
    for entry in files:
        if entry["kind"] not in ("database", "wal"):
            continue
        raw = (root / entry["path"]).read_bytes()
        stale: dict[str, list[str]] = {}
        for marker, offsets in marker_offsets(raw).items():
            if marker in FIXED_LENGTH:
                copies = {raw[o : o + FIXED_LENGTH[marker]] for o in offsets}
                gone = sorted(c[:24].hex() for c in copies if c not in live[marker])
            else:
                # Variable length: more occurrences than live values means leftover copies.
                extra = len(offsets) - len(live[marker]) if entry["kind"] == "database" else 0
                gone = [f"{extra} more than live rows"] if extra > 0 else []
            if gone:
                stale[marker] = gone
        found[entry["path"]] = stale
    return found


# Putting it together.


def rows_of(tables: dict[str, Table], name: str) -> list[dict[str, Any]]:
    table = tables.get(name)
    return table.rows if table else []


def derive(tables: dict[str, Table], files: list[dict[str, Any]], now: float) -> dict[str, Any]:
    """What the clear parts say, put the way an investigator would put it."""
    users = {u["id"]: u for u in rows_of(tables, "users")}
    channels = {c["id"]: c for c in rows_of(tables, "channels")}
    items = rows_of(tables, "items")
    wraps_by_case: dict[str, list[str]] = defaultdict(list)
    for wrap in rows_of(tables, "case_key_wraps"):
        wraps_by_case[wrap["case_id"]].append(users.get(wrap["user_id"], {}).get("username", "?"))
    item_holders: dict[str, list[str]] = defaultdict(list)
    for wrap in rows_of(tables, "item_key_wraps"):
        item_holders[wrap["item_id"]].append(wrap["holder"])
    cases = []
    for case in sorted(rows_of(tables, "cases"), key=lambda c: c["activity_seq"]):
        own = sorted((i for i in items if i["case_id"] == case["id"]), key=lambda i: i["position"])
        readers = wraps_by_case[case["id"]]
        online = [
            name
            for name in readers
            for u in users.values()
            if u["username"] == name and u.get("private_key_password_wrap") is not None
        ]
        cases.append(
            {
                "pseudonym": case["pseudonym"],
                "channel": channels.get(case["channel_id"], {}).get("name"),
                "created_hour": case["created_at"],
                "last_activity_hour": case["last_activity_at"],
                "linked_to_a_source": case["source_id"] is not None,
                "readers": readers,
                "readers_with_a_key_on_the_server": online,
                "items": [
                    {
                        "position": i["position"],
                        "kind": i["kind"],
                        "hour": i["created_at"],
                        "stored_size": i["stored_size"],
                        "author": users.get(i["author_id"] or "", {}).get("username"),
                        "seen_by_source": i["seen_by_source"],
                        "wrapped_to": item_holders[i["id"]],
                    }
                    for i in own
                ],
            }
        )
    per_channel = Counter(c["channel"] for c in cases)
    staff = [
        {
            "username": u["username"],
            "role": u["role"],
            "email": u["email"],
            "disabled": u["disabled"],
            "key_offline": u.get("key_offline"),
            "password_wrap": u.get("private_key_password_wrap") is not None,
            "recovery_wrap": u.get("private_key_recovery_wrap") is not None,
            "password_cost": u["password_kdf"],
            "created_at": u["created_at"],
            "last_totp_step_time": u["totp_last_counter"] * 30 or None,
            "totp_code_now": pyotp.TOTP(u["totp_secret"]).at(now),
            "channels": [
                channels.get(m["channel_id"], {}).get("name")
                for m in rows_of(tables, "channel_members")
                if m["user_id"] == u["id"]
            ],
        }
        for u in users.values()
    ]
    sessions = [
        {
            "kind": s["kind"],
            "user": users.get(s["user_id"] or "", {}).get("username"),
            "created_at": s["created_at"],
            "last_seen_at": s["last_seen_at"],
            "expires_at": s["expires_at"],
            "expired": s["expires_at"] <= now,
        }
        for s in rows_of(tables, "sessions")
    ]
    blobs = [f for f in files if f["kind"] == "blob"]
    # A source's identity is sealed like an item, in a table of its own (issue 14).
    sealed = [*items, *rows_of(tables, "identities")]
    item_ids = {i["id"] for i in sealed}
    # A file given on a questionnaire step waits, sealed, beside its draft until the source
    # sends or the session ends: the seizer learns that such a file exists, and its size.
    draft_files = rows_of(tables, "questionnaire_draft_files")
    blob_ids = {i["blob_id"] for i in sealed} | {d["blob_id"] for d in draft_files}
    return {
        "cases_per_channel": dict(per_channel),
        "cases": cases,
        "sources": {
            "rows": len(rows_of(tables, "sources")),
            "created_days": sorted(s["created_at"] for s in rows_of(tables, "sources")),
            "cases_without_a_source": sum(1 for c in cases if not c["linked_to_a_source"]),
        },
        "staff": staff,
        "enrollments": [
            {
                "role": e["role"],
                "username": e["username"],
                "created_by": users.get(e["created_by"] or "", {}).get("username"),
                "expires_at": e["expires_at"],
                "used_at": e["used_at"],
            }
            for e in rows_of(tables, "enrollments")
        ],
        "sessions": sessions,
        "activity_counter": {c["name"]: c["value"] for c in rows_of(tables, "counters")},
        "item_kinds": dict(Counter(i["kind"] for i in items)),
        "blobs": {
            "files": len(blobs),
            "bytes": sum(b["size"] for b in blobs),
            "waiting_in_drafts": len(draft_files),
            "orphans": sorted(b["path"] for b in blobs if Path(b["path"]).name not in blob_ids),
            "header_item_ids_matching_rows": sum(1 for b in blobs if b["item_id"] in item_ids),
            "missing": sorted(blob_ids - {Path(b["path"]).name for b in blobs}),
        },
    }


def investigate(
    data_dir: Path,
    database_url: str | None = None,
    *,
    wordlist: list[str] | None = None,
    session_tokens: list[str] | None = None,
    codename_guesses: list[str] | None = None,
    max_guesses: int = 100,
    budget: float = 60.0,
) -> dict[str, Any]:
    root = data_dir.resolve()
    files = scan_files(root)
    if database_url:
        tables = read_database(database_url)
        ordered = insertion_order(database_url)
        where = make_url(database_url).render_as_string(hide_password=True)
    else:
        with sqlite_copy(root / DB_NAME) as url:
            tables = read_database(url)
            ordered = insertion_order(url)
        where = str(root / DB_NAME)
    blob_names = {Path(f["path"]).name for f in files if f["kind"] == "blob"}
    classified = classify_tables(tables, blob_names)
    now = time.time()

    users = rows_of(tables, "users")
    attempts, seeds = guess_passwords(users, wordlist or [], max_guesses, budget)
    session_summary, opened_sessions = try_sessions(
        rows_of(tables, "sessions"), session_tokens or []
    )
    instance = next(iter(rows_of(tables, "instance")), None)
    recovered: list[dict[str, Any]] = []
    for user_id, seed in seeds.items():
        recovered += open_with_seed(tables, root, user_id, seed)
    for session in opened_sessions:
        seed_text = session["data"].get("seed")
        if not seed_text:
            continue
        seed = base64.b64decode(seed_text)
        if session["kind"] == "source":
            recovered += open_for_source(tables, root, seed)
        elif session["data"].get("user_id"):
            recovered += open_with_seed(tables, root, session["data"]["user_id"], seed)

    report: dict[str, Any] = {
        "data_dir": str(root),
        "database": where,
        "raw_database_scan": database_url is None,
        "files": files,
        "directories": scan_directories(root),
        "file_kinds": sorted({f["kind"] for f in files}),
        "tables": classified,
        "columns": {
            f"{t}.{c}": {k: v for k, v in info.items() if k in ("class", "precision", "format")}
            for t, entry in classified.items()
            for c, info in entry["columns"].items()
        },
        "derived": derive(tables, files, now),
        "attacks": {
            "passwords": [vars(a) for a in attempts],
            "recovery_keys": try_recovery_keys(users),
            "sessions": session_summary,
            "codenames": try_codenames(
                instance, rows_of(tables, "sources"), codename_guesses or []
            ),
            "stale_ciphertext": stale_ciphertext(files, root, tables),
            "insertion_order": ordered,
            "login_throttles": name_throttles(
                rows_of(tables, "login_throttles"),
                [u["username"] for u in users]
                + [e["username"] for e in rows_of(tables, "enrollments") if e["username"]],
                ("admin", "root", "editor", "security"),
            ),
        },
        "recovered": recovered,
    }
    report["clear_columns"] = sorted(
        name for name, info in report["columns"].items() if info["class"] == "clear"
    )
    report["findings"] = findings(report)
    return report


def findings(report: dict[str, Any]) -> list[str]:
    """The report's headline: everything that gives the seizer more than metadata."""
    out = []
    for attempt in report["attacks"]["passwords"]:
        if attempt["password"] is not None:
            out.append(f"password of {attempt['username']} guessed: {attempt['note']}")
    if report["recovered"]:
        out.append(f"{len(report['recovered'])} items decrypted")
    for row in report["attacks"]["login_throttles"]["named"]:
        out.append(f"failed logins recorded for {row['username']} ({row['failures']})")
    if report["attacks"]["sessions"]["opened"]:
        out.append(f"{report['attacks']['sessions']['opened']} sessions opened")
    for name, info in report["columns"].items():
        if info["class"] == "mixed":
            out.append(f"{name} mixes value classes")
    empty = [name for name, info in report["columns"].items() if info["class"] == "empty"]
    if empty:
        out.append(f"{len(empty)} columns hold no value in this copy and were not judged")
    totp = [
        n
        for n, i in report["columns"].items()
        if "TOTP secret" in report["tables"][n.split(".")[0]]["columns"][n.split(".")[1]]["kinds"]
    ]
    if totp:
        out.append(f"TOTP secrets readable in {', '.join(totp)}")
    for path, stale in report["attacks"]["stale_ciphertext"].items():
        for marker, copies in stale.items():
            out.append(f"{path}: {len(copies)} {marker} not in any live row")
    for entry in report["files"]:
        sqlite_info = entry.get("sqlite")
        if sqlite_info and (
            sqlite_info["content_may_remain"]
            or sqlite_info["strings_in_free_space"]
            or sqlite_info["markers_in_free_space"]
        ):
            out.append(f"{entry['path']}: deleted content may remain in free space")
        if entry["kind"] == "wal" and entry["size"]:
            out.append(f"{entry['path']}: WAL present with {entry['wal']['frames']} frames")
        if entry["kind"] in ("unknown", "other SQLite database", "symlink"):
            out.append(f"{entry['path']}: unexpected file ({entry['kind']})")
        if entry.get("long_strings"):
            out.append(f"{entry['path']}: readable text inside a blob")
    blobs = report["derived"]["blobs"]
    if blobs["orphans"]:
        out.append(f"{len(blobs['orphans'])} blob files belong to no item")
    return out


def summary(report: dict[str, Any]) -> str:
    lines = [f"Seized copy: {report['data_dir']} (database {report['database']})", ""]
    lines.append("Files:")
    kinds = Counter(f["kind"] for f in report["files"])
    for kind, count in sorted(kinds.items()):
        size = sum(f["size"] for f in report["files"] if f["kind"] == kind)
        lines.append(f"  {kind}: {count} file(s), {size} bytes")
    lines.append("")
    lines.append("Columns by class:")
    by_class: dict[str, list[str]] = defaultdict(list)
    for name, info in report["columns"].items():
        detail = info.get("precision") or info.get("format")
        by_class[info["class"]].append(f"{name} ({detail})" if detail else name)
    for cls in sorted(by_class):
        lines.append(f"  {cls}: {len(by_class[cls])}")
        lines += [f"    {name}" for name in by_class[cls]]
    derived = report["derived"]
    lines += ["", "What the clear parts say:"]
    lines.append(f"  cases per channel: {derived['cases_per_channel']}")
    lines.append(f"  item kinds: {derived['item_kinds']}")
    lines.append(f"  sources: {derived['sources']['rows']} rows")
    for case in derived["cases"]:
        shape = ", ".join(f"{i['kind']}({i['stored_size']})" for i in case["items"])
        lines.append(
            f"  case {case['pseudonym']} in {case['channel']}: readers {case['readers']}; {shape}"
        )
    for person in derived["staff"]:
        lines.append(
            f"  staff {person['username']} ({person['role']}) email={person['email']} "
            f"offline={person['key_offline']} totp-now={person['totp_code_now']}"
        )
    lines.append(f"  sessions: {len(derived['sessions'])}")
    lines += ["", "Attacks:"]
    for attempt in report["attacks"]["passwords"]:
        outcome = f"FOUND {attempt['password']!r}" if attempt["password"] is not None else "none"
        lines.append(
            f"  password {attempt['username']}: {attempt['tried']} guesses, {outcome} "
            f"{attempt['note']}".rstrip()
        )
    sessions = report["attacks"]["sessions"]
    lines.append(f"  sessions: {sessions['opened']} of {sessions['rows']} opened")
    lines.append(f"  recovery keys: {report['attacks']['recovery_keys']['opened']} opened")
    lines.append(f"  decrypted items: {len(report['recovered'])}")
    lines += ["", "Findings:"]
    lines += [f"  - {f}" for f in report["findings"]] or ["  (none)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url", help="for a PostgreSQL database (no raw scan then)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--wordlist", type=Path, help="more password guesses, one a line")
    parser.add_argument("--session-token", action="append", default=[], help="a stolen token")
    parser.add_argument("--codename", action="append", default=[], help="a codename guess")
    parser.add_argument("--max-guesses", type=int, default=100, help="per account")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per account")
    args = parser.parse_args(argv)
    extra = args.wordlist.read_text().splitlines() if args.wordlist else []
    report = investigate(
        args.data_dir,
        args.database_url,
        wordlist=extra,
        session_tokens=args.session_token,
        codename_guesses=args.codename,
        max_guesses=args.max_guesses,
        budget=args.budget,
    )
    if args.json:
        json.dump(report, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
