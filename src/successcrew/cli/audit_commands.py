"""``successcrew audit``: what the crew and people did, from the append-only audit log."""

from __future__ import annotations

import json
from typing import Any

import typer

from successcrew.console import console, plain, print_json


def _render(entries: list[dict[str, Any]]) -> None:
    if not entries:
        console.print("no audit entries")
        return
    for e in entries:
        subject = f" {plain(e['subject'])}" if e["subject"] else ""
        # The detail stays on the record's line (grep-able), as compact JSON.
        detail = (
            f" {plain(json.dumps(e['detail'], default=str, separators=(', ', ': ')))}"
            if e["detail"]
            else ""
        )
        console.print(
            f"#{e['id']:<6} {e['at']} {plain(e['actor'])}: {e['action']}{subject}{detail}",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add ``audit`` to ``app``."""

    @app.command()
    def audit(
        ctx: typer.Context,
        action: str = typer.Option(
            None, "--action", help="Only this action, or a family (escalation, pause, setup)."
        ),
        since: str = typer.Option(None, "--since", help="Only entries on or after (ISO)."),
        limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most this many."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """List audit entries, newest first: when, who, what, on what."""
        from successcrew.clock import parse_now
        from successcrew.store.audit import list_entries
        from successcrew.store.db import transaction

        moment = parse_now(since) if since else None
        with transaction(ctx.obj.ready_engine()) as session:
            entries = list_entries(session, action=action, since=moment, limit=limit)
        if as_json:
            print_json({"action": action, "since": moment, "entries": entries})
        else:
            _render(entries)
