"""``successcrew demo``."""

from __future__ import annotations

from pathlib import Path

import typer

from successcrew.console import console, err_console, print_json


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
        now: str = typer.Option(None, "--now", help="Clock (ISO date or time)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Seed the configured database with synthetic B2B SaaS history and show what it holds."""
        from successcrew.clock import parse_now
        from successcrew.commands.status import collect_status, render
        from successcrew.demo import run_demo

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
        )
        document = collect_status(runtime, clock)
        if as_json:
            print_json({"demo": result.as_dict(), "status": document})
            return
        console.rule("what the database holds now")
        render(document)
        console.print(
            f"ground truth: {result.churned_truth} of {result.accounts} accounts churn "
            f"(kept in {result.data_dir / 'ground_truth.csv'})"
        )
