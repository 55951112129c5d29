"""RetentionProgramDesigner: playbooks, workflow enrolment, A/B tests, chairman decisions."""

from __future__ import annotations

from sqlalchemy import func, select

from successcrew import escalations
from successcrew.agents.base import Agent, TaskContext, ToolResult, tool
from successcrew.agents.infrastructure import provider_matrix
from successcrew.domain.escalation import describe_action
from successcrew.integrations.outbox import enqueue
from successcrew.store import audit
from successcrew.store.models import SetupProgress


class RetentionProgramDesigner(Agent):
    """Retention programs and the chairman escalation lifecycle."""

    @tool()
    def configure_escalation(self, ctx: TaskContext) -> ToolResult:
        """Check the escalation policy against today's accounts and introduce it to the chairman."""
        policy = ctx.policy
        cutoff = escalations.high_value_cutoff(ctx.session, policy)
        offer = (
            describe_action(
                {"type": policy.propose_for_critical}
                | policy.strategic_decisions[policy.propose_for_critical].model_dump()
            )
            if policy.propose_for_critical
            else "none"
        )
        value = f"ARR from {cutoff:,.0f}" if cutoff is not None else "no account qualifies yet"
        text = (
            "successcrew will bring you: "
            f"{', '.join(policy.always_escalate) or 'no trigger codes'} always; "
            f"{', '.join(policy.high_value_escalate) or 'nothing more'} for high-value accounts "
            f"({value}); Critical high-value accounts with a proposed {offer}. "
            f"Unanswered escalations are re-sent after {policy.remind_after_hours:g} h and expire "
            f"{policy.expire_after_hours:g} h later."
        )
        enqueue(
            ctx.session,
            key="setup:escalation:announce",
            channel="slack",
            payload={"channel": ctx.settings.slack_chairman_channel, "title": text, "text": text},
            now=ctx.now,
        )
        audit.record(
            ctx.session,
            at=ctx.now,
            actor=self.name,
            action="setup.escalation_policy",
            subject="chairman",
            detail={"high_value_arr_cutoff": cutoff, **policy.model_dump(mode="json")},
        )
        return {"high_value_arr_cutoff": cutoff, "proposal_for_critical": offer}

    @tool()
    def escalate_to_chairman(self, ctx: TaskContext) -> ToolResult:
        """Raise the escalations the policy sends to the chairman and that are not raised yet."""
        return escalations.raise_escalations(
            ctx.session, policy=ctx.policy, settings=ctx.settings, now=ctx.now
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
        from successcrew.playbooks import load_playbooks, load_program_settings

        books = load_playbooks()
        load_program_settings()
        summary = {
            book.id: {
                "name": book.spec.name,
                "enabled": book.spec.enabled,
                "arms": [name for name, _ in book.arms()],
                "holdout_pct": book.spec.holdout_pct,
            }
            for book in books
        }
        audit.record(
            ctx.session,
            at=ctx.now,
            actor=self.name,
            action="setup.playbooks",
            subject="playbooks",
            detail=summary,
        )
        return {"playbooks": summary}

    @tool()
    def enrol_workflows(self, ctx: TaskContext) -> ToolResult:
        """Run the retention programs: exits, enrolment (CRM workflow tasks, emails, Slack) by
        playbook, the auto-pause check on campaign feedback, and the steps that are due.
        """
        from successcrew.playbooks import load_playbooks, load_program_settings
        from successcrew.store.programs import run_programs

        result = run_programs(
            ctx.session,
            load_playbooks(),
            settings=load_program_settings(),
            threshold_pct=ctx.thresholds.rollback.campaign_negative_feedback_pct,
            base_url=ctx.settings.public_base_url,
            now=ctx.now,
        )
        return result.as_dict()

    @tool()
    def evaluate_ab_tests(self, ctx: TaskContext) -> ToolResult:
        """Outcome per arm over matured enrolments, with uplift, interval and verdict."""
        from successcrew.playbooks import load_playbooks
        from successcrew.store.programs import evaluate

        return {
            book.id: evaluate(ctx.session, book, now=ctx.now).as_dict()
            for book in load_playbooks()
            if book.spec.enabled
        }

    @tool()
    def review_setup(self, ctx: TaskContext) -> ToolResult:
        """Summarise the setup flow (done, skipped with reason, failing) and post it to Slack."""
        rows = ctx.session.execute(
            select(SetupProgress.status, func.count()).group_by(SetupProgress.status)
        ).all()
        counts = {status: int(n) for status, n in rows}
        skipped = ctx.session.execute(
            select(SetupProgress.step_id, SetupProgress.last_error)
            .where(SetupProgress.status == "skipped")
            .order_by(SetupProgress.step_id)
        ).all()
        text = "successcrew setup review: " + ", ".join(
            f"{n} {s}" for s, n in sorted(counts.items())
        )
        if skipped:
            text += ". Not available yet: " + "; ".join(f"{s} ({e})" for s, e in skipped)
        enqueue(
            ctx.session,
            key="setup:review",
            channel="slack",
            payload={"channel": ctx.settings.slack_channel, "title": text[:150], "text": text},
            now=ctx.now,
        )
        return {"steps": counts, "skipped": [s for s, _ in skipped]}
