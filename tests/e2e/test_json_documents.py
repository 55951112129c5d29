"""Each listing's ``--json`` document keeps its shape: the same keys, nested the same way, with
values of the same JSON kinds, whatever record type builds it inside.

Scripts read these documents; the read models behind them changed from dicts to typed records,
and the documents must not. The shapes are recorded in json_shapes.json. After a deliberate
change to a document, write the file anew with ``SUCCESSCREW_TEST_WRITE_SHAPES=1 python -m pytest
tests/e2e/test_json_documents.py`` and say in CHANGELOG.md what changed for scripts.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from successcrew.store.models import Account, ActionProposal
from tests.clirunner import run_cli
from tests.dashboard_data import seed_book

SHAPES = Path(__file__).with_name("json_shapes.json")
TODAY = date(2026, 6, 1)
NOW = f"{TODAY.isoformat()}T12:00:00+00:00"
#: Every read-only listing that takes ``--json``, as a user runs it.
LISTINGS: dict[str, tuple[str, ...]] = {
    "status": ("status", "--now", NOW),
    "health": ("health",),
    "health --account": ("health", "--account", "ACME-ENT"),
    "escalations": ("escalations",),
    "triggers": ("triggers",),
    "programs": ("programs", "--now", NOW),
    "outbox": ("outbox",),
    "audit": ("audit",),
    "feedback": ("feedback",),
    "proposals": ("proposals",),
}
#: Keys whose values are data (segment names, reasons, dates), not part of the shape.
DATA_KEYED = frozenset({"active_by_segment", "held_reasons", "counts_by_kind"})


def shape(value: Any) -> Any:
    """Keys and JSON kinds of ``value``; a list's shape merges its elements' shapes."""
    if isinstance(value, dict):
        return {
            key: _data_keyed(item) if key in DATA_KEYED else shape(item)
            for key, item in sorted(value.items())
        }
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = _merge(merged, shape(item))
        return [] if merged is None else [merged]
    return {bool: "bool", int: "number", float: "number", str: "string"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _data_keyed(value: Any) -> Any:
    """A mapping whose keys are data, as ``{"*": shape of its values}``."""
    if not isinstance(value, dict):
        return shape(value)
    merged: Any = None
    for item in value.values():
        merged = _merge(merged, shape(item))
    return {"*": merged} if merged is not None else {}


def _merge(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in sorted({*a, *b})}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if a or b else []
    if a == b or b is None:
        return a
    kinds = set(str(a).split("|")) | set(str(b).split("|"))
    return "|".join(sorted(kinds))


def test_shape_merges_list_elements_and_names_kinds() -> None:
    doc = {"rows": [{"a": 1, "b": None}, {"a": 2.5, "b": "x", "c": True}], "empty": []}
    assert shape(doc) == {
        "empty": [],
        "rows": [{"a": "number", "b": "null|string", "c": "bool"}],
    }


def test_listing_documents_keep_their_shape(
    engine: Engine, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Both engines against one recording: a figure that is a number on SQLite and a string on
    # PostgreSQL (a Decimal) fails here too.
    assert run_cli(capsys, "init").code == 0
    seed_book(engine, TODAY, accounts=6)
    # What the book lacks for a listing to have rows: an audit entry and a proposal.
    assert (
        run_cli(capsys, "pause", "surveys", "--reason", "a survey wave goes out by hand").code == 0
    )
    with engine.begin() as conn:
        account = conn.execute(select(Account.id).order_by(Account.id)).scalars().first()
        conn.execute(
            insert(ActionProposal).values(
                key="crew:test:0",
                source="crew",
                action="internal_task",
                account_id=account,
                status="pending",
                model="test-model",
                proposal={"task": "Call the sponsor", "reason": "Usage halved."},
                messages=[],
                created_at=datetime.fromisoformat(NOW),
            )
        )
    found: dict[str, Any] = {}
    for name, args in LISTINGS.items():
        result = run_cli(capsys, *args, "--json")
        assert result.code == 0, (name, result.err)
        found[name] = shape(result.json())
    if os.environ.get("SUCCESSCREW_TEST_WRITE_SHAPES"):
        SHAPES.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    recorded = json.loads(SHAPES.read_text(encoding="utf-8"))
    for name in LISTINGS:
        assert found[name] == recorded[name], name
