"""successcrew: a self-hosted customer-success and retention crew for B2B SaaS.

The public API is re-exported here and loaded on first use, so that importing the package (and
running ``successcrew --help``) does not pull in the database stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    "Settings": "successcrew.settings:Settings",
    "load_settings": "successcrew.settings:load_settings",
    "Thresholds": "successcrew.definitions.thresholds:Thresholds",
    "load_thresholds": "successcrew.definitions.thresholds:load_thresholds",
    "SuccessCrewError": "successcrew.errors:SuccessCrewError",
    "ConfigError": "successcrew.errors:ConfigError",
    "InputError": "successcrew.errors:InputError",
    "ImportRejected": "successcrew.errors:ImportRejected",
    "LockHeld": "successcrew.errors:LockHeld",
    "sanitise": "successcrew.redaction:sanitise",
    "redact_secrets": "successcrew.redaction:redact_secrets",
    "make_engine": "successcrew.store.db:make_engine",
    "initialise": "successcrew.services.platform.setup:initialise",
    "import_file": "successcrew.imports.pipeline:import_file",
    "ImportResult": "successcrew.imports.pipeline:ImportResult",
    "generate_synthetic": "successcrew.demo.synthetic:generate",
    "SyntheticData": "successcrew.demo.synthetic:SyntheticData",
    "run_demo": "successcrew.demo.runner:run_demo",
}

# Spelled out (not computed from _EXPORTS) so type checkers read it; a test keeps the two equal.
__all__ = [
    "ConfigError",
    "ImportRejected",
    "ImportResult",
    "InputError",
    "LockHeld",
    "Settings",
    "SuccessCrewError",
    "SyntheticData",
    "Thresholds",
    "__version__",
    "generate_synthetic",
    "import_file",
    "initialise",
    "load_settings",
    "load_thresholds",
    "make_engine",
    "redact_secrets",
    "run_demo",
    "sanitise",
]

if TYPE_CHECKING:
    # The same names as _EXPORTS, for type checkers and editors (never run).
    from successcrew.definitions.thresholds import Thresholds, load_thresholds
    from successcrew.demo.runner import run_demo
    from successcrew.demo.synthetic import SyntheticData
    from successcrew.demo.synthetic import generate as generate_synthetic
    from successcrew.errors import (
        ConfigError,
        ImportRejected,
        InputError,
        LockHeld,
        SuccessCrewError,
    )
    from successcrew.imports.pipeline import ImportResult, import_file
    from successcrew.redaction import redact_secrets, sanitise
    from successcrew.services.platform.setup import initialise
    from successcrew.settings import Settings, load_settings
    from successcrew.store.db import make_engine


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'successcrew' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
