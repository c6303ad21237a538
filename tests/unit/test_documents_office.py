"""Flattened copies of office files (``documents/office.py``): LibreOffice converts the file
to a PDF inside bubblewrap, the PDF is flattened, and the copy says nothing of its maker.

The conversions need ``soffice`` and a working ``bwrap``: without them those tests skip and
say which is missing, except in CI (``CI=true``), where they fail, since ``scripts/test``
installs both.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pypdfium2
import pytest

from mailslot.check_documents import office_flattening
from mailslot.documents import bwrap, office, worker
from mailslot.documents.errors import NotSanitisable
from mailslot.documents.inspect import inspect_bytes
from mailslot.documents.sandbox import sanitize
from mailslot.documents.sanitize import sanitize_bytes
from tests.unit.documents_corpus import DOCX_TEXT, plain, rich

pytestmark = [pytest.mark.no_database, pytest.mark.timeout(300)]


@cache
def _missing() -> str:
    """Why office files cannot be flattened here ("" when they can)."""
    if office.soffice() is None:
        return "LibreOffice (soffice) is not installed"
    if bwrap.bubblewrap() is None:
        return "bubblewrap is not installed or cannot run here"
    return ""


@pytest.fixture
def converter() -> None:
    missing = _missing()
    if missing and os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"{missing}: scripts/test installs it in CI")
    if missing:
        pytest.skip(f"office flattening needs soffice inside bubblewrap: {missing}")


def _ink(pdf: bytes) -> int:
    """How many clearly dark pixels the first page of ``pdf`` has."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0].render(scale=1, grayscale=True).to_pil()
    finally:
        document.close()
    return sum(page.histogram()[:128])


@pytest.mark.usefixtures("converter")
@pytest.mark.parametrize(
    ("type_", "name", "kinds"),
    [
        ("docx", "report.docx", {"author", "revision"}),  # comments, tracked changes
        ("odt", "report.odt", {"author", "revision"}),
        ("ole", "report.doc", {"author"}),
    ],
)
def test_an_office_file_is_flattened_to_a_clean_pdf(type_: str, name: str, kinds: set[str]) -> None:
    original = rich(type_)
    before = {finding.kind for finding in inspect_bytes(original, name).findings}
    assert kinds <= before  # the corpus file does identify its maker
    made = sanitize(original, name, flatten=True)
    assert made.failure is None, made.detail
    assert made.copy is not None
    assert (made.copy.name, made.copy.media_type) == ("report-clean.pdf", "application/pdf")
    again = inspect_bytes(made.copy.data, made.copy.name)
    assert again.inspected
    assert again.findings == ()
    if type_ != "ole":  # the corpus' legacy file has no text LibreOffice lays out
        assert _ink(made.copy.data) > 50  # the text is still there, as pixels


@pytest.mark.usefixtures("converter")
def test_a_legacy_file_gets_a_clean_copy_in_its_ooxml_counterpart() -> None:
    original = rich("ole")
    assert "author" in {finding.kind for finding in inspect_bytes(original, "report.doc").findings}
    made = sanitize(original, "report.doc")
    assert made.failure is None, made.detail
    assert made.copy is not None
    assert made.copy.name == "report-clean.docx"
    again = inspect_bytes(made.copy.data, made.copy.name)
    assert again.inspected
    assert again.findings == ()


def test_without_bubblewrap_office_files_are_not_flattened() -> None:
    # The worker passes a converter only when it runs in a box (--boxed): without one the
    # plaintext would have to be written to a disk for soffice.
    with pytest.raises(NotSanitisable, match="only where the document sandbox runs inside"):
        sanitize_bytes(rich("docx"), "report.docx", flatten=True)
    # Same-format copies need no converter.
    assert sanitize_bytes(rich("docx"), "report.docx").media_type.endswith("document")


def test_the_conversion_command_holds_nothing_of_the_file() -> None:
    argv = office.command("/usr/bin/soffice", "docx", "pdf")
    assert argv[-1] == f"{office.SCRATCH}/document.docx"
    assert f"-env:UserInstallation=file://{office.SCRATCH}/profile" in argv
    assert all(arg.startswith(("/", "-", "pdf")) for arg in argv)
    assert office.environment()["HOME"].startswith(office.SCRATCH + "/")
    with pytest.raises(NotSanitisable):
        office.convert(b"", "pdf", "docx")  # not one of the conversions


