"""Inspecting and sanitising untrusted documents in a child process, never in this one.

A parser bug in a document library must not reach the server's keys, sessions or other cases.
So each request starts ``python -m mailslot.documents.worker`` (see its docstring for what it
does to itself before it reads the document) and talks to it over pipes only:

- the document goes in through stdin; the report (JSON) or the copy comes back through stdout,
  read up to ``Limits.max_output`` bytes (more kills it);
- a fresh empty directory (mode 0700) is its working directory, ``TMPDIR`` and ``HOME``,
  and is removed afterwards; nothing is written there by design (the libraries work in
  memory), and core dumps are off, so no plaintext reaches the disk;
- its environment is minimal (no ``MAILSLOT_*`` setting, no database URL, no secrets);
- it runs in a process group of its own, killed whole at the wall-clock limit;
- the worker limits its own address space, CPU time, file size and open files, enters a
  network namespace of its own, and refuses sockets, new processes and writes outside its
  directory from Python code (inside bubblewrap, told so by ``--boxed``, it may start
  LibreOffice for a flattened office file: :mod:`.office`);
- where ``bwrap`` (bubblewrap) is installed it runs inside it: new user, PID, network, IPC,
  UTS and cgroup namespaces, the system and Python's own folders read-only, its directory the
  only one it can write, no capabilities, killed with its parent.

Whatever goes wrong (a crash, a hang, a limit, a file the library refuses, output that does
not parse) is a typed :class:`Failure`, never an exception: "could not be inspected" is an
answer. What the worker says is untrusted too and is checked before it is believed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from mailslot import framing
from mailslot.documents import worker
from mailslot.documents.bwrap import box, bubblewrap
from mailslot.documents.findings import KINDS, FileReport, Finding
from mailslot.filenames import output_filename

MiB: Final = 1024 * 1024
MAX_FINDINGS: Final = 2000
MAX_DETAIL: Final = 4000
_TYPE: Final = re.compile(r"[a-z0-9_]{1,32}")
_MEDIA_TYPE: Final = re.compile(r"[a-z]+/[a-z0-9][a-z0-9.+-]{0,100}")


class Failure(StrEnum):
    """Why a document could not be inspected or sanitised."""

    TOO_LARGE = "too_large"  # over Limits.max_input: not even started
    TIMEOUT = "timeout"  # the wall-clock limit
    CPU = "cpu"  # the CPU-time limit
    MEMORY = "memory"  # the address-space limit
    OUTPUT = "output"  # more output than Limits.max_output
    CRASH = "crash"  # the worker died another way, or answered nonsense
    REFUSED = "refused"  # the library says the file is malformed or of a type it cannot handle


@dataclass(frozen=True, slots=True)
class Limits:
    """What one worker may use. ``test_hooks`` lets the tests ask it to misbehave."""

    max_input: int = 64 * MiB
    max_output: int = 160 * MiB
    memory: int = 1024 * MiB
    cpu_seconds: int = 60
    # A flattened PDF gets this much more CPU time a page (counted by the worker), up to
    # ``max_cpu_seconds``; its wall-clock limit grows by the same ceiling.
    cpu_per_page: float = 0.5
    max_cpu_seconds: int = 300
    wall_seconds: float = 90.0
    test_hooks: bool = False


DEFAULT_LIMITS: Final = Limits()


class WorkerSlots:
    """A cap on the workers running at once in one server process: each may take
    ``Limits.memory``, so a few recipients asking at once must not add up to more than the
    machine has. One instance per process (``Runtime`` makes it; every organisation shares it).
    """

    def __init__(self, workers: int, wait_seconds: float) -> None:
        self.workers = workers
        self.wait_seconds = wait_seconds
        self._slots = threading.BoundedSemaphore(workers)

    @contextlib.contextmanager
    def slot(self) -> Iterator[bool]:
        """Hold a slot for the block: True once one is free, False if none was within
        ``wait_seconds`` (blocking: call it from a worker thread)."""
        held = self._slots.acquire(timeout=self.wait_seconds)
        try:
            yield held
        finally:
            if held:
                self._slots.release()


@dataclass(frozen=True, slots=True)
class Inspection:
    """A report (``report.inspected`` False with a note when it failed)."""

    report: FileReport
    failure: Failure | None = None
    detail: str = ""  # the library's words when it refused the file (English)


@dataclass(frozen=True, slots=True)
class Copy:
    """A sanitised copy: a new name, the bytes and their media type."""

    name: str
    data: bytes = dataclasses.field(repr=False)
    media_type: str


@dataclass(frozen=True, slots=True)
class Sanitization:
    copy: Copy | None
    failure: Failure | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run of the worker gave: the detected type, its result frame and payload, or
    the failure."""

    type: str = "unknown"
    result: dict[str, Any] | None = None
    payload: bytes = b""
    failure: Failure | None = None


