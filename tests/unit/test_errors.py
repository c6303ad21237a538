"""The error tree drawn in ``mailslot/errors.py`` is true: every exception class defined in
Mailslot derives from ``MailslotError``, the drawing names every package's root and nothing that
does not exist, and the root module stays a leaf that the crypto core can import."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import mailslot
from mailslot import errors
from mailslot.errors import MailslotError

SRC = Path(mailslot.__file__).resolve().parent
# Alembic loads these itself (``env.py`` reads ``alembic.context.config`` when imported); they
# are parsed instead, and must define no classes.
NOT_IMPORTED = ("mailslot.db.migrations",)


def module_names() -> list[str]:
    """Every module of the package, from the files (so a folder without ``__init__`` counts)."""
    names = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def skipped(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in NOT_IMPORTED)


def exception_classes() -> list[type[BaseException]]:
    """Every exception class defined (not just imported) at the top of a Mailslot module."""
    found = []
    for name in module_names():
        if skipped(name):
            continue
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == name:
                found.append(obj)
    return found


def outside_tree(classes: list[type[BaseException]]) -> list[str]:
    return [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, MailslotError)]


def package_of(module: str) -> str:
    """``crypto`` for ``mailslot.crypto.errors``; ``errors`` for the root module itself."""
    return module.split(".")[1]


def package_root(cls: type[BaseException]) -> type[BaseException]:
    """The most general ancestor of ``cls`` defined in the same package."""
    package = package_of(cls.__module__)
    root = cls
    for base in cls.__mro__:
        ours = issubclass(base, BaseException) and base.__module__.startswith("mailslot.")
        if ours and package_of(base.__module__) == package:
            root = base
    return root


def drawn_names() -> list[str]:
    """The names on the branches of the tree in the root module's docstring."""
    return re.findall(r"[├└]── ([\w.]+)", errors.__doc__ or "")


@pytest.fixture(scope="module")
def classes() -> list[type[BaseException]]:
    return exception_classes()


def test_every_exception_class_derives_from_the_root(classes: list[type[BaseException]]) -> None:
    names = {c.__name__ for c in classes}
    # Positive controls: the walk reaches the packages whose roots were once outside the tree.
    assert {
        "CryptoError",
        "DecryptionError",
        "BackupError",
        "BundleDamaged",
        "ChainBroken",
    } <= names
    assert outside_tree(classes) == []


def test_a_stray_exception_would_be_found() -> None:
    stray = type("Stray", (Exception,), {"__module__": "mailslot.example"})
    assert outside_tree([stray, errors.NotFound]) == ["mailslot.example.Stray"]


def test_modules_left_unimported_define_no_classes() -> None:
    for name in module_names():
        if skipped(name):
            path = SRC.parent.joinpath(*name.split("."))
            path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert not [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)], name


def test_the_drawing_names_every_package_root(classes: list[type[BaseException]]) -> None:
    drawn = set(drawn_names())
    for cls in classes:
        if cls.__module__ == "mailslot.errors":
            expected = cls.__name__
        else:
            root = package_root(cls)
            expected = f"{package_of(root.__module__)}.{root.__name__}"
        if cls is not MailslotError:
            assert expected in drawn, f"{expected} is missing from the tree in mailslot/errors.py"


def test_the_drawing_names_only_what_exists(classes: list[type[BaseException]]) -> None:
    real = {c.__name__ for c in classes if c.__module__ == "mailslot.errors"}
    real |= {f"{package_of(c.__module__)}.{c.__name__}" for c in classes}
    drawn = drawn_names()
    assert len(drawn) >= 10
    assert [name for name in drawn if name not in real] == []


def imported_modules(path: Path) -> list[str]:
    """The absolute modules a file imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def test_the_root_module_is_a_leaf_the_crypto_core_can_import() -> None:
    """The crypto core imports nothing of Mailslot but itself and the root of the error tree,
    and that root (with the package's ``__init__``) imports nothing: no cycle, nothing heavy."""
    assert imported_modules(SRC / "errors.py") == ["__future__"]
    assert imported_modules(SRC / "__init__.py") == []
    for path in sorted((SRC / "crypto").rglob("*.py")):
        ours = [m for m in imported_modules(path) if m.split(".")[0] == "mailslot"]
        others = [m for m in ours if m != "mailslot.errors" and not m.startswith("mailslot.crypto")]
        assert others == [], path.name
