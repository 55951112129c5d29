"""RetentionProgramDesigner: playbooks, workflow enrolment, A/B tests, chairman decisions."""

from __future__ import annotations

from successcrew.agents.base import PREVIEW_SAMPLE, Agent, TaskContext, ToolResult, tool
from successcrew.services.escalations import lifecycle as escalations


class RetentionProgramDesigner(Agent):
    """Retention programs and the chairman escalation lifecycle."""

    @tool()
    def configure_escalation(self, ctx: TaskContext) -> ToolResult:
        """Check the escalation policy against today's accounts and introduce it to the chairman."""
        return escalations.announce_policy(
            ctx.session, policy=ctx.policy, settings=ctx.settings, actor=self.name, now=ctx.now
        )

    @tool()
    def escalate_to_chairman(self, ctx: TaskContext) -> ToolResult:
        """Raise the escalations the policy sends to the chairman and that are not raised yet."""
        return escalations.raise_escalations(
            ctx.session,
            policy=ctx.policy,
            settings=ctx.settings,
            now=ctx.now,
            boundaries=ctx.thresholds.health_bands.boundaries,
        )

    @tool()
    def follow_up_escalations(self, ctx: TaskContext) -> ToolResult:
        """Re-send unanswered escalations once; expire the ones past their expiry."""
        return escalations.follow_up(
            ctx.session, policy=ctx.policy, settings=ctx.settings, now=ctx.now
        )

    @tool()
    def carry_out_decisions(self, ctx: TaskContext) -> ToolResult:
        """Carry out what the chairman approved since the last run."""
        from successcrew.integrations.providers import provider_matrix

        matrix = provider_matrix(ctx.settings)
        return escalations.carry_out(
            ctx.session,
            settings=ctx.settings,
            crm=matrix["crm"]["provider"],
            email=matrix["email"]["provider"],
            now=ctx.now,
        )

    @tool()
    def load_playbooks(self, ctx: TaskContext) -> ToolResult:
        """Load and validate the at-risk, critical and win-back playbooks and program settings."""
        from successcrew.services.programs.runs import load_programs

        return load_programs(ctx.session, actor=self.name, now=ctx.now)

    @tool(preview=True)
    def enrol_workflows(self, ctx: TaskContext) -> ToolResult:
        """Run the retention programs: exits, enrolment (CRM workflow tasks, emails, Slack) by
        playbook, the auto-pause check on campaign feedback, and the steps that are due.
        """
        from successcrew.definitions.playbooks import load_playbooks, load_program_settings
        from successcrew.services.programs.runs import run_programs

        settings = load_program_settings()
        result = run_programs(
            ctx.session,
            load_playbooks(),
            settings=settings,
            threshold_pct=ctx.thresholds.rollback.campaign_negative_feedback_pct,
            base_url=ctx.settings.public_base_url,
            link_secret=ctx.settings.link_secret(),
            now=ctx.now,
            sample=PREVIEW_SAMPLE if ctx.dry_run else 0,
        )
        return result.preview(settings.send_caps.as_dict()) if ctx.dry_run else result.as_dict()

    @tool()
    def evaluate_ab_tests(self, ctx: TaskContext) -> ToolResult:
        """Outcome per arm over matured enrolments, with uplift, interval and verdict."""
        from successcrew.definitions.playbooks import load_playbooks
        from successcrew.services.programs.results import evaluate

        return {
            book.id: evaluate(ctx.session, book, now=ctx.now).as_dict()
            for book in load_playbooks()
            if book.spec.enabled
        }

    @tool()
    def review_setup(self, ctx: TaskContext) -> ToolResult:
        """Summarise the setup flow (done, skipped with reason, failing) and post it to Slack."""
        from successcrew.services.platform.setup import review_setup

        return review_setup(ctx.session, ctx.settings, now=ctx.now)
