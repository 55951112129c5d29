"""``successcrew init``: create or upgrade the schema and sync definitions."""

from __future__ import annotations

import typer

from successcrew.console import console, print_json


def register(app: typer.Typer) -> None:
    """Add ``init`` to ``app``."""

    @app.command()
    def init(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Create or upgrade the database schema and sync definitions. Safe to run again."""
        from successcrew.clock import utcnow
        from successcrew.services.platform.setup import (
            ensure_session_secret,
            ensure_survey_secret,
            initialise,
        )

        report = initialise(ctx.obj.engine, now=utcnow())
        report["survey_secret"] = ensure_survey_secret(ctx.obj.settings)
        report["session_secret"] = ensure_session_secret(ctx.obj.settings)
        if as_json:
            print_json(report)
            return
        if report["schema_before"] == report["schema_after"]:
            console.print(f"schema already current ({report['schema_after']})")
        else:
            console.print(
                f"schema upgraded {report['schema_before'] or 'empty'} -> {report['schema_after']}"
            )
        for line in report.get("definitions", []):
            console.print(line)
        secret = report["survey_secret"]
        if secret["created"]:
            console.print(
                f"survey secret: created {secret['origin']} (readable by this user only); "
                "back it up with the database: survey links are signed with it",
                soft_wrap=True,
            )
        else:
            console.print(f"survey secret: {secret['origin']}", soft_wrap=True)
        if report["session_secret"]["created"]:
            console.print(
                f"dashboard session secret: created {report['session_secret']['origin']}",
                soft_wrap=True,
            )
        console.print(f"database: {report['database']}")
