"""Where the crew finds its definitions (config/, triggers/, agents/, crews/) and migrations.

Order: ``SUCCESSCREW_PROJECT_DIR`` when set, else the checkout this package runs from, else the
copies shipped inside the wheel under ``successcrew/_defaults``.
"""

from __future__ import annotations

import os
from pathlib import Path

from successcrew.errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parent
_DEFAULTS_DIR = _PACKAGE_DIR / "_defaults"
_CHECKOUT_DIR = _PACKAGE_DIR.parent.parent


def project_dir() -> Path:
    """The directory holding ``config/``, ``triggers/``, ``agents/`` and ``crews/``.

    A ``SUCCESSCREW_PROJECT_DIR`` that is not a directory raises ConfigError (exit 2): falling
    back to the shipped defaults would run the crew on definitions nobody chose, and ``init``
    would sync the default triggers over the operator's own.
    """
    override = os.environ.get("SUCCESSCREW_PROJECT_DIR")
    if override:
        directory = Path(override).expanduser().resolve()
        if not directory.is_dir():
            what = "is not a directory" if directory.exists() else "does not exist"
            raise ConfigError(
                f"SUCCESSCREW_PROJECT_DIR={override}: {what}. Point it at the directory holding "
                "your config/, triggers/, agents/ and crews/, or unset it to use the definitions "
                "shipped with successcrew."
            )
        return directory
    if (_CHECKOUT_DIR / "config" / "thresholds.yaml").is_file() and (
        _CHECKOUT_DIR / "pyproject.toml"
    ).is_file():
        return _CHECKOUT_DIR
    return _DEFAULTS_DIR


def definition_path(*parts: str) -> Path:
    """A path inside the project directory, falling back to the shipped default per file.

    A deployment may override only some files (say ``config/thresholds.yaml``); anything it does
    not carry is taken from the defaults that ship with the package.
    """
    primary = project_dir().joinpath(*parts)
    if primary.exists():
        return primary
    for fallback_root in (_CHECKOUT_DIR, _DEFAULTS_DIR):
        candidate = fallback_root.joinpath(*parts)
        if candidate.exists() and (fallback_root / "config").is_dir():
            return candidate
    return primary


def migrations_dir() -> Path:
    """The Alembic script directory (always the one matching this code, never a project copy)."""
    checkout = _CHECKOUT_DIR / "migrations"
    if (checkout / "env.py").is_file():
        return checkout
    return _DEFAULTS_DIR / "migrations"