def test_libreoffice_is_given_the_clean_copy_never_the_original() -> None:
    # LibreOffice prints tracked changes (deleted text included): it must convert the file's
    # clean copy, with the changes accepted and the comments gone.
    given: list[tuple[bytes, str, str]] = []

    def convert(data: bytes, source: str, target: str) -> bytes:
        given.append((data, source, target))
        return plain("pdf") if target == "pdf" else rich("docx")

    made = sanitize_bytes(rich("docx"), "report.docx", flatten=True, office=convert)
    assert made.media_type == "application/pdf"
    ((data, source, target),) = given
    assert (source, target) == ("docx", "pdf")
    assert data != rich("docx")
    assert inspect_bytes(data, "report.docx").findings == ()
    assert DOCX_TEXT[2].encode() not in data  # the deleted words
    # A legacy Word file becomes a DOCX first, and that DOCX's clean copy is converted.
    given.clear()
    sanitize_bytes(rich("ole"), "report.doc", flatten=True, office=convert)
    assert [(source, target) for _, source, target in given] == [("doc", "docx"), ("docx", "pdf")]
    assert given[0][0] == rich("ole")  # to the converter only, never to a disk
    assert inspect_bytes(given[1][0], "report.docx").findings == ()


def test_the_audit_hook_lets_only_the_conversion_start(tmp_path: Path) -> None:
    allowed = office.command("/usr/lib/libreoffice/program/soffice", "odt", "pdf")
    hook = worker.guard(str(tmp_path), [allowed])
    env = office.environment()
    hook("subprocess.Popen", (allowed[0], allowed, office.SCRATCH, env))  # allowed
    hook("open", (f"{office.SCRATCH}/document.odt", "wb", os.O_WRONLY | os.O_CREAT))
    hook("open", (os.devnull, None, os.O_RDWR))
    refused = [
        ("subprocess.Popen", ("/bin/sh", ["/bin/sh", "-c", "id"], None, env)),
        ("subprocess.Popen", (allowed[0], [*allowed, "--infilter=x"], None, env)),
        ("subprocess.Popen", (allowed[0], allowed, None, {**env, "LD_PRELOAD": "/tmp/x"})),
        ("subprocess.Popen", ("/bin/sh", allowed, None, env)),
        ("os.system", ("id",)),
        ("open", ("/etc/passwd", "wb", os.O_WRONLY)),
    ]
    for event, args in refused:
        with pytest.raises(PermissionError):
            hook(event, args)
    # Without office commands (not in a box), no process and no scratch folder.
    plain_hook = worker.guard(str(tmp_path))
    with pytest.raises(PermissionError):
        plain_hook("subprocess.Popen", (allowed[0], allowed, office.SCRATCH, env))
    with pytest.raises(PermissionError):
        plain_hook("open", (f"{office.SCRATCH}/document.odt", "wb", os.O_WRONLY | os.O_CREAT))
    with pytest.raises(PermissionError):
        plain_hook("open", (os.devnull, None, os.O_RDWR))
    # Every allowed command is one of the fixed conversions.
    if office.soffice() is not None:
        assert len(office.allowed()) == len(office.CONVERSIONS)


def test_the_box_has_what_libreoffice_reads() -> None:
    options = bwrap.box("/usr/bin/bwrap", "/w")
    read_only = {options[i + 1] for i, arg in enumerate(options) if arg == "--ro-bind-try"}
    assert {"/etc/libreoffice", "/etc/fonts", "/usr"} <= read_only
    assert options[options.index("--tmpfs") + 1] == "/tmp"


def test_check_says_whether_office_files_can_be_flattened() -> None:
    usable = bwrap.Bubblewrap("/usr/bin/bwrap")
    able = office_flattening(lambda: usable, lambda: "/usr/lib/libreoffice/program/soffice")
    assert able.ok
    assert "LibreOffice" in able.detail
    no_soffice = office_flattening(lambda: usable, lambda: None)
    assert not no_soffice.ok
    assert no_soffice.warn
    assert "soffice" in no_soffice.detail
    assert "not installed" in no_soffice.detail
    broken = bwrap.Bubblewrap("/usr/bin/bwrap", reason="no user namespaces")
    no_box = office_flattening(lambda: broken, lambda: "/usr/bin/soffice")
    assert not no_box.ok
    assert "bubblewrap cannot run" in no_box.detail
    neither = office_flattening(lambda: bwrap.Bubblewrap(None), lambda: None)
    assert "soffice) is not installed and bubblewrap is not installed" in neither.detail


def test_a_missing_libreoffice_is_a_clear_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office, "soffice", lambda: None)
    assert office.allowed() == []
    with pytest.raises(NotSanitisable, match="not installed"):
        office.convert(rich("docx"), "docx", "pdf")
