"""Extension points: agents, triggers and connectors from installed packages.

A package adds to the crew by declaring entry points in one of the groups below (see
docs/extending.md). Discovery goes through one function, ``discover``, so tests can hand it
``EntryPoint`` objects without installing anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from successcrew.errors import ConfigError

GROUPS = ("successcrew.agents", "successcrew.triggers", "successcrew.connectors")


def discover(group: str, extra: Iterable[EntryPoint] = ()) -> dict[str, Any]:
    """Load every entry point of ``group`` (plus ``extra``), by name.

    A plugin that fails to import is a configuration problem of the deployment: it stops the
    command with a message naming the plugin, rather than silently running without it.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown entry-point group {group!r}; expected one of {GROUPS}")
    found: dict[str, Any] = {}
    for ep in [*entry_points(group=group), *extra]:
        try:
            found[ep.name] = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"entry point {ep.name!r} in group {group} ({ep.value}) cannot be loaded: "
                f"{type(exc).__name__}: {exc}"
            ) from None
    return found


def installed(group: str) -> list[dict[str, str]]:
    """The entry points declared for ``group`` without loading them (for ``status``)."""
    return [{"name": ep.name, "value": ep.value} for ep in entry_points(group=group)]