# Why a worker gave nothing usable, in words (English: CLI output and the JSON report's note;
# the staff pages say it in the reader's language, cases/documents.py).
REASONS: Final = {
    Failure.TOO_LARGE: "the file is larger than the sandbox accepts",
    Failure.TIMEOUT: "it took too long",
    Failure.CPU: "it needed too much processing",
    Failure.MEMORY: "it needed too much memory",
    Failure.OUTPUT: "the answer was too large",
    Failure.CRASH: "the process reading it failed",
    Failure.REFUSED: "the file could not be read",
}
NOTES: Final = {failure: f"could not be inspected: {reason}" for failure, reason in REASONS.items()}


# -- the worker's command line ------------------------------------------------------------------


def command(limits: Limits, workdir: str, bwrap: str | None) -> list[str]:
    """The worker's argv: inside bubblewrap when ``bwrap`` is given."""
    argv = [
        sys.executable,
        "-I",  # isolated: no PYTHON* variables, no user site, not the current folder
        "-B",  # no .pyc written
        "-m",
        "mailslot.documents.worker",
        f"--memory={limits.memory}",
        f"--cpu={limits.cpu_seconds}",
        f"--output={limits.max_output}",
        f"--cpu-max={max(limits.cpu_seconds, limits.max_cpu_seconds)}",
        f"--cpu-per-page={limits.cpu_per_page}",
    ]
    if limits.test_hooks:
        argv.append("--test-hooks")
    if bwrap is None:
        return argv
    return [*box(bwrap, workdir), *argv, "--boxed"]


def environment(workdir: str) -> dict[str, str]:
    """The worker's whole environment: nothing of the server's."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        # Numeric libraries would otherwise start a thread per core, each with its own memory.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }


# -- running it ---------------------------------------------------------------------------------


def _feed(stream: Any, data: bytes) -> None:
    try:
        with stream:
            view = memoryview(data)
            for start in range(0, len(view), MiB):
                stream.write(view[start : start + MiB])
    except (BrokenPipeError, ValueError, OSError):
        pass  # the worker stopped reading (it failed, or was killed): its exit says why


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _collect(
    process: subprocess.Popen[bytes], deadline: float, cap: int
) -> tuple[bytes, Failure | None]:
    """Read the worker's output until it closes it, the deadline or the cap (what was read
    comes back in every case: its first frame may still name the type)."""
    assert process.stdout is not None  # noqa: S101 - started with stdout=PIPE
    chunks: list[bytes] = []
    total = 0
    fd = process.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"".join(chunks), Failure.TIMEOUT
            if not selector.select(timeout=remaining):
                continue
            chunk = os.read(fd, MiB)
            if not chunk:
                return b"".join(chunks), None
            total += len(chunk)
            if total > cap:
                return b"".join(chunks), Failure.OUTPUT
            chunks.append(chunk)


def _exited(process: subprocess.Popen[bytes], deadline: float) -> bool:
    """Wait until the worker has exited, without reaping it: while it is a zombie its process
    group id cannot be reused, so killing the group afterwards cannot hit anyone else."""
    while True:
        if os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def _exit_failure(code: int) -> Failure | None:
    if code == 0:
        return None
    if code == worker.EXIT_MEMORY:
        return Failure.MEMORY
    # The CPU limit's signals (bubblewrap reports a child's signal N as 128 + N).
    if code in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL):
        return Failure.CPU
    return Failure.CRASH


def _frames(output: bytes) -> Iterator[tuple[dict[str, Any], int]]:
    """Each frame's JSON and the offset after it; stops at the first malformed frame."""
    offset = 0
    size = framing.LENGTH.size
    while offset + size <= len(output):
        (length,) = framing.LENGTH.unpack_from(output, offset)
        end = offset + size + length
        if length > worker.MAX_RESULT_FRAME or end > len(output):
            return
        try:
            frame = framing.decode(output[offset + size : end], malformed=ValueError)
        except ValueError:
            return
        yield frame, end
        offset = end
        if "ok" in frame:
            return  # the result frame: its payload follows


