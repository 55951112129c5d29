"""``successcrew pause SCOPE --reason TEXT`` and ``successcrew resume SCOPE --reason TEXT``.

A pause is a hold owned by whoever set it: ``pause`` adds the caller's hold, ``resume`` lifts the
caller's own (or, with ``--rule NAME``, that rule's) and prints the holds that remain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from successcrew.console import console, plain, print_json
from successcrew.errors import InputError

#: ``resume`` also lifts the hold the health-calculation rollback rule sets (manual scoring).
RESUMABLE_EXTRA = ("scoring",)


def resume_hint(scope: str) -> Callable[[dict[str, Any]], str]:
    """How to lift a rule's hold on a ``successcrew pause`` scope."""

    def hint(hold: dict[str, Any]) -> str:
        return f"successcrew resume {scope} --rule {hold['by']} --reason ..."

    return hint


def print_change(
    document: dict[str, Any], as_json: bool, hint: Callable[[dict[str, Any]], str]
) -> None:
    """Print what a pause or resume did and every hold that remains, one line each."""
    if as_json:
        print_json(document)
        return
    scope, holder = document["scope"], plain(document["held_by"])
    owner = f"rule {holder}" if document["kind"] == "rule" else holder
    if document["action"] == "pause":
        if document["changed"]:
            console.print(f"{scope} paused by {holder}: {plain(document['reason'])}")
        else:
            console.print(f"{scope}: {holder} holds it already; nothing changed")
    elif document["changed"]:
        console.print(
            f"{scope}: the hold of {owner} lifted by {plain(document['by'])}: "
            f"{plain(document['reason'])}"
        )
    else:
        console.print(f"{scope}: {owner} holds no pause on it; nothing changed")
    holds = document["holds"]
    if not holds:
        console.print(f"{scope} is not paused: held messages go out on the next dispatch")
        return
    console.print(f"{scope} is paused by {len(holds)} hold(s):")
    for h in holds:
        who = f"rule {plain(h['by'])}" if h["kind"] == "rule" else plain(h["by"])
        line = (
            f"  held by {who} since {h['since'][:16].replace('T', ' ')} UTC: {plain(h['reason'])}"
        )
        if h["kind"] == "rule":
            line += f" (to lift: {hint(h)})"
        console.print(line, soft_wrap=True)


def _change(
    ctx: typer.Context, scope: str, reason: str | None, by: str, rule: str | None, paused: bool
) -> dict[str, Any]:
    from successcrew.clock import utcnow
    from successcrew.services.platform import pausing
    from successcrew.store.db import transaction
    from successcrew.store.pauses import MANUAL_SCOPES

    allowed = MANUAL_SCOPES if paused else (*MANUAL_SCOPES, *RESUMABLE_EXTRA)
    if scope not in allowed:
        raise InputError(f"unknown scope {scope!r}; expected one of: {', '.join(allowed)}")
    with transaction(ctx.obj.ready_engine()) as session:
        if paused:
            change = pausing.pause(session, scope, by=by, reason=reason, now=utcnow())
        else:
            change = pausing.resume(session, scope, by=by, rule=rule, reason=reason, now=utcnow())
    return change.as_dict()


def register(app: typer.Typer) -> None:
    """Add ``pause`` and ``resume`` to ``app``."""

    @app.command()
    def pause(
        ctx: typer.Context,
        scope: str = typer.Argument(..., help="automation, campaigns or surveys."),
        reason: str = typer.Option(None, "--reason", help="Why (kept in the audit log)."),
        by: str = typer.Option("operator", "--by", help="Who is pausing (owns the hold)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Pause automation, campaigns or surveys with your own hold; senders hold their
        messages while any hold on the scope remains."""
        print_change(
            _change(ctx, scope, reason, by, None, paused=True), as_json, resume_hint(scope)
        )

    @app.command()
    def resume(
        ctx: typer.Context,
        scope: str = typer.Argument(..., help="automation, campaigns, surveys or scoring."),
        reason: str = typer.Option(None, "--reason", help="Why (kept in the audit log)."),
        by: str = typer.Option("operator", "--by", help="Who is resuming."),
        rule: str = typer.Option(
            None, "--rule", help="Lift this rule's hold (e.g. nps_drop) instead of your own."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Lift your own hold on a scope (or, with --rule, a rule's); prints the holds that
        remain. Held messages go out again once no hold remains."""
        print_change(
            _change(ctx, scope, reason, by, rule, paused=False), as_json, resume_hint(scope)
        )
