"""What the benchmarks share: a real ``mailslot serve`` in its own data directory, accounts
made through the CLI, a streaming multipart body, an RSS sampler, and a description of the
machine. Imported by the scripts next to it (``python bench/<name>.py`` puts ``bench/`` on
``sys.path``)."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import cryptography
import httpx
import pyotp

from mailslot.crypto import DEFAULT_KDF

REPO = Path(__file__).resolve().parent.parent
# BENCH_RESULTS_DIR moves the JSON files elsewhere (the test of bench/run --quick does).
RESULTS = Path(os.environ.get("BENCH_RESULTS_DIR") or REPO / "bench" / "results")
MiB = 1024 * 1024
GiB = 1024 * MiB
MB = 1_000_000  # throughput is reported in decimal megabytes per second

CSRF_RE = re.compile(r'name="csrf" value="([^"]*)"')
CODENAME_RE = re.compile(r'<p class="codename" id="codename" lang="en">([^<]+)</p>')


# Statistics.


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); enough for a few hundred samples."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 95),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


# The machine.


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_mib() -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def filesystem(path: Path) -> str:
    """Type and device of the filesystem holding ``path`` (longest mount prefix)."""
    best = ("", "unknown", "unknown")
    target = str(path.resolve())
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best[0]):
                best = (mount, kind, device)
    return f"{best[1]} on {best[2]} (mounted at {best[0]})"


def machine(data_parent: Path) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_mib": _mem_total_mib(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "filesystem": filesystem(data_parent),
        "cryptography": cryptography.__version__,
        "httpx": httpx.__version__,
        "kdf": DEFAULT_KDF.encode(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


# Resident memory and CPU time of the server process and its children.


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` plus all its descendants, in KiB (0 once the process is gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
        pending += _children(current)
    return total


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` (all its threads) so far."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    return 0.0


class RssSampler:
    """Samples the server's RSS every ``interval`` seconds in a thread, keeping the peak."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak_kib = rss_kib(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, rss_kib(self.pid))


def idle_rss_kib(pid: int, settle: float = 1.0) -> int:
    """RSS once the server has been quiet for ``settle`` seconds (the lowest of a few reads)."""
    time.sleep(settle)
    readings = []
    for _ in range(5):
        readings.append(rss_kib(pid))
        time.sleep(0.05)
    return min(readings)


# A real server.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


class Totp:
    """TOTP codes the server has not seen yet (it accepts each code once)."""

    def __init__(self) -> None:
        self.used: dict[str, int] = {}

    def code(self, secret: str) -> str:
        totp = pyotp.TOTP(secret)
        while True:
            now = int(time.time()) // 30
            # Not the previous step's code: it stops working when the next step begins, and a
            # login on a busy machine can take seconds to be checked (a token request failed
            # with 401 that way in a test run). The current one works for 30 to 60 s more.
            for counter in (now, now + 1):
                if counter > self.used.get(secret, 0):
                    self.used[secret] = counter
                    return str(totp.generate_otp(counter))
            time.sleep(1)


@dataclass
class Account:
    username: str
    password: str
    totp_secret: str


