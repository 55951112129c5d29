"""NPSTracker: survey waves, response ingestion, sentiment and categories, insights.

Tools that need the NPS programs are listed in ``agents/nps_tracker.yaml`` and reported as not
available until those are in this build; nothing runs in their place.
"""

from __future__ import annotations

from pathlib import Path

from successcrew.agents.base import PREVIEW_SAMPLE, Agent, TaskContext, ToolResult, tool


def report_dir(ctx: TaskContext) -> Path:
    """Where the weekly report goes: ``params.out_dir``, else ``reports/DATE`` next to an
    SQLite database, else the user data directory."""
    from platformdirs import user_data_dir

    day = ctx.now.date().isoformat()
    if ctx.params.get("out_dir"):
        return Path(str(ctx.params["out_dir"])).expanduser() / day
    database = ctx.engine.url.database
    if ctx.engine.dialect.name == "sqlite" and database and database != ":memory:":
        return Path(database).expanduser().resolve().parent / "reports" / day
    return Path(user_data_dir("successcrew", appauthor=False)) / "reports" / day


class NPSTracker(Agent):
    """Survey waves, response ingestion, sentiment and categorisation, insights."""

    @tool()
    def nps_snapshot(self, ctx: TaskContext) -> ToolResult:
        """NPS over the rolling window, overall and by segment (two grouped queries)."""
        from successcrew.store.metric_queries import nps_by_segment, nps_figures

        window = ctx.thresholds.nps.rolling_window_days
        overall = nps_figures(ctx.session, ctx.now.date(), window)
        return {
            "overall": overall.as_dict(),
            "by_segment": [
                f.as_dict() for f in nps_by_segment(ctx.session, ctx.now.date(), window)
            ],
        }

    @tool(preview=True)
    def send_survey_wave(self, ctx: TaskContext) -> ToolResult:
        """Invite the contacts that are due: exit surveys, at-risk prompts, then NPS (signed
        links, consent and fatigue rules applied by the survey engine)."""
        from successcrew.definitions.playbooks import load_program_settings
        from successcrew.services.voice.surveys import run_wave

        secret = ctx.settings.survey_secret
        settings = load_program_settings()
        result = run_wave(
            ctx.session,
            settings=settings.surveys,
            secret=secret.get_secret_value() if secret else None,
            base_url=ctx.settings.public_base_url,
            now=ctx.now,
            caps=settings.send_caps,
            sample=PREVIEW_SAMPLE if ctx.dry_run else 0,
        )
        return result.preview() if ctx.dry_run else result.as_dict()

    @tool()
    def ingest_responses(self, ctx: TaskContext) -> ToolResult:
        """The answers that came in through `successcrew serve` (survey page, in-app widget)
        over the last day; they are stored as they arrive, so this reports, never re-reads."""
        from datetime import timedelta

        from successcrew.services.voice.surveys import received_responses

        since = ctx.now - timedelta(days=int(ctx.params.get("days", 1)))
        return received_responses(ctx.session, since=since, now=ctx.now)

    @tool()
    def analyse_sentiment(self, ctx: TaskContext) -> ToolResult:
        """Sentiment and categories for comments not read yet (the configured taxonomy)."""
        from successcrew.definitions.feedback_categories import load_taxonomy
        from successcrew.services.voice.feedback import categorise_responses

        return categorise_responses(ctx.session, load_taxonomy().categoriser(), everything=False)

    @tool()
    def insights_report(self, ctx: TaskContext) -> ToolResult:
        """Write the weekly insights report (Markdown, HTML with SVG charts, JSON)."""
        from successcrew.services.voice.report import generate_report

        return generate_report(ctx.engine, report_dir(ctx), ctx.now)
