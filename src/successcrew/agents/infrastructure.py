"""SuccessInfrastructureArchitect: providers, connections, field mapping, customer data sync."""

from __future__ import annotations

from typing import Any

from successcrew.agents.base import Agent, TaskContext, ToolResult, tool
from successcrew.settings import Settings
from successcrew.store import audit

#: Preference order when several providers of a kind are configured.
CRM_ORDER = ("hubspot", "salesforce", "intercom")
EMAIL_ORDER = ("sendgrid", "mailchimp")

_CREDENTIAL = {
    "slack": ("slack_token",),
    "hubspot": ("hubspot_token",),
    "salesforce": ("salesforce_token", "salesforce_api_url"),
    "intercom": ("intercom_token",),
    "sendgrid": ("sendgrid_api_key",),
    "mailchimp": ("mailchimp_api_key",),
}


def configured(settings: Settings, provider: str) -> bool:
    """True when every setting ``provider`` needs to send is present."""
    return all(getattr(settings, name, None) for name in _CREDENTIAL[provider])


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
