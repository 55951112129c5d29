"""Everything ``successcrew`` re-exports resolves to a real object, and the names a type checker
reads (``__all__`` and the ``if TYPE_CHECKING:`` imports) are the names loaded at run time."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

import successcrew

#: Packages that re-export lazily through ``_EXPORTS`` and a module ``__getattr__``.
LAZY_PACKAGES = ["successcrew", "successcrew.integrations"]


def test_every_export_resolves() -> None:
    for name in successcrew.__all__:
        assert getattr(successcrew, name) is not None, name


def _type_checking_imports(source: str) -> dict[str, str]:
    """name -> "module:attribute" for every import under ``if TYPE_CHECKING:``."""
    found: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom), ast.unparse(statement)
                for alias in statement.names:
                    found[alias.asname or alias.name] = f"{statement.module}:{alias.name}"
    return found


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_typed_names_are_the_lazy_names(package: str) -> None:
    module = importlib.import_module(package)
    exports = {
        name: target if ":" in target else f"{target}:{name}"
        for name, target in module._EXPORTS.items()
    }
    assert set(module.__all__) - {"__version__"} == set(exports)
    assert _type_checking_imports(inspect.getsource(module)) == exports
