"""The child process that parses one untrusted document: ``python -I -B -m
mailslot.documents.worker --memory N --cpu N --output N``, started only by
:mod:`mailslot.documents.sandbox`, in a fresh empty directory that is its working directory.

Before it reads a byte of the document it confines itself, in this order: a network namespace
of its own (no interface but a loopback that is down; skipped where the kernel refuses, and
then inside bubblewrap's anyway), no core dumps and no ptrace by other processes, no new
privileges, resource limits (address space, CPU time, file size, open files), the parsing
libraries imported under those limits, and an audit hook that refuses sockets, new processes
and any write outside the working directory from Python code.

One spawn path is allowed, and only with ``--boxed`` (which :mod:`.sandbox` passes only when
the worker runs inside bubblewrap): for a flattened copy of an office file, LibreOffice
(``soffice --convert-to``) with exactly the argv and environment that
:func:`mailslot.documents.office.command` and ``environment`` build from constants and the
detected type (never from the file's name or content), and writes in the box's own tmpfs
folder ``office.SCRATCH`` (in memory, gone with the box) where the file must be for soffice,
which reads no pipe. Without bubblewrap no process can start and office files are not
flattened: the plaintext would have to be written to a disk. soffice inherits the box and
this process's limits (see docs/documents.md for the numbers).

Protocol, over pipes only (a file name from a source never appears on a command line):

- in (stdin): a frame (``mailslot.framing``: a big-endian u32 length, then JSON) with
  ``op`` (``inspect`` or ``sanitize``), ``name``, ``flatten`` and ``greyscale``, then the
  document's bytes up to the end of the input;
- out (stdout): a first frame ``{"type": DETECTED}`` as soon as the type is known (so a
  crash later still tells the type), then a result frame: ``{"ok": true, "report": {...}}``,
  or ``{"ok": true, "name", "media_type", "size"}`` followed by ``size`` bytes of the copy,
  or ``{"ok": false, "message": ...}`` when the library refused the file.

Exit status 0 after a result; ``EXIT_MEMORY`` when memory ran out; ``EXIT_CRASH`` for any other
exception (its text is never written anywhere: it could quote the document).

``--test-hooks`` (only the tests pass it) accepts a few more ops that misbehave on purpose, so
that the parent's limits can be tested without a parser bug at hand.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import resource
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, Final

from mailslot import framing

EXIT_MEMORY: Final = 3
EXIT_CRASH: Final = 4
EXIT_USAGE: Final = 5
MAX_REQUEST_FRAME: Final = 64 * 1024
MAX_RESULT_FRAME: Final = 16 * 1024 * 1024
OPS: Final = frozenset({"inspect", "sanitize"})
TEST_OPS: Final = frozenset(
    {"sleep", "spin", "allocate", "crash", "flood", "connect", "write", "netdev", "look", "pages"}
)

_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWNET: Final = 0x40000000
_PR_SET_DUMPABLE: Final = 4
_PR_SET_NO_NEW_PRIVS: Final = 38
_WRITE_FLAGS: Final = (
    os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC | getattr(os, "O_TMPFILE", 0)
)
# Python-level events refused outright once the document is being read.
_REFUSED_EVENTS: Final = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "pty.spawn",
        "urllib.Request",
        "http.client.connect",
        "ftplib.connect",
        "smtplib.connect",
        "poplib.connect",
        "imaplib.open",
        "telnetlib.Telnet.open",
        "webbrowser.open",
    }
)
# Events that change the file system: every path they name must be inside the working folder.
_PATH_EVENTS: Final = frozenset(
    {
        "os.remove",
        "os.rename",
        "os.mkdir",
        "os.rmdir",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.chmod",
        "os.chown",
        "os.utime",
        "os.chflags",
        "os.setxattr",
        "os.removexattr",
        "shutil.rmtree",
        "shutil.move",
        "shutil.copyfile",
    }
)


def isolate_network() -> bool:
    """Move into a network namespace of our own: no interface but a loopback that is down.
    Needs CAP_SYS_ADMIN, or unprivileged user namespaces (then a user namespace too). Done
    first, while the process still has one thread (a user namespace requires that)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET):
        if libc.unshare(flags) == 0:
            return True
    return False


