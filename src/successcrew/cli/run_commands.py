"""``successcrew run``: one cron tick of the crew."""

from __future__ import annotations

import typer

from successcrew.console import console, err_console, plain, print_json


def register(app: typer.Typer) -> None:
    """Add ``run`` to ``app``."""

    @app.command()
    def run(
        ctx: typer.Context,
        now: str = typer.Option(None, "--now", help="Clock for this tick (ISO date or time)."),
        dry_run: bool = typer.Option(
            False,
            "--dry-run",
            help="Decide what would run and what the due programs and survey wave would queue; "
            "write nothing, send nothing.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON summary."),
        crew_mode: str = typer.Option(
            None,
            "--crew-mode",
            help="deterministic, or crewai: crewAI agents also review the day's risks and "
            "propose actions for approval (needs the llm extra and a model, docs/llm.md).",
        ),
    ) -> int:
        """Run one tick: due setup steps, then due operations. Exit 0 ok, 1 some task failed
        (retried on a later run), 2 bad configuration, 75 another run holds the lock.
        """
        from successcrew.cli.previews import print_preview
        from successcrew.clock import parse_now
        from successcrew.crew.customer_success import CustomerSuccessCrew
        from successcrew.services.triggers.evaluation import (
            unsynced_trigger_files,
            unsynced_warning,
        )

        clock = parse_now(now)
        if crew_mode is not None:
            from successcrew.llm.setup import use_crew_mode

            use_crew_mode(ctx.obj, crew_mode)
        crew = CustomerSuccessCrew.from_runtime(ctx.obj)
        # Said before the run, so that it shows even when the run itself fails.
        unsynced = unsynced_trigger_files(crew.engine, ctx.obj.definitions.triggers)
        warning = unsynced_warning(unsynced)
        if warning:
            err_console.print(f"[bold yellow]warning:[/] {plain(warning)}", soft_wrap=True)
        try:
            summary = crew.run(clock, dry_run=dry_run)
        finally:
            crew.close()
        document = summary.as_dict()
        document["trigger_files_not_synced"] = unsynced
        if as_json:
            print_json(document)
        else:
            head = "dry run at" if dry_run else f"run {document['crew_run_id']} at"
            console.print(
                f"[bold]{head}[/] {document['now']} (setup day 1 = {document['start_date']})"
            )
            for task in document["tasks"]:
                line = f"  {task['status']:<9} {task['kind']:<9} {task['task']}"
                if task.get("error") or task.get("reason"):
                    line += f": {plain(task.get('error') or task['reason'])}"
                console.print(line, soft_wrap=True)
                if dry_run and task.get("result") and "queued" in task["result"]:
                    print_preview(task["result"], indent=" " * 14)
            console.print(
                f"{document['tasks_run']} task(s) run, {document['succeeded']} succeeded, "
                f"{document['failed']} failed, {document['skipped']} skipped; "
                f"triggers fired {document['triggers_fired']}, messages queued "
                f"{document['messages_queued']}, sent {document['messages_sent']}"
            )
        return summary.exit_code
