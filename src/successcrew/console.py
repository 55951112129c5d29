"""Rich consoles: results on stdout, progress and errors on stderr (so ``--json`` stays clean)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json(document: Any) -> None:
    """One JSON document on stdout, nothing else (for ``--json``)."""
    print(json.dumps(document, indent=2, default=str, sort_keys=False))


def plain(text: str) -> str:
    """Escape text from data (account names, errors) so Rich does not read it as markup."""
    return escape(text)
