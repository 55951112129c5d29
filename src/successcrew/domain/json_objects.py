"""Untyped JSON (a provider's webhook body, a stored payload) narrowed for the code that reads it.

``json.loads`` gives ``Any``; ``isinstance(x, Mapping)`` alone leaves the keys' and values' types
unknown to the type checker. Pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast


def json_object(value: object) -> Mapping[str, Any] | None:
    """``value`` as a mapping when it is a JSON object, else None."""
    return cast("Mapping[str, Any]", value) if isinstance(value, Mapping) else None


def json_list(value: object) -> list[Any]:
    """``value`` when it is a JSON array, else an empty list."""
    return cast("list[Any]", value) if isinstance(value, list) else []