def run_worker(request: dict[str, Any], data: bytes, limits: Limits = DEFAULT_LIMITS) -> Outcome:
    """Run one worker on ``data`` and return what it said, or why it said nothing usable."""
    if len(data) > limits.max_input:
        return Outcome(failure=Failure.TOO_LARGE)
    header = framing.encode(request, limit=worker.MAX_REQUEST_FRAME, too_large=ValueError)
    workdir = tempfile.mkdtemp(prefix="mailslot-sandbox-")
    try:
        try:
            process = subprocess.Popen(  # noqa: S603 - a fixed command; the document by pipe
                command(limits, workdir, bubblewrap()),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=workdir,
                env=environment(workdir),
                process_group=0,
                close_fds=True,
            )
        except OSError:  # no process could be started (out of processes, a missing binary)
            return Outcome(failure=Failure.CRASH)
        feeder = threading.Thread(target=_feed, args=(process.stdin, header + data), daemon=True)
        feeder.start()
        try:
            deadline = time.monotonic() + limits.wall_seconds
            output, failure = _collect(process, deadline, limits.max_output + MiB)
            if failure is None and not _exited(process, deadline):
                failure = Failure.TIMEOUT
        finally:
            _kill(process)  # the whole group, whatever happened; then reap the worker
            code = process.wait()
            if process.stdout is not None:
                process.stdout.close()
            feeder.join()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if failure is None:
        failure = _exit_failure(code)
    frames = list(_frames(output))
    kind = "unknown"
    first = frames[0][0].get("type") if frames else None
    if isinstance(first, str) and _TYPE.fullmatch(first):
        kind = first
    if failure is not None:
        return Outcome(type=kind, failure=failure)
    if len(frames) != 2:
        return Outcome(type=kind, failure=Failure.CRASH)
    result, end = frames[1]
    return Outcome(type=kind, result=result, payload=output[end:])


# -- the two operations -------------------------------------------------------------------------


def _report(raw: object, name: str, kind: str) -> FileReport | None:
    """The worker's report, if it is one; the file name is ours, not the worker's."""
    if not isinstance(raw, dict):
        return None
    findings = raw.get("findings")
    inspected = raw.get("inspected", True)
    note = raw.get("note", "")
    if not isinstance(findings, list) or len(findings) > MAX_FINDINGS:
        return None
    if not isinstance(inspected, bool) or not isinstance(note, str):
        return None
    checked = []
    for finding in findings:
        if not isinstance(finding, dict) or set(finding) != {"kind", "detail"}:
            return None
        found_kind, detail = finding["kind"], finding["detail"]
        if found_kind not in KINDS or not isinstance(detail, str):
            return None
        checked.append(Finding(kind=found_kind, detail=detail[:MAX_DETAIL]))
    return FileReport(
        file=name,
        type=kind,
        findings=tuple(checked),
        inspected=inspected,
        note=note[:MAX_DETAIL],
    )


def failed(name: str, kind: str, failure: Failure, detail: str = "") -> Inspection:
    """The report of a file that could not be inspected, and why."""
    report = FileReport(file=name, type=kind, findings=(), inspected=False, note=NOTES[failure])
    return Inspection(report=report, failure=failure, detail=detail)


def inspect(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Inspection:
    """What ``data`` reveals, found by a worker; never raises for anything about the file."""
    outcome = run_worker({"op": "inspect", "name": name}, data, limits)
    if outcome.failure is not None:
        return failed(name, outcome.type, outcome.failure)
    result = outcome.result or {}
    if result.get("ok") is False:
        message = result.get("message")
        return failed(name, outcome.type, Failure.REFUSED, _text(message))
    report = _report(result.get("report"), name, outcome.type)
    if result.get("ok") is not True or report is None or outcome.payload:
        return failed(name, outcome.type, Failure.CRASH)
    return Inspection(report=report)


def _text(value: object) -> str:
    return value[:MAX_DETAIL] if isinstance(value, str) else ""


def sanitize(
    data: bytes,
    name: str,
    *,
    flatten: bool = False,
    greyscale: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Sanitization:
    """A sanitised copy of ``data`` made by a worker; never raises for anything about the
    file. The copy's name is made safe here, whatever the worker said."""
    request = {"op": "sanitize", "name": name, "flatten": flatten, "greyscale": greyscale}
    if flatten:  # the worker may grant itself up to max_cpu_seconds for a long PDF
        extra = max(0, limits.max_cpu_seconds - limits.cpu_seconds)
        limits = dataclasses.replace(limits, wall_seconds=limits.wall_seconds + extra)
    outcome = run_worker(request, data, limits)
    if outcome.failure is not None:
        return Sanitization(copy=None, failure=outcome.failure)
    result = outcome.result or {}
    if result.get("ok") is False:
        return Sanitization(copy=None, failure=Failure.REFUSED, detail=_text(result.get("message")))
    copy_name, media_type, size = result.get("name"), result.get("media_type"), result.get("size")
    if (
        result.get("ok") is not True
        or not isinstance(copy_name, str)
        or not isinstance(media_type, str)
        or not _MEDIA_TYPE.fullmatch(media_type)
        or type(size) is not int
        or size != len(outcome.payload)
    ):
        return Sanitization(copy=None, failure=Failure.CRASH)
    safe = output_filename(copy_name, fallback="sanitised")
    return Sanitization(copy=Copy(name=safe, data=outcome.payload, media_type=media_type))
