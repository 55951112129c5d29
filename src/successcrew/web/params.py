"""Reading what a request carries, strictly: whole numbers from a query string or a form, row ids
in a path, JSON bodies. Each refuses malformed input with a ``ValueError`` whose message says what
was wrong, so an endpoint answers 400, never 500.

Python's own readers are too lenient or too fragile for input from anyone: ``str.isdigit`` is
true for ``²`` (which ``int`` refuses), ``int`` refuses more than 4,300 digits with an error and
a huge number overflows SQLite's 64-bit integers, and ``json.loads`` raises ``RecursionError``
(not a ``ValueError``) on deeply nested arrays.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Path

#: The largest row id a path may name (SQLite's and PostgreSQL's 64-bit integers).
MAX_ROW_ID = 2**63 - 1
#: A row id in a path (``/my-work/{task_id}``): out of range is a 400, not a database error.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
#: Deepest nesting of a JSON body we read. Segment calls, SendGrid and Mandrill events and Slack
#: payloads nest well under 20 levels; a body deeper than this is not one of them.
MAX_JSON_DEPTH = 64

_ASCII_DIGITS = re.compile(r"[0-9]+")


def shown(raw: str, limit: int = 40) -> str:
    """``raw`` quoted for an error message, cut to ``limit`` characters."""
    return repr(raw if len(raw) <= limit else raw[:limit] + "...")


def whole_number(raw: str, *, name: str, low: int, high: int) -> int:
    """``raw`` (spaces around it allowed) as an int from ``low`` to ``high``; ValueError naming
    ``name`` otherwise. Only the ASCII digits 0-9 count."""
    text = raw.strip()
    if not _ASCII_DIGITS.fullmatch(text) or len(text.lstrip("0")) > len(str(high)):
        raise ValueError(f"{name}={shown(raw)}: must be a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{name}={shown(raw)}: must be a whole number from {low} to {high}")
    return value


def _problem(document: Any, limit: int) -> str | None:
    """What makes a parsed document unreadable for us: nesting deeper than ``limit`` levels, or
    a NUL character in a string (PostgreSQL refuses text with NUL). Walked without recursion."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "the JSON contains a NUL character (\\u0000)"
            continue
        if isinstance(value, dict):
            children: list[Any] = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return f"the JSON is nested deeper than {limit} levels"
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, dict | list | str)
        )
    return None


def load_json(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON document in ``data``; ValueError saying why when it is not JSON, not UTF-8,
    nested deeper than ``max_depth`` levels or holds a NUL character."""
    try:
        document = json.loads(data)
    except RecursionError:
        raise ValueError(f"the JSON is nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8 text") from None
    except ValueError:
        raise ValueError("the body is not JSON") from None
    problem = _problem(document, max_depth)
    if problem is not None:
        raise ValueError(problem)
    return document
