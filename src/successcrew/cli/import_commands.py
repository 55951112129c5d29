"""``successcrew import KIND PATH``."""

from __future__ import annotations

from pathlib import Path

import typer

from successcrew.console import console, err_console, print_json


def register(app: typer.Typer) -> None:
    """Add ``import`` to ``app``."""

    @app.command("import")
    def import_(
        ctx: typer.Context,
        kind: str = typer.Argument(..., help="accounts, contacts, usage, tickets, invoices or nps"),
        path: Path = typer.Argument(..., help="A .csv file with a header row, or .jsonl"),
        ignore_column: list[str] = typer.Option(
            [],
            "--ignore-column",
            metavar="NAME",
            help="Leave out a column successcrew does not read (repeat for more). Without it an "
            "unknown column rejects the file.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Import a CSV or JSON Lines file. Any invalid row or unknown column rejects the whole
        file (exit 2)."""
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        from successcrew.clock import utcnow
        from successcrew.imports.pipeline import import_file

        engine = ctx.obj.ready_engine()
        size = path.stat().st_size if path.is_file() else 0
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        ) as progress:
            task = progress.add_task(f"importing {path.name}", total=size or None)
            result = import_file(
                engine,
                kind,
                path,
                now=utcnow(),
                on_bytes=lambda n: progress.advance(task, n),
                ignore_columns=ignore_column,
            )
        if as_json:
            print_json(result.as_dict())
            return
        console.print(
            f"{result.kind}: {result.rows:,} rows from {path.name}: {result.inserted:,} new, "
            f"{result.updated:,} updated, {result.unchanged:,} unchanged"
        )
