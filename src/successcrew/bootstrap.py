"""``successcrew init``: bring the schema to head and sync the definitions into the database.

Later pieces (trigger definitions, setup steps) name their sync functions in ``SYNC_STEPS`` as
``"module:function"``; each takes a session and ``now`` and returns a line for the report.
Running init twice changes nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from successcrew.store.db import redacted_url, transaction
from successcrew.store.migrate import upgrade

SyncStep = Callable[[Session, datetime], str]

#: Definition syncs run by ``init`` after the schema is current, in this order.
SYNC_STEPS: tuple[str, ...] = (
    "successcrew.triggers:sync_trigger_definitions",
    "successcrew.crew:sync_setup_steps",
)


def _load(path: str) -> SyncStep:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def initialise(engine: Engine, *, now: datetime) -> dict[str, Any]:
    """Upgrade the schema and run every definition sync; returns what was done."""
    before, after = upgrade(engine)
    lines = []
    with transaction(engine) as session:
        for step in SYNC_STEPS:
            lines.append(_load(step)(session, now))
    return {
        "database": redacted_url(engine),
        "schema_before": before,
        "schema_after": after,
        "definitions": lines,
    }
