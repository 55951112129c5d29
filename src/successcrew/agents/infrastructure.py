"""SuccessInfrastructureArchitect: providers, connections, field mapping, customer data sync."""

from __future__ import annotations

from successcrew.agents.base import Agent, TaskContext, ToolResult, tool


class SuccessInfrastructureArchitect(Agent):
    """CRM and email provider selection, connection checks, field mapping, data sync."""

    @tool()
    def select_providers(self, ctx: TaskContext) -> ToolResult:
        """Choose the CRM, email and Slack providers from configuration and record the choice."""
        from successcrew.services.platform.connections import select_providers

        return select_providers(
            ctx.session,
            ctx.settings,
            preferred=ctx.params.get("preferred"),
            actor=self.name,
            now=ctx.now,
        )

    @tool()
    def check_connections(self, ctx: TaskContext) -> ToolResult:
        """One authenticated call per configured provider; a failing one fails the step, which
        is then retried with backoff. Unconfigured providers are outbox only, not failures.
        """
        from successcrew.services.platform.connections import check_connections

        return check_connections(ctx.settings, ctx.thresholds)

    @tool()
    def map_health_field(self, ctx: TaskContext) -> ToolResult:
        """Create the health-score custom properties in the CRM in use (idempotent)."""
        from successcrew.services.platform.connections import map_health_field

        return map_health_field(
            ctx.session,
            ctx.settings,
            ctx.thresholds,
            preferred=ctx.params.get("preferred"),
            actor=self.name,
            now=ctx.now,
        )

    @tool()
    def sync_customer_data(self, ctx: TaskContext) -> ToolResult:
        """Pull accounts and contacts from every configured CRM and push health scores back.

        A sync whose error rate is above the rollback threshold fails the task (the crm_sync
        component check recorded by the sync feeds RETENTION-004 and the rollback rule).
        """
        from successcrew.services.platform.connections import sync_customer_data

        return sync_customer_data(ctx.engine, ctx.settings, ctx.thresholds, ctx.now)

    @tool()
    def check_system_health(self, ctx: TaskContext) -> ToolResult:
        """Probe the components that are in use and record one check each (RETENTION-004 reads
        three failures in a row; status shows uptime against the SLO). A component with nothing
        configured is not probed: an unused component is not a failing one.
        """
        from successcrew.services.platform.system_health import check_components

        return check_components(ctx.engine, ctx.settings, ctx.thresholds, ctx.now)

    @tool()
    def dispatch_outbox(self, ctx: TaskContext) -> ToolResult:
        """Send every due outbox message; providers without credentials leave theirs held."""
        from successcrew.integrations.dispatcher import dispatch

        return dispatch(ctx.engine, ctx.settings, ctx.thresholds, ctx.now).as_dict()