def harden() -> None:
    """No core dump (it would put the plaintext on disk), no ptrace or /proc/PID/mem for other
    processes of the account, and no privileges gained through exec."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def set_limits(*, memory: int, cpu: int, output: int, cpu_max: int | None = None) -> None:
    """Hard limits too, so that nothing in this process can raise them again; CPU time up to
    ``cpu_max`` only, which :func:`grant_pages` may use for a long document."""
    for limit, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, output),
        (resource.RLIMIT_NOFILE, 64),
    ):
        resource.setrlimit(limit, (value, value))
    # SIGXCPU at the soft limit; the kernel's SIGKILL a second later if that is ignored.
    ceiling = max(cpu, cpu_max or cpu)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, ceiling + 1))


def grant_pages(pages: int, *, per_page: float) -> int:
    """More CPU time for a flattened copy of ``pages`` pages (each rendered and compressed):
    the soft limit grows by ``per_page`` a page, up to the hard limit less a second."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    granted = min(hard - 1, soft + math.ceil(per_page * max(pages, 0)))
    resource.setrlimit(resource.RLIMIT_CPU, (granted, hard))
    return granted


def _inside(path: object, folder: str) -> bool:
    if isinstance(path, int):
        return True  # an open descriptor: already allowed when it was opened
    if not isinstance(path, str | bytes | os.PathLike):
        return False
    real = os.path.realpath(os.fsdecode(path))
    return real == folder or real.startswith(folder + os.sep)


def guard(
    folder: str, office: Sequence[Sequence[str]] = ()
) -> Callable[[str, tuple[Any, ...]], None]:
    """The audit hook: sockets, new processes and writes outside ``folder`` are refused.

    ``office`` (inside bubblewrap only) is the one exception: exactly these commands (LibreOffice
    converting a fixed file name, :func:`mailslot.documents.office.command`) with exactly
    :func:`~mailslot.documents.office.environment` may start, and writes are allowed under the
    box's tmpfs scratch folder and to ``/dev/null``. No other program, argument or variable.

    It binds Python code only (a C library could still call the kernel itself); the kernel-level
    confinement is the network namespace, the limits and, where installed, bubblewrap.
    """
    folder = os.path.realpath(folder)
    commands = [list(c) for c in office]
    writable = [folder]
    variables: dict[str, str] = {}
    if commands:
        from mailslot.documents import office as office_  # noqa: PLC0415

        writable.append(office_.SCRATCH)
        variables = office_.environment()

    def spawn_allowed(event: str, args: tuple[Any, ...]) -> bool:
        return (
            bool(commands)
            and event == "subprocess.Popen"
            and len(args) == 4
            and isinstance(args[1], list)
            and args[1] in commands
            and args[0] == args[1][0]
            and args[3] == variables
        )

    def may_write(path: object) -> bool:
        if commands and path == os.devnull:
            return True
        return any(_inside(path, place) for place in writable)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith("socket.") or event in _REFUSED_EVENTS:
            if not spawn_allowed(event, args):
                raise PermissionError(f"{event} is not allowed while reading a document")
        elif event == "open" and len(args) >= 3:
            path, _mode, flags = args[:3]
            if isinstance(flags, int) and flags & _WRITE_FLAGS and not may_write(path):
                raise PermissionError("writing outside the working folder is not allowed")
        elif event in _PATH_EVENTS:
            paths = [a for a in args if isinstance(a, str | bytes | os.PathLike)]
            if not all(may_write(p) for p in paths):
                raise PermissionError(f"{event} outside the working folder is not allowed")

    return hook


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError
    return data


def read_request(stream: IO[bytes]) -> tuple[dict[str, Any], bytes]:
    (length,) = framing.LENGTH.unpack(_read_exact(stream, framing.LENGTH.size))
    if length > MAX_REQUEST_FRAME:
        raise ValueError("request frame too long")

    def malformed() -> Exception:
        return ValueError("malformed request")

    header = framing.decode(_read_exact(stream, length), malformed=malformed)
    return header, stream.read()


def write_frame(stream: IO[bytes], obj: dict[str, Any], payload: bytes = b"") -> None:
    def too_large() -> Exception:
        return ValueError("result frame too long")

    stream.write(framing.encode(obj, limit=MAX_RESULT_FRAME, too_large=too_large))
    stream.write(payload)
    stream.flush()


