"""Every ``successcrew.x.y`` a reader is pointed to (in a docstring under src/, in README.md,
CONTRIBUTING.md, CHANGELOG.md and docs/*.md) names a module or attribute that exists.

Modules move (services/ was split into packages; more moves follow): a doc that names the old
place sends a newcomer to grep. Names that are not Python paths are told apart, not guessed: a
name the code itself spells as a string (an entry-point group, a logger, an ASGI scope key) and
the few file names below.
"""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "successcrew"
DOCUMENTS = sorted(
    [
        *(ROOT / name for name in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md")),
        *ROOT.glob("docs/*.md"),
    ]
)
#: A dotted name starting with ``successcrew.``, not inside a path, an address or a longer name.
DOTTED = re.compile(r"(?<![\w/@.-])successcrew(?:\.[A-Za-z_]\w*)+")
#: File names that read like dotted paths: the systemd units and the default SQLite file.
FILE_NAMES = frozenset({"successcrew.service", "successcrew.timer", "successcrew.db"})


def _python_files() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


@cache
def _string_names() -> frozenset[str]:
    """Dotted names the code uses as strings (entry-point groups, loggers, scope keys, locks)."""
    found: set[str] = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and DOTTED.fullmatch(value):
                found.add(value)
    return frozenset(found)


def _docstring_references() -> list[tuple[str, str]]:
    """(where, name) for every dotted name in a docstring of a module, class or function."""
    out: list[tuple[str, str]] = []
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, kinds) and (doc := ast.get_docstring(node)):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}"
                out += [(where, name) for name in DOTTED.findall(doc)]
    return out


def _document_references() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for path in DOCUMENTS:
        if path.exists():
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                out += [(f"{path.relative_to(ROOT)}:{number}", n) for n in DOTTED.findall(line)]
    return out


def resolves(name: str) -> bool:
    """True when ``name`` is a module, or an attribute reached from the longest module prefix."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # a real module that failed to import: not this test's question
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def _unresolved(references: list[tuple[str, str]]) -> list[str]:
    exempt = FILE_NAMES | _string_names()
    return [
        f"{where}: {name}"
        for where, name in references
        if name not in exempt and not resolves(name)
    ]


def test_the_pattern_finds_dotted_names_and_skips_paths_and_addresses() -> None:
    text = (
        "see ``successcrew.store.outbox.enqueue`` and (successcrew.llm); not "
        "~/.local/share/successcrew/successcrew.db, lead@successcrew.example or "
        "my_successcrew.thing"
    )
    assert DOTTED.findall(text) == ["successcrew.store.outbox.enqueue", "successcrew.llm"]
    assert resolves("successcrew.store.outbox.enqueue")
    assert resolves("successcrew.sanitise")  # a lazy re-export of the package
    assert not resolves("successcrew.store.outbox.no_such_function")
    assert not resolves("successcrew.services.surveys")  # the module before services/ was split


def test_docstrings_name_real_modules_and_attributes() -> None:
    references = _docstring_references()
    assert references, "no dotted name found in any docstring: is the pattern broken?"
    unresolved = _unresolved(references)
    assert not unresolved, "names that resolve to nothing:\n" + "\n".join(unresolved)


@pytest.mark.parametrize("document", [p.name for p in DOCUMENTS if p.exists()] or ["(none)"])
def test_documents_name_real_modules_and_attributes(document: str) -> None:
    references = [
        (w, n) for w, n in _document_references() if Path(w.split(":")[0]).name == document
    ]
    unresolved = _unresolved(references)
    assert not unresolved, "names that resolve to nothing:\n" + "\n".join(unresolved)
