"""The document sandbox (``documents/sandbox.py`` and ``documents/worker.py``): documents are
parsed in a child process that is limited, cut off from the network and from the file system
outside its own empty folder, and killed whole when it runs too long; whatever goes wrong is a
typed failure ("could not be inspected"), never an exception, and nothing stays on disk.

Hostile inputs (a decompression bomb, a deeply nested PDF, truncated files) go through the
real worker; misbehaviour that needs no parser bug (a hang, a busy loop, an allocation, a
crash, a flood of output, a connection, a write elsewhere) comes from the worker's test hooks,
which only ``Limits(test_hooks=True)`` enables.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pikepdf
import pytest
from PIL import ExifTags, Image

from mailslot.documents import bwrap, sandbox
from mailslot.documents.inspect import inspect_bytes
from mailslot.documents.sandbox import Failure, Limits

pytestmark = [pytest.mark.no_database, pytest.mark.timeout(300)]

HOOKS = Limits(test_hooks=True, wall_seconds=20, cpu_seconds=10)


def photo(*, gps: bool = True) -> bytes:
    """A JPEG with a camera, a body serial number and (``gps``) a position, as phones write."""
    image = Image.new("RGB", (48, 32), (180, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Sandbox Camera Co"
    exif[ExifTags.Base.Model] = "SC-100"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.BodySerialNumber] = "SN-4242-XYZ"
    if gps:
        position = exif.get_ifd(ExifTags.IFD.GPSInfo)
        position[ExifTags.GPS.GPSLatitudeRef] = "N"
        position[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
        position[ExifTags.GPS.GPSLongitudeRef] = "E"
        position[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 36.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 12_000) -> bytes:
    """A greyscale PNG of ``side`` x ``side`` pixels of zeros: some 150 KB that decode to
    ``side`` squared bytes (144 MB by default: above Pillow's warning, below its refusal)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte, then the row
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def nested_pdf(depth: int = 200_000) -> bytes:
    body = b"[" * depth + b"]" * depth
    return (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Deep "
        + body
        + b" >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def workers_of_this_process() -> list[int]:
    """Worker processes whose parent is this test process (there must be none left)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if b"mailslot.documents.worker" in cmdline and parent == os.getpid():
            found.append(int(entry.name))
    return found


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the sandbox makes its working folders during the test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# The command line and the environment.


def test_without_bubblewrap_the_worker_is_python_in_isolated_mode() -> None:
    argv = sandbox.command(Limits(memory=123, cpu_seconds=4, max_output=567), "/w", None)
    assert argv[:5] == [sys.executable, "-I", "-B", "-m", "mailslot.documents.worker"]
    assert argv[5:] == [
        "--memory=123",
        "--cpu=4",
        "--output=567",
        "--cpu-max=300",
        "--cpu-per-page=0.5",
    ]
    assert "--test-hooks" not in sandbox.command(sandbox.DEFAULT_LIMITS, "/w", None)


def test_with_bubblewrap_only_the_working_folder_is_writable() -> None:
    argv = sandbox.command(sandbox.DEFAULT_LIMITS, "/tmp/mailslot-sandbox-x", "/usr/bin/bwrap")
    assert argv[0] == "/usr/bin/bwrap"
    options = argv[: argv.index("--")]
    for flag in ("--unshare-all", "--die-with-parent", "--new-session"):
        assert flag in options
    assert options[options.index("--cap-drop") + 1] == "ALL"
    assert "--share-net" not in options
    # One writable bind, the working folder, which is also the current folder.
    binds = [i for i, arg in enumerate(options) if arg == "--bind"]
    assert [options[i + 1 : i + 3] for i in binds] == [["/tmp/mailslot-sandbox-x"] * 2]
    assert options[options.index("--chdir") + 1] == "/tmp/mailslot-sandbox-x"
    # Python and Mailslot are there, read-only.
    read_only = {options[i + 1] for i, arg in enumerate(options) if arg == "--ro-bind"}
    assert any(sys.prefix.startswith(folder) for folder in read_only)
    package = str(Path(sandbox.__file__).resolve().parents[2])
    assert any(package.startswith(folder) for folder in read_only)
    assert "/usr" in {options[i + 1] for i, arg in enumerate(options) if arg == "--ro-bind-try"}
    # After the separator, the same worker command as without bubblewrap, told it is boxed
    # (its /tmp is the box's own: office.py may write there).
    unboxed = sandbox.command(sandbox.DEFAULT_LIMITS, "/w", None)
    assert argv[argv.index("--") + 1 :] == [*unboxed, "--boxed"]


def test_bubblewrap_is_used_only_when_installed_and_able_to_run(tmp_path: Path) -> None:
    def which(name: str) -> str | None:
        return "/opt/bin/bwrap" if name == "bwrap" else None

    works = bwrap.bubblewrap_status(which, lambda path: "")
    assert (works.path, works.usable) == ("/opt/bin/bwrap", True)
    assert "bubblewrap (/opt/bin/bwrap)" in bwrap.isolation(works)
    absent = bwrap.bubblewrap_status(lambda name: None, lambda path: pytest.fail("tried"))
    assert (absent.path, absent.usable) == (None, False)
    assert "not installed" in bwrap.isolation(absent)
    # A bwrap that cannot make namespaces (as in a container that forbids them) is tried
    # for real, and its own words are the reason given.
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    refused = bwrap.bubblewrap_status(lambda name: str(fake))
    assert refused.usable is False
    assert refused.reason == f"{fake} failed: bwrap: No permissions to create new namespace"
    assert "bubblewrap cannot run: " in bwrap.isolation(refused)


def test_workers_run_inside_bubblewrap_here_or_the_reason_is_known(tmp_path: Path) -> None:
    """On this machine: when bubblewrap can run, a worker sees nothing of the machine's /tmp
    and is the first process of its own PID namespace but for bubblewrap's; when it cannot,
    the fallback says exactly why, and the worker does see the file (positive control)."""
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("not for workers")
    status = bwrap.bubblewrap_status()
    outcome = sandbox.run_worker({"op": "look"}, str(secret).encode(), HOOKS)
    assert outcome.result is not None
    if status.usable:
        assert sandbox.bubblewrap() == status.path
        assert outcome.result["exists"] is False
        assert outcome.result["pid"] <= 3
    else:
        assert sandbox.bubblewrap() is None
        assert status.path is None or status.reason.startswith(f"{status.path} failed")
        assert outcome.result["exists"] is True


def test_the_environment_carries_nothing_of_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILSLOT_DATABASE_URL", "postgresql://secret")
    env = sandbox.environment("/w")
    assert set(env) == {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "LC_ALL",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
    }
    assert env["TMPDIR"] == env["HOME"] == "/w"


# Real documents through the real worker.


def test_a_photo_is_inspected_in_the_worker(private_tmp: Path) -> None:
    data = photo()
    inspection = sandbox.inspect(data, "holiday.jpg")
    assert inspection.failure is None
    report = inspection.report
    assert (report.file, report.type, report.inspected) == ("holiday.jpg", "jpeg", True)
    assert {"gps", "device", "serial"} <= report.kinds()
    # The same report as the library gives in this process (positive control).
    assert report.to_json() == inspect_bytes(data, "holiday.jpg").to_json()
    assert list(private_tmp.iterdir()) == []  # the working folder is gone


def test_a_sanitised_copy_comes_back_and_reveals_nothing(private_tmp: Path) -> None:
    data = photo()
    made = sandbox.sanitize(data, "holiday.jpg")
    assert made.failure is None
    assert made.copy is not None
    assert made.copy.media_type == "image/jpeg"
    assert made.copy.data != data
    again = sandbox.inspect(made.copy.data, made.copy.name)
    assert again.failure is None
    assert not {"gps", "device", "serial"} & again.report.kinds()
    assert list(private_tmp.iterdir()) == []


def test_an_unknown_type_is_not_called_clean() -> None:
    inspection = sandbox.inspect(b"just some words\n", "notes.txt")
    assert inspection.failure is None
    assert inspection.report.inspected is False
    assert inspection.report.to_json()["inspected"] is False


def test_a_decompression_bomb_is_contained() -> None:
    bomb = png_bomb()
    assert len(bomb) < 1_000_000
    limits = Limits(memory=768 * sandbox.MiB, wall_seconds=60, cpu_seconds=30)
    started = time.monotonic()
    inspection = sandbox.inspect(bomb, "bomb.png", limits=limits)
    made = sandbox.sanitize(bomb, "bomb.png", limits=limits)
    assert time.monotonic() - started < 130
    # Decoding would need 144 MB of pixels: the library refuses so large an image, or the
    # memory limit stops it. Either way an answer, and no copy.
    assert inspection.report.type == "png"
    assert inspection.failure in {None, Failure.REFUSED, Failure.MEMORY}
    assert made.copy is None
    assert made.failure in {Failure.REFUSED, Failure.MEMORY}
    assert workers_of_this_process() == []


def test_a_deeply_nested_pdf_gives_an_answer() -> None:
    started = time.monotonic()
    inspection = sandbox.inspect(nested_pdf(), "deep.pdf", limits=Limits(wall_seconds=60))
    assert time.monotonic() - started < 70
    assert inspection.report.type == "pdf"
    if inspection.failure is not None:
        assert inspection.report.inspected is False
        assert inspection.report.note.startswith("could not be inspected")


@pytest.mark.parametrize("kind", ["jpeg", "pdf", "png"])
def test_truncated_files_give_an_answer(kind: str) -> None:
    whole = {"jpeg": photo(), "pdf": nested_pdf(10), "png": png_bomb(64)}[kind]
    cut = whole[: len(whole) // 2]
    inspection = sandbox.inspect(cut, f"cut.{kind}")
    made = sandbox.sanitize(cut, f"cut.{kind}")
    assert inspection.report.file == f"cut.{kind}"
    assert inspection.failure in (None, Failure.REFUSED)
    assert made.failure in (None, Failure.REFUSED)


def test_input_over_the_limit_is_not_even_started(private_tmp: Path) -> None:
    inspection = sandbox.inspect(b"x" * 2048, "big.bin", limits=Limits(max_input=1024))
    assert inspection.failure is Failure.TOO_LARGE
    assert inspection.report.to_json() == {
        "file": "big.bin",
        "type": "unknown",
        "findings": [],
        "inspected": False,
        "note": "could not be inspected: the file is larger than the sandbox accepts",
    }


# Limits, with the test hooks.


def test_test_hooks_need_the_flag() -> None:
    outcome = sandbox.run_worker({"op": "sleep"}, b"", Limits(wall_seconds=20))
    assert outcome.failure is Failure.CRASH  # exit status "usage": no such op


def test_a_hang_is_killed_at_the_wall_clock_limit(private_tmp: Path) -> None:
    started = time.monotonic()
    outcome = sandbox.run_worker({"op": "sleep"}, b"", Limits(test_hooks=True, wall_seconds=2))
    elapsed = time.monotonic() - started
    assert outcome.failure is Failure.TIMEOUT
    assert 2 <= elapsed < 10
    assert workers_of_this_process() == []
    assert list(private_tmp.iterdir()) == []


def test_a_busy_loop_hits_the_cpu_limit() -> None:
    limits = Limits(test_hooks=True, cpu_seconds=1, wall_seconds=30)
    started = time.monotonic()
    outcome = sandbox.run_worker({"op": "spin"}, b"", limits)
    assert outcome.failure is Failure.CPU
    assert time.monotonic() - started < 20


def test_memory_past_the_limit_is_refused() -> None:
    limits = Limits(test_hooks=True, memory=1024 * sandbox.MiB, wall_seconds=30)
    assert sandbox.run_worker({"op": "allocate"}, b"", limits).failure is Failure.MEMORY


def test_a_crash_is_a_failure_not_an_exception() -> None:
    assert sandbox.run_worker({"op": "crash"}, b"", HOOKS).failure is Failure.CRASH


def test_a_worker_that_cannot_start_is_a_failure(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: str(private_tmp / "no-such-bwrap"))
    assert sandbox.inspect(photo(), "a.jpg").failure is Failure.CRASH
    assert list(private_tmp.iterdir()) == []


def test_output_past_the_limit_is_cut_off() -> None:
    limits = Limits(test_hooks=True, max_output=4 * sandbox.MiB, wall_seconds=30)
    started = time.monotonic()
    assert sandbox.run_worker({"op": "flood"}, b"", limits).failure is Failure.OUTPUT
    assert time.monotonic() - started < 20
    assert workers_of_this_process() == []


def test_the_worker_cannot_connect_anywhere() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        outcome = sandbox.run_worker({"op": "connect"}, str(port).encode(), HOOKS)
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert outcome.failure is None
    assert outcome.result is not None
    assert outcome.result["refused"] == "PermissionError"


def test_the_worker_has_a_network_namespace_of_its_own() -> None:
    outcome = sandbox.run_worker({"op": "netdev"}, b"", HOOKS)
    assert outcome.result is not None
    if os.geteuid() == 0:  # root may always make one (elsewhere, where the kernel allows)
        assert outcome.result["namespace"] is True
    if outcome.result["namespace"]:
        assert outcome.result["interfaces"] == ["lo"]


def test_the_worker_cannot_write_outside_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "escaped"
    outcome = sandbox.run_worker({"op": "write"}, str(target).encode(), HOOKS)
    assert outcome.result is not None
    assert outcome.result["refused"] == "PermissionError"
    assert not target.exists()


# What the worker says is checked before it is believed.


def test_a_report_with_an_unknown_kind_is_not_believed() -> None:
    good = {"findings": [{"kind": "gps", "detail": "52 N"}]}
    assert sandbox._report(good, "a.jpg", "jpeg") is not None
    assert sandbox._report({"findings": [{"kind": "bogus", "detail": "x"}]}, "a", "jpeg") is None
    assert sandbox._report({"findings": [{"kind": "gps", "detail": 5}]}, "a", "jpeg") is None
    assert sandbox._report({"findings": "gps"}, "a", "jpeg") is None
    too_many = {"findings": [{"kind": "gps", "detail": "x"}] * (sandbox.MAX_FINDINGS + 1)}
    assert sandbox._report(too_many, "a", "jpeg") is None


def test_mailslot_check_says_whether_bubblewrap_is_used() -> None:
    from mailslot.check_documents import document_sandbox

    absent = document_sandbox(lambda: bwrap.Bubblewrap(None), lambda: None)
    assert (absent.ok, absent.warn, absent.fails) == (False, True, False)
    assert "bubblewrap is not installed" in absent.detail
    assert absent.fix == "apt install bubblewrap"
    refused = bwrap.Bubblewrap("/usr/bin/bwrap", "/usr/bin/bwrap failed: bwrap: denied")
    cannot = document_sandbox(lambda: refused, lambda: None)
    assert (cannot.ok, cannot.warn) == (False, True)
    assert "cannot run here, so it is not used (/usr/bin/bwrap failed: bwrap: denied)" in (
        cannot.detail
    )
    assert "user namespaces" in cannot.fix
    present = document_sandbox(lambda: bwrap.Bubblewrap("/usr/bin/bwrap"))
    assert present.ok  # with the real trial run: a worker starts here
    assert present.detail.startswith("bubblewrap (/usr/bin/bwrap)")


def test_mailslot_check_runs_a_worker_and_says_when_it_cannot_start() -> None:
    from mailslot.check_documents import document_sandbox, sandbox_trial

    assert sandbox_trial() is None  # a real worker, on this machine
    broken = document_sandbox(lambda: bwrap.Bubblewrap("/usr/bin/bwrap"), lambda: "crash")
    assert (broken.ok, broken.warn) == (False, True)
    assert "could not be processed (crash)" in broken.detail
    assert "setrlimit" in broken.fix


# The cap on workers running at once.


def test_worker_slots_cap_the_workers_and_time_out() -> None:
    slots = sandbox.WorkerSlots(2, 0.05)
    with slots.slot() as first, slots.slot() as second:
        assert (first, second) == (True, True)
        started = time.monotonic()
        with slots.slot() as third:
            assert third is False
        assert time.monotonic() - started >= 0.05
    with slots.slot() as again:  # released, including by the one that got none
        assert again is True
    with pytest.raises(ValueError, match="too many"):
        slots._slots.release()  # a bounded semaphore: no slot was given back twice


def test_a_request_waiting_too_long_is_told_to_try_again() -> None:
    from typing import cast

    from mailslot.cases import documents
    from mailslot.context import OrgContext
    from mailslot.errors import TooManyRequests

    slots = sandbox.WorkerSlots(1, 0.05)
    ctx = cast(OrgContext, type("Ctx", (), {"document_slots": slots})())
    with slots.slot() as held:  # another recipient's document, being read
        assert held
        # Refused before the case is even opened (this context has no database at all).
        with pytest.raises(TooManyRequests) as busy:
            documents.inspect_item(ctx, cast(documents.User, None), None, "c", "i")
        assert str(busy.value) == documents.BUSY
        assert busy.value.retry_after == documents.RETRY_AFTER
        with pytest.raises(TooManyRequests):
            documents.sanitized_copy(ctx, cast(documents.User, None), None, "c", "i")
    with pytest.raises(AttributeError):  # with a free slot it goes on to open the case
        documents.inspect_item(ctx, cast(documents.User, None), None, "c", "i")


def test_the_cap_is_configured() -> None:
    from mailslot.config import ConfigError, load_config

    config = load_config({"MAILSLOT_DOCUMENT_WORKERS": "3", "MAILSLOT_DOCUMENT_WAIT": "5"})
    assert (config.document_workers, config.document_wait) == (3, 5)
    assert (load_config({}).document_workers, load_config({}).document_wait) == (2, 30)
    with pytest.raises(ConfigError, match="MAILSLOT_DOCUMENT_WORKERS"):
        load_config({"MAILSLOT_DOCUMENT_WORKERS": "0"})


def test_a_long_pdf_gets_cpu_time_by_its_page_count_up_to_a_ceiling() -> None:
    from tests.unit.documents_corpus import pdf_pages

    limits = Limits(test_hooks=True, cpu_seconds=5, cpu_per_page=2, max_cpu_seconds=8)
    one = sandbox.run_worker({"op": "pages"}, pdf_pages(1), limits)
    three = sandbox.run_worker({"op": "pages"}, pdf_pages(3), limits)
    assert one.result is not None
    assert three.result is not None
    assert (one.result["cpu"], three.result["cpu"]) == (7, 8)  # 5 + 2, then the ceiling


def test_a_forty_page_pdf_is_flattened_in_the_sandbox() -> None:
    from tests.unit.documents_corpus import pdf_pages

    started = time.monotonic()
    made = sandbox.sanitize(pdf_pages(40), "long.pdf", flatten=True, greyscale=True)
    assert made.failure is None, made.detail
    assert made.copy is not None
    with pikepdf.open(io.BytesIO(made.copy.data)) as copy:
        assert len(copy.pages) == 40
    assert time.monotonic() - started < 60
