"""The shape of the code (docs/architecture.md, "Use cases and the organisation context"),
checked from the imports of every module so that it stays true:

- no part of the JSON API imports an HTML view module;
- no web module imports the crypto package (sealing and opening happen in use cases);
- domain packages never import the web layer or the CLI;
- only ``runtime.py`` builds organisation contexts, and only the web layer and the CLI
  hold a ``Runtime`` (use cases take an ``OrgContext``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mailslot

pytestmark = pytest.mark.no_database

PACKAGE = Path(mailslot.__file__).parent
HTML_VIEWS = {
    "mailslot.web.source",
    "mailslot.web.source_send",
    "mailslot.web.staff",
    "mailslot.web.account",
    "mailslot.web.admin",
    "mailslot.web.audit",
    "mailslot.web.casework",
    "mailslot.web.documents",
    "mailslot.web.channel_settings",
    "mailslot.web.retention",
    "mailslot.web.stats",
    "mailslot.web.webauthn",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {
    module_name(path): imports(path)
    for path in sorted(PACKAGE.rglob("*.py"))
    if "migrations" not in path.parts
}


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_checks_see_the_package() -> None:
    # Positive controls: the walk finds modules and the imports they really have.
    assert "mailslot.web.api_cases" in MODULES
    assert "mailslot.cases.replies" in MODULES["mailslot.web.api_cases"]
    assert set(MODULES) >= HTML_VIEWS


def test_the_api_never_imports_an_html_view() -> None:
    offenders = {
        (name, target)
        for name, targets in MODULES.items()
        if name.startswith("mailslot.web.api")
        for target in targets
        if any(under(target, view) for view in HTML_VIEWS)
    }
    assert offenders == set()


def test_no_web_module_touches_the_crypto_package() -> None:
    offenders = {
        (name, target)
        for name, targets in MODULES.items()
        if under(name, "mailslot.web")
        for target in targets
        if under(target, "mailslot.crypto")
    }
    assert offenders == set()


def test_domain_packages_never_import_the_web_layer_or_the_cli() -> None:
    outer = ("mailslot.web", "mailslot.cli")
    offenders = {
        (name, target)
        for name, targets in MODULES.items()
        if not any(under(name, layer) for layer in outer)
        for target in targets
        if any(under(target, layer) for layer in outer)
    }
    assert offenders == set()


def test_use_cases_take_a_context_not_the_runtime() -> None:
    """Only the process's entry points hold a Runtime: the web apps, the CLI, the jobs loop
    and the runtime module itself."""
    allowed = ("mailslot.web", "mailslot.cli", "mailslot.runtime", "mailslot.jobs")
    offenders = {
        name
        for name, targets in MODULES.items()
        if "mailslot.runtime" in targets or "mailslot.runtime.Runtime" in targets
        if not any(under(name, prefix) for prefix in allowed)
    }
    assert offenders == set()


def test_the_architecture_doc_names_every_module_in_its_folder_line() -> None:
    """docs/architecture.md gives every folder one line that names each of its modules."""
    doc = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text()
    lines = {
        line.split("|")[1].strip().strip("`"): line
        for line in doc.splitlines()
        if line.startswith("| `src/mailslot/")
    }
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py" or "migrations" in path.parts:
            continue
        folder = str(path.parent.relative_to(PACKAGE.parents[1])) + "/"
        line = lines.get(folder, "")
        if f"`{path.name}`" not in line:
            missing.append(str(path.relative_to(PACKAGE.parents[1])))
    assert missing == []
