"""``successcrew triggers``: list trigger events; ``triggers evaluate`` evaluates by hand."""

from __future__ import annotations

from typing import Any

import typer

from successcrew.console import console, plain, print_json
from successcrew.domain.trigger_rules import value_text


def _render_events(events: list[dict[str, Any]]) -> None:
    if not events:
        console.print("no trigger events")
        return
    for e in events:
        value = value_text(e["metric"] or "", e["value"], e["threshold"])
        threshold = value_text(e["metric"] or "", e["threshold"], None)
        who = e["account"] or e["subject"]
        resolved = f" resolved {e['resolved_at']}" if e["resolved_at"] else ""
        console.print(
            f"#{e['id']:<6} {e['code']} v{e['definition_version']} {e['status']:<8} "
            f"{plain(who)}: value {value} threshold {threshold}, fired {e['fired_at']}{resolved}",
            soft_wrap=True,
        )


def _render_summary(document: dict[str, Any]) -> None:
    for t in document["triggers"]:
        value = "" if t["value"] is None else f" value {value_text(t['metric'], t['value'], None)}"
        threshold = (
            ""
            if t["threshold"] is None
            else f" threshold {value_text(t['metric'], t['threshold'], None)}"
        )
        detail = f" ({plain(t['detail'])})" if t["detail"] else ""
        console.print(
            f"{t['code']} v{t['version']} {t['status']}{value}{threshold}: "
            f"{t['fired']} fired, {t['resolved']} resolved, {t['expired']} expired, "
            f"{t['open']} open, {t['outbox']} outbox{detail}",
            soft_wrap=True,
        )
    for r in document["rollbacks"]:
        console.print(
            f"rollback {r['rule']}: {r['change']} pause {r['scope']}: {plain(r['reason'])}",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add the ``triggers`` group to ``app``."""
    group = typer.Typer(
        name="triggers",
        help="Trigger events (RETENTION-001..004); `triggers evaluate` runs an evaluation.",
        no_args_is_help=False,
    )

    @group.callback(invoke_without_command=True)
    def triggers(
        ctx: typer.Context,
        since: str = typer.Option(None, "--since", help="Only events fired on or after (ISO)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """List trigger events, newest first, with value, threshold and status."""
        if ctx.invoked_subcommand is not None:
            return
        from successcrew.clock import parse_now
        from successcrew.store.db import transaction
        from successcrew.store.trigger_events import list_events

        moment = parse_now(since) if since else None
        with transaction(ctx.obj.ready_engine()) as session:
            events = list_events(session, moment)
        if as_json:
            print_json({"since": moment.isoformat() if moment else None, "events": events})
        else:
            _render_events(events)

    @group.command()
    def evaluate(
        ctx: typer.Context,
        now: str = typer.Option(None, "--now", help="Pretend the time is this (ISO)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Evaluate every enabled trigger definition and the rollback rules now."""
        from successcrew.clock import parse_now
        from successcrew.definitions.escalation_policy import load_policy
        from successcrew.services.triggers.evaluation import evaluate_triggers

        runtime = ctx.obj
        summary = evaluate_triggers(
            runtime.ready_engine(),
            runtime.thresholds,
            parse_now(now),
            settings=runtime.settings,
            policy=load_policy(),
        )
        document = summary.as_dict()
        if as_json:
            print_json(document)
        else:
            _render_summary(document)
        if summary.failed:
            raise typer.Exit(1)

    app.add_typer(group)