def _test_op(
    op: str, data: bytes, out: IO[bytes], *, memory: int, namespace: bool, per_page: float
) -> None:
    """Misbehaviour on purpose, for the tests of the parent's limits (``--test-hooks`` only)."""
    write_frame(out, {"type": "unknown"})  # as a real run's first frame
    if op == "sleep":
        time.sleep(3600)
    elif op == "spin":
        while True:
            pass
    elif op == "allocate":
        # Twice the limit: a MemoryError under it, a clear success if the limit were missing.
        hoard = [bytearray(1 << 26) for _ in range(2 * memory // (1 << 26) + 1)]
        write_frame(out, {"ok": True, "allocated": len(hoard)})
    elif op == "crash":
        os.abort()
    elif op == "flood":
        chunk = b"x" * (1 << 20)
        while True:
            out.write(chunk)
    elif op == "netdev":
        with open("/proc/self/net/dev", "rb") as handle:
            lines = handle.read().decode().splitlines()[2:]
        names = sorted(line.split(":", 1)[0].strip() for line in lines)
        write_frame(out, {"ok": True, "namespace": namespace, "interfaces": names})
    elif op == "pages":  # the CPU time a flattened copy of this PDF would get
        from mailslot.documents.flatten import page_count  # noqa: PLC0415

        granted = grant_pages(page_count(data), per_page=per_page)
        write_frame(out, {"ok": True, "cpu": granted})
    elif op == "look":  # what the worker sees of a path outside its folder, and its own pid
        write_frame(out, {"ok": True, "exists": os.path.exists(data.decode()), "pid": os.getpid()})
    elif op in ("connect", "write"):
        try:
            if op == "connect":
                with socket.create_connection(("127.0.0.1", int(data.decode())), timeout=5):
                    pass
            else:
                with open(data.decode(), "wb") as handle:
                    handle.write(b"escaped")
        except OSError as exc:
            write_frame(out, {"ok": True, "refused": type(exc).__name__})
        else:
            write_frame(out, {"ok": True, "refused": None})


def _work(
    header: dict[str, Any], data: bytes, out: IO[bytes], per_page: float, *, boxed: bool
) -> None:
    # PLC0415: imported by main() under the limits first; here they are only looked up.
    from mailslot.documents import office  # noqa: PLC0415
    from mailslot.documents.errors import DocumentError  # noqa: PLC0415
    from mailslot.documents.flatten import page_count  # noqa: PLC0415
    from mailslot.documents.inspect import detect_type, inspect_bytes  # noqa: PLC0415
    from mailslot.documents.sanitize import sanitize_bytes  # noqa: PLC0415

    def office_convert(document: bytes, source: str, target: str) -> bytes:
        converted = office.convert(document, source, target)
        if target == "pdf":
            grant_pages(page_count(converted), per_page=per_page)
        return converted

    name = str(header.get("name", ""))
    detected = detect_type(data, name)
    write_frame(out, {"type": detected})
    try:
        if header["op"] == "inspect":
            write_frame(out, {"ok": True, "report": inspect_bytes(data, name).to_json()})
        else:
            if header.get("flatten") and detected == "pdf":
                grant_pages(page_count(data), per_page=per_page)
            copy = sanitize_bytes(
                data,
                name,
                flatten=bool(header.get("flatten")),
                greyscale=bool(header.get("greyscale")),
                office=office_convert if boxed else None,
            )
            meta = {"name": copy.name, "media_type": copy.media_type, "size": len(copy.data)}
            write_frame(out, {"ok": True, **meta}, copy.data)
    except DocumentError as exc:
        write_frame(out, {"ok": False, "message": str(exc)[:1000]})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mailslot.documents.worker")
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--output", type=int, required=True)
    parser.add_argument("--cpu-max", type=int, default=None)
    parser.add_argument("--cpu-per-page", type=float, default=0.0)
    parser.add_argument("--boxed", action="store_true")  # inside bubblewrap: /tmp is its own
    parser.add_argument("--test-hooks", action="store_true")
    args = parser.parse_args(argv)
    namespace = isolate_network()
    harden()
    set_limits(memory=args.memory, cpu=args.cpu, output=args.output, cpu_max=args.cpu_max)
    out = sys.stdout.buffer
    try:
        # Imported under the limits, before the hook: the libraries load what they need now.
        import mailslot.documents.inspect  # noqa: PLC0415
        import mailslot.documents.sanitize  # noqa: F401, PLC0415
        from mailslot.documents import office  # noqa: PLC0415

        sys.addaudithook(guard(os.getcwd(), office.allowed() if args.boxed else ()))
        header, data = read_request(sys.stdin.buffer)
        op = header.get("op")
        if op in OPS:
            _work(header, data, out, args.cpu_per_page, boxed=args.boxed)
        elif args.test_hooks and op in TEST_OPS:
            _test_op(
                str(op),
                data,
                out,
                memory=args.memory,
                namespace=namespace,
                per_page=args.cpu_per_page,
            )
        else:
            return EXIT_USAGE
    except MemoryError:
        return EXIT_MEMORY
    except BaseException:  # any other failure is a crash; its text could quote the document
        return EXIT_CRASH
    return 0


if __name__ == "__main__":
    # os._exit: no clean-up at exit that could touch anything once the work is done.
    code = main()
    try:
        sys.stdout.flush()
    except OSError:
        code = code or EXIT_CRASH
    os._exit(code)
