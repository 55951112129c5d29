"""HealthMonitoringSpecialist: scoring, trend analysis, alerts, dashboard data."""

from __future__ import annotations

from successcrew.agents.base import Agent, TaskContext, ToolResult, tool


class HealthMonitoringSpecialist(Agent):
    """Health scoring, trend analysis, alert generation and dashboard data."""

    @tool()
    def score_accounts(self, ctx: TaskContext) -> ToolResult:
        """Score every customer as of today with the health model (set-based, one query).

        On failure, or when the input data is not fresh enough to score, the health engine
        carries the last good scores forward (flagged stale) and records the check; the task
        fails and the next tick tries again.
        """
        from successcrew.services.scoring.health_scores import ScoringHeld, run_scoring

        outcome = run_scoring(
            ctx.engine,
            ctx.thresholds.health_bands,
            ctx.now.date(),
            now=ctx.now,
            freshness=ctx.thresholds.data_freshness,
        )
        if outcome.held:
            raise ScoringHeld(outcome.error or "scoring held: data not fresh")
        return {"as_of": outcome.as_of.isoformat(), **outcome.summary}

    @tool()
    def evaluate_triggers(self, ctx: TaskContext) -> ToolResult:
        """Evaluate RETENTION-001..004 and the rollback rules against fresh scores and metrics.

        The trigger engine commits events, their outbox messages, escalations and pause flags in
        one transaction of its own; a definition that errors is reported and fails the task.
        One message per account and event: what the chairman's escalation card announces gets
        no separate chairman notice.
        """
        from successcrew.services.triggers.evaluation import evaluate_triggers

        summary = evaluate_triggers(
            ctx.engine, ctx.thresholds, ctx.now, settings=ctx.settings, policy=ctx.policy
        )
        errors = [t for t in summary.triggers if t.status == "error"]
        if errors:
            raise RuntimeError(
                "trigger evaluation errors: "
                + "; ".join(f"{t.code}: {t.detail}" for t in errors)
                + f" (the others were evaluated: {summary.fired} fired)"
            )
        return summary.as_dict()

    @tool()
    def analyse_trends(self, ctx: TaskContext) -> ToolResult:
        """Band counts now and a week before, band movements, and the biggest score drops."""
        from successcrew.services.views.portfolio import analyse_trends

        return analyse_trends(
            ctx.session,
            ctx.now.date(),
            window_days=int(ctx.params.get("window_days", 7)),
            movers=int(ctx.params.get("movers", 5)),
        )

    @tool()
    def configure_alerts(self, ctx: TaskContext) -> ToolResult:
        """Decide alert routing from the providers in use and announce monitoring in Slack."""
        from successcrew.services.triggers.alerts import configure_alerts

        return configure_alerts(ctx.session, ctx.settings, actor=self.name, now=ctx.now)

    @tool()
    def generate_alerts(self, ctx: TaskContext) -> ToolResult:
        """Alert on accounts whose latest score is Critical and whose previous one was not.

        One Slack message per account per scoring date, and a CRM task for the owner when a CRM
        is in use and the account is known there; the keys make a re-run queue nothing twice.
        """
        from successcrew.services.triggers.alerts import generate_alerts

        return generate_alerts(
            ctx.session,
            ctx.settings,
            now=ctx.now,
            boundaries=ctx.thresholds.health_bands.boundaries,
        )

    @tool()
    def dashboard_data(self, ctx: TaskContext) -> ToolResult:
        """What the dashboard shows: bands with ARR, and the ten most at-risk accounts by ARR."""
        from successcrew.services.views.portfolio import dashboard_data

        return dashboard_data(ctx.session, ctx.now.date())
