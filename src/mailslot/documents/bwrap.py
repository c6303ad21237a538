"""Bubblewrap around the document worker (:mod:`mailslot.documents.sandbox`): the box's
command line, and whether ``bwrap`` can run on this machine at all.

Inside the box the worker gets new user, PID, network, IPC, UTS and cgroup namespaces, the
system and Python's own folders read-only, a ``/tmp`` of its own in memory, its working
folder as the only writable one, no capabilities, and dies with its parent. A kernel or a
container that forbids unprivileged user namespaces makes ``bwrap`` fail at once; that is
tried once per process (running ``true`` in the same box), and the workers then run without
it, the reason kept for ``mailslot check``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mailslot.documents import worker

# Folders the worker may read inside bubblewrap, besides Python's own (bound if they exist).
SYSTEM_FOLDERS: Final = (
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/etc/alternatives",
    # LibreOffice's own configuration (sofficerc is a link to it: without it soffice stops
    # at once with a UNO RuntimeException) and the fonts it lays out with (office.py).
    "/etc/libreoffice",
    "/etc/fonts",
)
SYSTEM_FILES: Final = ("/etc/ld.so.cache", "/etc/localtime")


def box(bwrap: str, workdir: str) -> list[str]:
    """``bwrap`` and its options, up to and including the ``--`` before the command."""
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    for folder in SYSTEM_FOLDERS:
        argv += ["--ro-bind-try", folder, folder]
    for path in SYSTEM_FILES:
        argv += ["--ro-bind-try", path, path]
    # A /tmp of its own, in memory (S108: inside the sandbox, not this machine's /tmp). It
    # comes before Python's folders: an install or checkout under /tmp is bound on top of it
    # (bubblewrap mounts in order, so a later tmpfs would hide it and no worker could start).
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]  # noqa: S108
    for folder in _python_folders():
        argv += ["--ro-bind", folder, folder]
    return [*argv, "--bind", workdir, workdir, "--chdir", workdir, "--"]


@dataclass(frozen=True, slots=True)
class Bubblewrap:
    """Whether workers run inside bubblewrap here: where ``bwrap`` is installed (None: it is
    not), and why it is not used when it is installed but cannot run (a kernel or a container
    that forbids user namespaces says so on ``bwrap``'s standard error)."""

    path: str | None
    reason: str = ""

    @property
    def usable(self) -> bool:
        return self.path is not None and not self.reason


def _try_bubblewrap(path: str) -> str:
    """Run ``true`` in the same box as a worker; "" if it ran, else bubblewrap's own words."""
    with tempfile.TemporaryDirectory(prefix="mailslot-sandbox-") as workdir:
        try:
            done = subprocess.run(  # noqa: S603 - a fixed command, no document
                [*box(path, workdir), "/bin/true"],
                capture_output=True,
                timeout=30,
                cwd=workdir,
                env={"PATH": "/usr/bin:/bin", "HOME": workdir, "LC_ALL": "C.UTF-8"},
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{path} could not be run ({type(exc).__name__})"
    if done.returncode == 0:
        return ""
    said = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"{path} failed: {said[-1][:300] if said else f'exit status {done.returncode}'}"


def bubblewrap_status(
    which: Callable[[str], str | None] = shutil.which,
    trial: Callable[[str], str] = _try_bubblewrap,
) -> Bubblewrap:
    """Whether ``bwrap`` is installed, and whether it can run a box here (tried once)."""
    path = which("bwrap")
    return Bubblewrap(path=path, reason=trial(path) if path else "")


@functools.cache
def _this_machine() -> Bubblewrap:
    # Tried once per process: the kernel's and the container's rules do not change while
    # it runs, and a trial costs a process start.
    return bubblewrap_status()


def bubblewrap() -> str | None:
    """The path of ``bwrap`` if workers run inside it on this machine."""
    status = _this_machine()
    return status.path if status.usable else None


def _python_folders() -> list[str]:
    """Every folder Python and Mailslot are loaded from (prefixes and ``sys.path``)."""
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    found.append(str(Path(sys.executable).resolve().parent))
    found += [p for p in sys.path if p and os.path.isabs(p)]
    found.append(str(Path(worker.__file__).resolve().parents[2]))  # the package's root
    kept: list[str] = []
    for folder in sorted({os.path.realpath(p) for p in found}, key=len):
        if os.path.isdir(folder) and not any(
            folder == k or folder.startswith(k.rstrip("/") + "/") for k in kept
        ):
            kept.append(folder)
    return kept


def isolation(status: Bubblewrap) -> str:
    """How documents are isolated, in words (for ``mailslot check``)."""
    if status.usable:
        return f"bubblewrap ({status.path}), resource limits, a network namespace"
    if status.path is None:
        return "resource limits and a network namespace (bubblewrap is not installed)"
    return f"resource limits and a network namespace (bubblewrap cannot run: {status.reason})"
