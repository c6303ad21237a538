"""Office files (DOCX/XLSX/PPTX, ODT/ODS/ODP, legacy DOC/XLS/PPT) turned into a PDF by
LibreOffice, so that a flattened copy can be rendered from it (:mod:`.flatten`).

This is the one place where the document worker starts a process, and it does so only inside
bubblewrap (``--boxed``, passed by :mod:`.sandbox` only when the worker runs in a box):

- ``soffice`` cannot read a pipe or a memfd, so the plaintext must be a file. Inside the box
  ``/tmp`` is a tmpfs of the box's own (in memory, gone with the box), and the file is written
  there, under :data:`SCRATCH`, never in the working folder (which is on the host's disk).
  Without bubblewrap there is no such place, and office files are refused rather than written
  to a disk.
- The command is built here from constants and the detected type only (:func:`command`): the
  input's name is fixed (``document`` plus an extension from :data:`CONVERSIONS`), nothing
  of the file's name or content reaches the command line or the environment. The worker's
  audit hook lets through exactly the commands :func:`allowed` lists, and writes under
  :data:`SCRATCH` and to ``/dev/null`` (soffice's output goes there).
- LibreOffice prints tracked changes (deleted text included) and can print comments, so what
  it converts to PDF is never the original but its same-format clean copy (changes accepted,
  comments gone: :func:`mailslot.documents.sanitize.sanitize_bytes`). A legacy file, which
  has no clean copy of its own, is first converted to its OOXML counterpart (``.doc`` to
  DOCX, ``.xls`` to XLSX, ``.ppt`` to PPTX; :func:`legacy_kind` tells them apart by their
  streams), which is cleaned and then converted to PDF.
- ``soffice`` inherits the box (no network, the system folders read-only, no capabilities)
  and the worker's limits (address space, open files, CPU time; LibreOffice 24 converts a
  document in about 1 to 3 s within 1 GiB and 64 files), and the sandbox's wall-clock limit
  for a flattened copy kills it with the box. Its own profile lives in the scratch folder
  (``-env:UserInstallation``), so no settings of any account are read or written.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Final

import olefile

from mailslot.documents.errors import NotSanitisable, UnreadableDocument
from mailslot.documents.parsing import reading

OFFICE_TYPES: Final = frozenset({"docx", "xlsx", "pptx", "odt", "ods", "odp", "ole"})
# A legacy OLE file's kind (by its streams) and the OOXML type LibreOffice turns it into.
LEGACY: Final[dict[str, str]] = {"doc": "docx", "xls": "xlsx", "ppt": "pptx"}
# Every conversion the worker may ask for: (the input's type or extension, the output's).
CONVERSIONS: Final[tuple[tuple[str, str], ...]] = (
    *((type_, "pdf") for type_ in ("docx", "xlsx", "pptx", "odt", "ods", "odp")),
    *LEGACY.items(),
)
# In the box's own tmpfs (S108: inside bubblewrap, not this machine's /tmp).
SCRATCH: Final = "/tmp/mailslot-office"  # noqa: S108
_OUT: Final = f"{SCRATCH}/out"
_PROFILE: Final = f"{SCRATCH}/profile"
_HOME: Final = f"{SCRATCH}/home"
_CANDIDATES: Final = ("/usr/lib/libreoffice/program/soffice", "/usr/bin/soffice")
MAX_OUTPUT: Final = 256 * 1024 * 1024

# ``convert(data, source, target)``: the worker's converter (:func:`convert`, inside a box).
Converter = Callable[[bytes, str, str], bytes]


def soffice() -> str | None:
    """Where LibreOffice's ``soffice`` is, or None."""
    found = shutil.which("soffice", path="/usr/bin:/bin")
    if found is not None:
        return os.path.realpath(found)
    return next((p for p in _CANDIDATES if os.access(p, os.X_OK)), None)


def command(program: str, source: str, target: str) -> list[str]:
    """A conversion's argv: constants, ``program`` and the input's fixed name."""
    return [
        program,
        "--headless",
        "--norestore",
        "--nologo",
        "--nolockcheck",
        "--nodefault",
        f"-env:UserInstallation=file://{_PROFILE}",
        "--convert-to",
        target,
        "--outdir",
        _OUT,
        f"{SCRATCH}/document.{source}",
    ]


def environment() -> dict[str, str]:
    """soffice's whole environment: its home and temporary files in the scratch folder."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": _HOME,
        "TMPDIR": SCRATCH,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "SAL_USE_VCLPLUGIN": "svp",  # headless rendering, no display
    }


def allowed() -> list[list[str]]:
    """Every command the worker's audit hook lets start (none without soffice)."""
    program = soffice()
    return [] if program is None else [command(program, s, t) for s, t in CONVERSIONS]


def legacy_kind(data: bytes) -> str:
    """Whether a legacy OLE file is a Word (``doc``), Excel (``xls``) or PowerPoint (``ppt``)
    file, by the stream that holds its content."""
    with reading("ole"):
        ole = olefile.OleFileIO(io.BytesIO(data))
        try:
            if ole.exists("WordDocument"):
                return "doc"
            if ole.exists("Workbook") or ole.exists("Book"):
                return "xls"
            if ole.exists("PowerPoint Document"):
                return "ppt"
        finally:
            ole.close()
    raise NotSanitisable("ole: neither a Word, an Excel nor a PowerPoint file")


def convert(data: bytes, source: str, target: str) -> bytes:
    """``data`` (of type ``source``) converted to ``target`` by LibreOffice, in the box's
    tmpfs. Call only inside bubblewrap (the worker's ``--boxed``)."""
    if (source, target) not in CONVERSIONS:
        raise NotSanitisable(f"{source}: LibreOffice does not convert it to {target} here")
    program = soffice()
    if program is None:
        raise NotSanitisable(f"{source}: LibreOffice (soffice) is not installed on the server")
    for folder in (SCRATCH, _OUT, _PROFILE, _HOME):
        os.makedirs(folder, mode=0o700, exist_ok=True)
    path = f"{SCRATCH}/document.{source}"
    with open(path, "wb") as handle:
        handle.write(data)
    try:
        done = subprocess.run(  # noqa: S603 - constants and a fixed name: see command()
            command(program, source, target),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=SCRATCH,
            env=environment(),
            check=False,
        )
    finally:
        os.remove(path)
    output = f"{_OUT}/document.{target}"
    if done.returncode != 0 or not os.path.isfile(output):
        raise UnreadableDocument(f"{source}: LibreOffice could not convert the file")
    try:
        with open(output, "rb") as handle:
            converted = handle.read(MAX_OUTPUT + 1)
    finally:
        os.remove(output)
    if len(converted) > MAX_OUTPUT:
        raise UnreadableDocument(f"{source}: the converted file is too large")
    return converted
