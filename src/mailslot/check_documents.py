"""``mailslot check`` for documents: whether they are parsed in the sandbox (and inside
bubblewrap), and whether office files can be flattened.

The sandbox check runs one real worker on a tiny document, as a recipient's request would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from mailslot.check_findings import Finding
from mailslot.documents import office
from mailslot.documents.bwrap import Bubblewrap, bubblewrap_status
from mailslot.documents.sandbox import Limits
from mailslot.documents.sandbox import inspect as inspect_in_sandbox
from mailslot.i18n import N_, LazyText

DOCUMENT_SANDBOX: Final = LazyText(N_("document sandbox"))
OFFICE_FLATTENING: Final = LazyText(N_("office flattening"))


def sandbox_trial() -> str | None:
    """Run one worker on a tiny document, as a recipient's request would; the failure, if any.
    Under a service manager's system-call filter the worker may be killed before it starts."""
    inspection = inspect_in_sandbox(
        b"mailslot check\n", "check.txt", limits=Limits(wall_seconds=30)
    )
    return inspection.failure.value if inspection.failure is not None else None


def document_sandbox(
    status: Callable[[], Bubblewrap] = bubblewrap_status,
    trial: Callable[[], str | None] = sandbox_trial,
) -> Finding:
    """Whether documents can be parsed in the sandbox, and inside bubblewrap
    (documents/sandbox.py)."""
    box = status()
    problem = trial()
    if problem is not None:
        return Finding(
            DOCUMENT_SANDBOX,
            False,
            LazyText(
                N_(
                    "a test document could not be processed (%(problem)s): recipients cannot "
                    "inspect or sanitise documents"
                ),
                problem=problem,
            ),
            LazyText(
                N_(
                    "let the service lower its own resource limits (setrlimit, prlimit64) and, "
                    "for bubblewrap, create namespaces; see docs/threat-model.md, Documents"
                )
            ),
            warn=True,
        )
    if box.usable:
        return Finding(
            DOCUMENT_SANDBOX,
            True,
            LazyText(
                N_(
                    "bubblewrap (%(path)s): documents are parsed with no network and no view of "
                    "the data directory"
                ),
                path=box.path,
            ),
        )
    if box.path is not None:
        return Finding(
            DOCUMENT_SANDBOX,
            False,
            LazyText(
                N_(
                    "bubblewrap is installed but cannot run here, so it is not used "
                    "(%(reason)s): documents are parsed in a child process with resource limits "
                    "and no network, which can still read what this account can read"
                ),
                reason=box.reason,
            ),
            LazyText(
                N_(
                    "allow unprivileged user namespaces (sysctl "
                    "kernel.unprivileged_userns_clone=1; in a container, a seccomp profile that "
                    "permits them); see docs/documents.md"
                )
            ),
            warn=True,
        )
    return Finding(
        DOCUMENT_SANDBOX,
        False,
        LazyText(
            N_(
                "bubblewrap is not installed: documents are parsed in a child process with "
                "resource limits and no network, which can still read what this account can read"
            )
        ),
        "apt install bubblewrap",
        warn=True,
    )


def office_flattening(
    status: Callable[[], Bubblewrap] = bubblewrap_status,
    soffice: Callable[[], str | None] = office.soffice,
) -> Finding:
    """Whether flattened copies of office files can be made: LibreOffice converts them only
    inside bubblewrap (documents/office.py)."""
    program, box = soffice(), status()
    if program is not None and box.usable:
        return Finding(
            OFFICE_FLATTENING,
            True,
            LazyText(
                N_(
                    "LibreOffice (%(path)s) converts office files inside bubblewrap before "
                    "they are flattened"
                ),
                path=program,
            ),
        )
    missing = []
    if program is None:
        missing.append(LazyText(N_("LibreOffice (soffice) is not installed")))
    if not box.usable:
        missing.append(
            LazyText(N_("bubblewrap is not installed"))
            if box.path is None
            else LazyText(N_("bubblewrap cannot run"))
        )
    why = (
        LazyText(N_("%(first)s and %(second)s"), first=missing[0], second=missing[1])
        if len(missing) == 2
        else missing[0]
    )
    return Finding(
        OFFICE_FLATTENING,
        False,
        LazyText(
            N_(
                "%(why)s: office files cannot be flattened (their same-format sanitised copies "
                "still can)"
            ),
            why=why,
        ),
        LazyText(
            N_(
                "apt install bubblewrap libreoffice-core-nogui libreoffice-writer-nogui "
                "libreoffice-calc-nogui libreoffice-impress-nogui; see docs/documents.md"
            )
        ),
        warn=True,
    )
