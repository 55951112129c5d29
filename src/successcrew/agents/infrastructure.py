"""SuccessInfrastructureArchitect: providers, connections, field mapping, customer data sync."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from successcrew.agents.base import Agent, TaskContext, ToolResult, tool
from successcrew.settings import Settings
from successcrew.store import audit

#: Preference order when several providers of a kind are configured.
CRM_ORDER = ("hubspot", "salesforce", "intercom")
EMAIL_ORDER = ("sendgrid", "mailchimp")


def configured(settings: Settings, provider: str) -> bool:
    """True when ``provider`` has the credentials it needs to send (the integrations' rule)."""
    from successcrew.integrations.providers import is_configured

    return is_configured(settings, provider)


def provider_matrix(settings: Settings, preferred: dict[str, str] | None = None) -> dict[str, Any]:
    """The configurability matrix: for each capability, the provider in use and its mode.

    A capability without credentials is ``outbox only``: its messages are recorded and shown,
    never sent, and the crew still runs. ``preferred`` (from the crew YAML) picks among several
    configured providers of one kind.
    """
    preferred = preferred or {}

    def pick(kind: str, order: tuple[str, ...]) -> dict[str, Any]:
        first = preferred.get(kind)
        ordered = ((first,) if first in order else ()) + tuple(p for p in order if p != first)
        live = [p for p in ordered if configured(settings, p)]
        return {
            "provider": live[0] if live else None,
            "mode": "live" if live else "outbox only",
            "configured": live,
            "candidates": list(order),
        }

    return {
        "crm": pick("crm", CRM_ORDER),
        "email": pick("email", EMAIL_ORDER),
        "slack": {
            "provider": "slack",
            "mode": "live" if configured(settings, "slack") else "outbox only",
            "channel": settings.slack_channel,
            "chairman_channel": settings.slack_chairman_channel,
        },
    }


class SuccessInfrastructureArchitect(Agent):
    """CRM and email provider selection, connection checks, field mapping, data sync."""

    @tool()
    def select_providers(self, ctx: TaskContext) -> ToolResult:
        """Choose the CRM, email and Slack providers from configuration and record the choice."""
        matrix = provider_matrix(ctx.settings, ctx.params.get("preferred"))
        audit.record(
            ctx.session,
            at=ctx.now,
            actor=self.name,
            action="setup.providers",
            subject="configurability matrix",
            detail=matrix,
        )
        return {
            "crm": matrix["crm"]["provider"] or "outbox only",
            "email": matrix["email"]["provider"] or "outbox only",
            "slack": matrix["slack"]["mode"],
            "matrix": matrix,
        }

    @tool()
    def check_connections(self, ctx: TaskContext) -> ToolResult:
        """One authenticated call per configured provider; a failing one fails the step, which
        is then retried with backoff. Unconfigured providers are outbox only, not failures.
        """
        from successcrew.commands.integrations import check_providers

        report = check_providers(ctx.settings, ctx.thresholds)
        failed = {name: r["detail"] for name, r in report.items() if r["ok"] is False}
        if failed:
            raise ConnectionError(
                "provider check failed: " + "; ".join(f"{n}: {d}" for n, d in failed.items())
            )
        return {name: r["detail"] for name, r in report.items()}

    @tool()
    def map_health_field(self, ctx: TaskContext) -> ToolResult:
        """Create the health-score custom properties in the CRM in use (idempotent)."""
        matrix = provider_matrix(ctx.settings, ctx.params.get("preferred"))
        provider = matrix["crm"]["provider"]
        if provider is None:
            return {"crm": "outbox only", "mapped": False, "why": "no CRM configured"}
        with _connectors(ctx, [provider]) as connectors:
            connectors[0].prepare()
        audit.record(
            ctx.session,
            at=ctx.now,
            actor=self.name,
            action="setup.health_field",
            subject=provider,
        )
        return {"crm": provider, "mapped": True}

    @tool()
    def sync_customer_data(self, ctx: TaskContext) -> ToolResult:
        """Pull accounts and contacts from every configured CRM and push health scores back.

        A sync whose error rate is above the rollback threshold fails the task (the crm_sync
        component check recorded by the sync feeds RETENTION-004 and the rollback rule).
        """
        from successcrew.integrations import providers
        from successcrew.integrations.sync import sync_crm

        names = [p for p in providers.CRM_PROVIDERS if providers.is_configured(ctx.settings, p)]
        if not names:
            return {"crm": "outbox only", "synced": 0, "why": "no CRM configured"}
        with _connectors(ctx, names) as connectors:
            summary = sync_crm(ctx.engine, connectors, ctx.thresholds, ctx.now, push=True)
        if not summary.ok:
            raise RuntimeError(
                f"CRM sync error rate {summary.error_rate_pct:g}% is above "
                f"{ctx.thresholds.rollback.crm_sync_error_rate_pct:g}%"
            )
        return summary.as_dict()

    @tool()
    def check_system_health(self, ctx: TaskContext) -> ToolResult:
        """Probe the components that are in use and record one check each (RETENTION-004 reads
        three failures in a row; status shows uptime against the SLO). A component with nothing
        configured is not probed: an unused component is not a failing one.
        """
        from successcrew.system_health import run_system_health_checks

        return run_system_health_checks(ctx.engine, ctx.now, _probes(ctx))

    @tool()
    def dispatch_outbox(self, ctx: TaskContext) -> ToolResult:
        """Send every due outbox message; providers without credentials leave theirs held."""
        from successcrew.integrations.dispatcher import dispatch

        return dispatch(ctx.engine, ctx.settings, ctx.thresholds, ctx.now).as_dict()


@contextmanager
def _connectors(ctx: TaskContext, names: list[str]) -> Iterator[list[Any]]:
    from successcrew.integrations import providers
    from successcrew.integrations.http import HttpPolicy

    policy = HttpPolicy(retry=ctx.thresholds.retries)
    built = [c for n in names if (c := providers.crm_connector(ctx.settings, n, policy))]
    try:
        yield built
    finally:
        for c in built:
            c.close()


def _check_clients(ctx: TaskContext, names: list[str]) -> dict[str, str]:
    """``check()`` on each provider's client; the first failure raises (a failed probe)."""
    from successcrew.integrations import providers
    from successcrew.integrations.http import HttpPolicy

    policy = HttpPolicy(retry=ctx.thresholds.retries)
    out = {}
    for name in names:
        if name == "slack":
            client: Any = providers.slack_client(ctx.settings, policy)
        elif name in providers.CRM_PROVIDERS:
            client = providers.crm_connector(ctx.settings, name, policy)
        else:
            client = providers.email_sender(ctx.settings, name, policy)
        try:
            out[name] = client.check()
        finally:
            client.close()
    return out


def _probes(ctx: TaskContext) -> dict[str, Any]:
    """One probe per component that is in use, named as thresholds.system_health.components."""
    from successcrew.healthmodel import load_health_model
    from successcrew.integrations import providers

    crm = [p for p in providers.CRM_PROVIDERS if providers.is_configured(ctx.settings, p)]
    senders = [
        p for p in ("slack", *providers.EMAIL_PROVIDERS) if providers.is_configured(ctx.settings, p)
    ]
    probes: dict[str, Any] = {
        # The scoring job itself records each run; the hourly probe says whether it could run.
        "health_scoring": lambda: {"model_version": load_health_model().version},
    }
    if crm:
        probes["crm_sync"] = lambda: _check_clients(ctx, crm)
    if senders:
        probes["campaign_dispatch"] = lambda: _check_clients(ctx, senders)
    wanted = set(ctx.thresholds.system_health.components)
    return {name: probe for name, probe in probes.items() if name in wanted}