@dataclass
class Server:
    """``mailslot serve`` with default settings (default Argon2id cost, SQLite) in ``base``."""

    base: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    source_url: str
    staff_url: str
    totp: Totp = field(default_factory=Totp)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def cli(self, *args: str) -> Any:
        out = subprocess.run(
            [sys.executable, "-m", "mailslot.cli.main", *args],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        return json.loads(out.stdout)

    def add_recipient(self, username: str = "bench-recipient") -> Account:
        password = "bench password " + secrets.token_hex(8)
        pw_file = self.base / f"{username}.pw"
        pw_file.write_text(password + "\n")
        try:
            data = self.cli(
                "users", "add", "--username", username, "--role", "recipient",
                "--password-file", str(pw_file), "--json",
            )  # fmt: skip
        finally:
            pw_file.unlink()
        return Account(username, password, str(data["totp_secret"]))

    def add_channel(self, name: str, recipient: str) -> str:
        data = self.cli("channels", "add", "--name", name, "--recipient", recipient, "--json")
        return str(data["id"])

    def api_token(self, account: Account) -> str:
        response = httpx.post(
            f"{self.staff_url}/api/v1/auth/token",
            json={
                "username": account.username,
                "password": account.password,
                "totp": self.totp.code(account.totp_secret),
            },
            timeout=120,
        )
        if response.status_code != 200:
            raise RuntimeError(f"token: {response.status_code} {response.text}")
        return str(response.json()["token"])

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.base / "server.log").read_text(errors="replace")
        return ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    # The server runs in its own session, so its group id is its pid.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def clean_up_on_sigterm() -> None:
    """Make SIGTERM raise, like Ctrl-C does, so that every ``finally`` runs: servers run in
    their own session (a signal to the benchmark does not reach them) and temporary files
    must go. Call it first thing in ``main``."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


# The benchmarks measure capacity. Instance-wide rate limits are policy, set below capacity
# on purpose (a flood gets a calm "busy" page), so they are turned off unless asked for.
# Unknown variables are ignored by servers that have no such limits.
# `./scripts/run`: what a user starts (it installs what the configuration needs, then execs
# `mailslot serve`); its arguments go to `mailslot serve`.
RUN_SCRIPT: tuple[str, ...] = (str(REPO / "scripts" / "run"),)

RATE_LIMITS_OFF: dict[str, str] = {
    "MAILSLOT_NEW_SOURCE_RATE": "0",
    "MAILSLOT_SUBMISSION_RATE": "0",
}


@contextlib.contextmanager
def running_server(
    data_parent: Path | None = None,
    *,
    rate_limits: bool = False,
    command: Sequence[str] = (sys.executable, "-m", "mailslot.cli.main", "serve"),
    settings: dict[str, str] | None = None,
    start_timeout: float = 60,
) -> Iterator[Server]:
    """Start a server in a fresh temporary directory; stop it and delete the directory after,
    whatever happens. ``MAILSLOT_*`` variables from the caller's environment are dropped so
    the server runs with its defaults (Argon2id cost included), except that rate limits are
    off unless ``rate_limits``, and ``settings`` (more ``MAILSLOT_*`` variables) are added.
    ``command`` starts it (``RUN_SCRIPT``: as a user's ``./scripts/run`` does)."""
    base = Path(tempfile.mkdtemp(prefix="mailslot-bench-", dir=data_parent))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSLOT_")}
        env |= {
            "MAILSLOT_DATA_DIR": str(base / "data"),
            "MAILSLOT_LOG_LEVEL": "warning",
            "TMPDIR": str(base / "tmp"),
        }
        if not rate_limits:
            env |= RATE_LIMITS_OFF
        env |= settings or {}
        (base / "tmp").mkdir()
        with serving(env, base / "server.log", command, start_timeout) as (proc, env, urls):
            yield Server(base=base, proc=proc, env=env, source_url=urls[0], staff_url=urls[1])
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def serving(
    env: dict[str, str],
    log_path: Path,
    command: Sequence[str] = (sys.executable, "-m", "mailslot.cli.main", "serve"),
    start_timeout: float = 60,
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str], tuple[str, str]]]:
    """``command`` (``mailslot serve``) with ``env`` on free loopback ports, its output in
    ``log_path``: the process, its environment with the addresses, and the source and staff
    URLs once both listen (else the error ends with the log). Stopped after, whatever
    happens. Shared with ``tools/screenshots.py``."""
    source_port, staff_port = free_port(), free_port()
    env = env | {
        "MAILSLOT_SOURCE_ADDR": f"127.0.0.1:{source_port}",
        "MAILSLOT_STAFF_ADDR": f"127.0.0.1:{staff_port}",
        "MAILSLOT_OPERATOR_ADDR": f"127.0.0.1:{free_port()}",
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            list(command),
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        try:
            _wait_for_port(source_port, proc, start_timeout)
            _wait_for_port(staff_port, proc, start_timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log_path.read_text(errors='replace')}") from None
        yield proc, env, (f"http://127.0.0.1:{source_port}", f"http://127.0.0.1:{staff_port}")
    finally:
        _stop(proc)


@dataclass
class Ceiling:
    """``bench/ceiling.py``: a do-nothing ASGI app under uvicorn, as ``mailslot serve`` runs it."""

    proc: subprocess.Popen[bytes]
    url: str

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.contextmanager
def running_ceiling() -> Iterator[Ceiling]:
    """Start ``bench/ceiling.py`` on a free port; stop it after, whatever happens."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "bench" / "ceiling.py"), "--port", str(port)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            try:
                _wait_for_port(port, proc)
            except RuntimeError as exc:
                log.seek(0)
                raise RuntimeError(f"{exc}\n{log.read().decode(errors='replace')}") from None
            yield Ceiling(proc=proc, url=f"http://127.0.0.1:{port}")
        finally:
            _stop(proc)


# Driving the source interface like a browser without JavaScript.


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    if match is None:
        raise RuntimeError("no CSRF token in the page")
    return match[1]


def new_source(client: httpx.Client) -> str:
    """POST /new: a codename and a session (the source row comes with the first submission)."""
    page = client.post("/new")
    match = CODENAME_RE.search(page.text)
    if page.status_code != 200 or match is None:
        raise RuntimeError(f"/new: {page.status_code} {page.text[:500]}")
    return unescape(match[1])


def submit_csrf(client: httpx.Client) -> str:
    page = client.get("/submit")
    if page.status_code != 200:
        raise RuntimeError(f"/submit: {page.status_code}")
    return csrf_of(page.text)


# Multipart bodies built by hand, so that a file is streamed and never held in memory.


@dataclass(frozen=True)
class FilePart:
    """``size`` bytes made of ``block`` repeated (a random block: incompressible, and cheap
    for the client to produce, so the client does not compete with the server for CPU)."""

    filename: str
    size: int
    block: bytes
    content_type: str = "application/octet-stream"

    def chunks(self) -> Iterator[bytes]:
        whole, rest = divmod(self.size, len(self.block))
        for _ in range(whole):
            yield self.block
        if rest:
            yield self.block[:rest]


class Multipart:
    """A ``multipart/form-data`` body in field order, with its exact length, as a generator."""

    def __init__(self, fields: Sequence[tuple[str, str]], files: Sequence[FilePart]) -> None:
        self.boundary = "----mailslotbench" + secrets.token_hex(16)
        self.fields = fields
        self.files = files
        for part in files:
            doubled = part.block + part.block[: len(self.boundary) + 4]
            if self.boundary.encode() in doubled:  # pragma: no cover - 2**-128
                raise RuntimeError("boundary occurs in the data; run again")

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _field(self, name: str, value: str) -> bytes:
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()

    def _file_head(self, part: FilePart) -> bytes:
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{part.filename}"\r\nContent-Type: {part.content_type}\r\n\r\n'
        ).encode()

    def _tail(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        total = sum(len(self._field(n, v)) for n, v in self.fields)
        total += sum(len(self._file_head(p)) + p.size + 2 for p in self.files)
        return total + len(self._tail())

    def __iter__(self) -> Iterator[bytes]:
        for name, value in self.fields:
            yield self._field(name, value)
        for part in self.files:
            yield self._file_head(part)
            yield from part.chunks()
            yield b"\r\n"
        yield self._tail()

    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "Content-Length": str(len(self))}


def post_submission(
    client: httpx.Client, csrf: str, message: str, files: Sequence[FilePart] = ()
) -> httpx.Response:
    """POST /submit as a browser does: csrf first, the message, then the file input (an empty
    file part when nothing was chosen). Success is a 303 to /submitted."""
    empty = FilePart("", 0, b"\0")
    body = Multipart([("csrf", csrf), ("message", message)], list(files) or [empty])
    response = client.post("/submit", content=iter(body), headers=body.headers())
    if response.status_code != 303 or not response.headers.get("location", "").endswith(
        "/submitted"
    ):
        raise RuntimeError(f"/submit: {response.status_code} {response.text[:500]}")
    return response


def check_free_space(path: Path, needed: int) -> None:
    free = shutil.disk_usage(path).free
    if free < needed:
        raise SystemExit(
            f"not enough free space in {path}: {free / GiB:.1f} GiB free, "
            f"{needed / GiB:.1f} GiB needed"
        )


def browser_client(base_url: str, timeout: float) -> httpx.Client:
    """An HTTP client that sends what a browser's form post sends: ``Origin`` names the
    site (Mailslot refuses a form post that carries neither ``Origin`` nor
    ``Sec-Fetch-Site``)."""
    return httpx.Client(base_url=base_url, timeout=timeout, headers={"Origin": base_url})
