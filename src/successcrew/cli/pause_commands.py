"""``successcrew pause SCOPE --reason TEXT`` and ``successcrew resume SCOPE --reason TEXT``."""

from __future__ import annotations

from typing import Any

import typer

from successcrew.console import console, plain, print_json
from successcrew.errors import InputError

#: ``resume`` also lifts the pause the health-calculation rollback rule sets (manual scoring).
RESUMABLE_EXTRA = ("scoring",)


def _change(
    ctx: typer.Context, scope: str, reason: str | None, by: str, paused: bool
) -> dict[str, Any]:
    from successcrew.clock import utcnow
    from successcrew.store.db import transaction
    from successcrew.store.pauses import MANUAL_SCOPES, set_paused

    allowed = MANUAL_SCOPES if paused else (*MANUAL_SCOPES, *RESUMABLE_EXTRA)
    if scope not in allowed:
        raise InputError(f"unknown scope {scope!r}; expected one of: {', '.join(allowed)}")
    if not reason or not reason.strip():
        raise InputError("--reason is required: say why, it goes into the audit log")
    with transaction(ctx.obj.ready_engine()) as session:
        changed = set_paused(
            session, scope, paused=paused, reason=reason.strip(), actor=by, now=utcnow()
        )
    return {"scope": scope, "paused": paused, "changed": changed, "by": by, "reason": reason}


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    state = "paused" if result["paused"] else "resumed"
    if result["changed"]:
        console.print(
            f"{result['scope']} {state} by {plain(result['by'])}: {plain(result['reason'])}"
        )
    else:
        console.print(f"{result['scope']} was already {state}; nothing changed")


def register(app: typer.Typer) -> None:
    """Add ``pause`` and ``resume`` to ``app``."""

    @app.command()
    def pause(
        ctx: typer.Context,
        scope: str = typer.Argument(..., help="automation, campaigns or surveys."),
        reason: str = typer.Option(None, "--reason", help="Why (kept in the audit log)."),
        by: str = typer.Option("operator", "--by", help="Who is pausing."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Pause automation, campaigns or surveys; senders hold their messages until resumed."""
        _report(_change(ctx, scope, reason, by, paused=True), as_json)

    @app.command()
    def resume(
        ctx: typer.Context,
        scope: str = typer.Argument(..., help="automation, campaigns, surveys or scoring."),
        reason: str = typer.Option(None, "--reason", help="Why (kept in the audit log)."),
        by: str = typer.Option("operator", "--by", help="Who is resuming."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Lift a pause (set by hand or by a rollback rule); held messages go out again."""
        _report(_change(ctx, scope, reason, by, paused=False), as_json)
