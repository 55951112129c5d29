"""``successcrew escalations`` and ``successcrew decide``: the chairman's side."""

from __future__ import annotations

import typer

from successcrew.console import console, plain, print_json


def register(app: typer.Typer) -> None:
    """Add ``escalations`` and ``decide`` to ``app``."""

    @app.command()
    def escalations(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """List escalations to the chairman, newest first, with their state."""
        from successcrew.definitions.escalation_policy import load_policy
        from successcrew.services.escalations.lifecycle import list_escalations

        load_policy()  # a broken policy file stops here with file and key named
        engine = ctx.obj.ready_engine()
        with engine.connect() as conn:
            rows = list_escalations(conn)
        if as_json:
            print_json({"escalations": rows})
            return
        if not rows:
            console.print("no escalations")
        for row in rows:
            console.print(
                f"{row['id']:>5}  {row['status']:<9} {plain(row['title'])}  "
                f"[dim]proposed: {plain(row['proposed'])}; raised {row['created_at']}"
                + (f"; decided by {plain(row['decided_by'])}" if row["decided_by"] else "")
                + "[/]",
                soft_wrap=True,
            )

    @app.command()
    def decide(
        ctx: typer.Context,
        escalation_id: int = typer.Argument(..., metavar="ID", help="Escalation id."),
        decision: str = typer.Argument(..., metavar="approve|decline"),
        by: str = typer.Option(..., "--by", help="Who decides (recorded in the audit log)."),
        note: str = typer.Option(None, "--note", help="A note kept with the decision."),
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        allow_future: bool = typer.Option(
            False,
            "--allow-future",
            help="Accept a --now before the escalation was raised (refused otherwise).",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Approve or decline an escalation; the next run carries an approval out."""
        from successcrew.clock import parse_now
        from successcrew.definitions.escalation_policy import load_policy
        from successcrew.services.escalations.lifecycle import decide as record_decision
        from successcrew.store.db import transaction

        clock = parse_now(now)
        policy = load_policy()
        engine = ctx.obj.ready_engine()
        with transaction(engine) as session:
            esc = record_decision(
                session,
                escalation_id,
                decision.lower(),
                by=by,
                note=note,
                now=clock,
                policy=policy,
                allow_future=allow_future,
            )
            result = {
                "id": esc.id,
                "status": esc.status,
                "decided_by": esc.decided_by,
                "decided_at": clock.isoformat(),
                "proposed_action": esc.proposed_action,
            }
        if as_json:
            print_json(result)
        else:
            console.print(
                f"escalation {esc.id} {esc.status} by {plain(esc.decided_by or '')}; "
                + (
                    "the next run carries it out"
                    if esc.status == "approved"
                    else "nothing will be done"
                )
            )
