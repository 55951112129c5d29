"""``successcrew demo``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from successcrew.console import console, err_console, heading, print_json

if TYPE_CHECKING:
    from successcrew.demo.dashboard_access import DashboardAccess
    from successcrew.demo.runner import DemoResult


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""

    @app.command()
    def demo(
        ctx: typer.Context,
        accounts: int = typer.Option(300, min=10, max=100_000, help="Accounts to generate."),
        seed: int = typer.Option(7, help="Random seed; the same seed gives the same history."),
        days: int = typer.Option(365, min=60, max=3650, help="Days of history."),
        data_dir: Path = typer.Option(
            None,
            "--data-dir",
            help="Write the generated CSV files here (default: user data dir).",
        ),
        crew_days: int = typer.Option(
            45, "--crew-days", min=0, max=365, help="Simulated days of crew runs (0: none)."
        ),
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Seed the configured database with synthetic B2B SaaS history and show what it holds."""
        from successcrew.cli.status_commands import collect_status, render
        from successcrew.clock import parse_now
        from successcrew.demo.runner import run_demo

        clock = parse_now(now)
        runtime = ctx.obj
        result = run_demo(
            runtime.engine,
            now=clock,
            accounts=accounts,
            seed=seed,
            days=days,
            data_dir=data_dir,
            on_step=None if as_json else (lambda msg: err_console.print(msg)),
            crew_days=crew_days,
            settings=runtime.settings,
            thresholds=runtime.thresholds,
        )
        mission = None
        if result.crew:
            # Report as of the last simulated day, so "setup day N" matches the story told.
            from datetime import date, timedelta

            from successcrew.clock import start_of_day
            from successcrew.demo.mission import mission_summary

            first = start_of_day(date.fromisoformat(result.crew["first_day"]))
            clock = first + timedelta(days=result.crew["days"] - 1, hours=7)
            mission = mission_summary(
                runtime.engine, first, first + timedelta(days=result.crew["days"])
            )
        document = collect_status(runtime, clock)
        access = dashboard_sign_in(runtime, clock)
        if as_json:
            demo_doc = result.as_dict()
            demo_doc["what_happened"] = None if mission is None else mission.as_dict()
            print_json({"demo": demo_doc, "status": document, "dashboard": access.as_dict()})
            return
        heading("what the database holds now")
        render(document)
        console.print(
            f"ground truth: {result.churned_truth} of {result.accounts} accounts churn "
            f"(kept in {result.data_dir / 'ground_truth.csv'})"
        )
        if result.crew:
            crew = result.crew
            totals = crew["totals"]
            heading(f"the crew's first {crew['days']} days (from {crew['first_day']})")
            console.print(
                "setup: "
                + ", ".join(f"{n} {state}" for state, n in sorted(totals["setup"].items()))
                + f"; completed on {crew['setup_completed_on'] or 'not yet'}"
            )
            console.print(f"tasks run {crew['tasks_run']}, failed {crew['failed']}")
            fired = ", ".join(f"{k} {v}" for k, v in sorted(totals["trigger_events"].items()))
            console.print(f"trigger events: {fired or 'none'}")
            console.print(
                "escalations: "
                + ", ".join(f"{k} {v}" for k, v in sorted(totals["escalations"].items()))
            )
            came = totals.get("came_back") or {}
            console.print(
                f"came back through the web app: {came.get('survey_answers', 0)} survey "
                f"answer(s), {came.get('unsubscribed_contacts', 0)} unsubscribed contact(s), "
                f"{came.get('spam_reports', 0)} spam report(s) by the e-mail provider's webhook, "
                f"{came.get('slack_decisions', 0)} decision(s) by Slack button"
            )
            for row in totals["outbox"]:
                console.print(
                    f"outbox {row['channel']:<9} {row['status']:<9} {row['messages']} message(s)"
                )
        if mission is not None:
            heading("what happened, and what the crew did about it")
            for line in mission.lines():
                console.print(f"- {line}", soft_wrap=True, markup=False)
        print_closing(result, access)


def print_closing(result: DemoResult, access: DashboardAccess) -> None:
    """The demo's last lines: where to look next, and how to open the dashboard on its data."""
    if result.already_ran:
        console.print(
            f"the crew had already run these days ({result.already_ran} run(s)): nothing was added"
        )
    if result.crew:
        console.print(
            "messages are held in outbox-only mode; `successcrew escalations` lists what "
            "reached the chairman, `successcrew status` shows the crew, `successcrew triggers` "
            "every trigger event"
        )
    print_dashboard_access(access)


def dashboard_sign_in(runtime: Any, now: datetime) -> DashboardAccess:
    """The demo's dashboard sign-ins (created or reset on every demo)."""
    from successcrew.demo.dashboard_access import create_demo_sign_in

    return create_demo_sign_in(runtime.engine, runtime.settings, now=now)


def print_dashboard_access(access: DashboardAccess) -> None:
    """Say how to open the dashboard on the demo data."""
    heading("the dashboard")
    console.print(f"run `successcrew serve` and open {access.url}, then sign in as", soft_wrap=True)
    for email, role in access.users:
        console.print(f"  {email} ({role})", soft_wrap=True)
    console.print(f"password: {access.password}", soft_wrap=True)
