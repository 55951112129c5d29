"""Which providers are configured, and their clients built from settings.

A provider without credentials is *outbox only*: nothing here builds a client for it, and the
dispatcher leaves its messages ``held`` with a ``no ... configured: outbox only`` reason.
"""

from __future__ import annotations

from typing import Any

from successcrew.integrations.crm.connector import CrmConnector
from successcrew.integrations.crm.hubspot import HubSpotConnector
from successcrew.integrations.crm.intercom import IntercomConnector
from successcrew.integrations.crm.salesforce import SalesforceConnector
from successcrew.integrations.email.mailchimp import MailchimpClient
from successcrew.integrations.email.sender import EmailSender
from successcrew.integrations.email.sendgrid import SendGridClient
from successcrew.integrations.http import HttpPolicy
from successcrew.integrations.slack import SlackClient
from successcrew.redaction import sanitise
from successcrew.settings import Settings

CRM_PROVIDERS = ("hubspot", "salesforce", "intercom")
EMAIL_PROVIDERS = ("sendgrid", "mailchimp")
ALL_PROVIDERS = ("slack", *CRM_PROVIDERS, *EMAIL_PROVIDERS)

#: The setting that makes each provider live, as named in the environment.
CREDENTIAL_SETTING = {
    "slack": "SUCCESSCREW_SLACK_TOKEN",
    "hubspot": "SUCCESSCREW_HUBSPOT_TOKEN",
    "salesforce": "SUCCESSCREW_SALESFORCE_TOKEN and SUCCESSCREW_SALESFORCE_API_URL",
    "intercom": "SUCCESSCREW_INTERCOM_TOKEN",
    "sendgrid": "SUCCESSCREW_SENDGRID_API_KEY",
    "mailchimp": "SUCCESSCREW_MAILCHIMP_API_KEY",
}


def is_configured(settings: Settings, provider: str) -> bool:
    """True when ``provider`` has the credentials it needs to send."""
    if provider == "salesforce":
        return settings.salesforce_token is not None and bool(settings.salesforce_api_url)
    field = {"sendgrid": "sendgrid_api_key", "mailchimp": "mailchimp_api_key"}.get(
        provider, f"{provider}_token"
    )
    return getattr(settings, field) is not None


def outbox_only_reason(provider: str) -> str:
    """The ``last_error`` of a message held because ``provider`` has no credentials."""
    return f"no {CREDENTIAL_SETTING[provider]} configured: outbox only"


def slack_client(
    settings: Settings, policy: HttpPolicy | None = None, **kw: Any
) -> SlackClient | None:
    """The Slack client, or None when outbox only."""
    if settings.slack_token is None:
        return None
    return SlackClient(settings.slack_api_url, token=settings.slack_token, policy=policy, **kw)


def crm_connector(
    settings: Settings, provider: str, policy: HttpPolicy | None = None
) -> CrmConnector | None:
    """The connector for one CRM, or None when outbox only."""
    if not is_configured(settings, provider):
        return None
    if provider == "hubspot":
        return HubSpotConnector(
            settings.hubspot_api_url, token=settings.hubspot_token, policy=policy
        )
    if provider == "salesforce":
        return SalesforceConnector(
            settings.salesforce_api_url,
            token=settings.salesforce_token,
            api_version=settings.salesforce_api_version,
            policy=policy,
        )
    if provider == "intercom":
        return IntercomConnector(
            settings.intercom_api_url, token=settings.intercom_token, policy=policy
        )
    raise ValueError(f"unknown CRM provider {provider!r}")


def email_sender(
    settings: Settings, provider: str | None = None, policy: HttpPolicy | None = None
) -> EmailSender | None:
    """``provider``'s sender, or the first configured one (SendGrid, then Mailchimp)."""
    for name in (provider,) if provider else EMAIL_PROVIDERS:
        if name == "sendgrid" and settings.sendgrid_api_key is not None:
            return SendGridClient(
                settings.sendgrid_api_url, token=settings.sendgrid_api_key, policy=policy
            )
        if name == "mailchimp" and settings.mailchimp_api_key is not None:
            return MailchimpClient(
                settings.mailchimp_api_url, api_key=settings.mailchimp_api_key, policy=policy
            )
    return None


#: Preference order when several providers of a kind are configured.
CRM_ORDER = CRM_PROVIDERS
EMAIL_ORDER = EMAIL_PROVIDERS


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
        live = [p for p in ordered if is_configured(settings, p)]
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
            "mode": "live" if is_configured(settings, "slack") else "outbox only",
            "channel": settings.slack_channel,
            "chairman_channel": settings.slack_chairman_channel,
        },
    }


def client_for(settings: Settings, provider: str, policy: HttpPolicy | None = None) -> Any:
    """The client of any configured provider (Slack, a CRM or an email sender), or None."""
    if provider == "slack":
        return slack_client(settings, policy)
    if provider in CRM_PROVIDERS:
        return crm_connector(settings, provider, policy)
    return email_sender(settings, provider, policy)


def check_providers(settings: Settings, policy: HttpPolicy) -> dict[str, dict[str, Any]]:
    """One cheap authenticated call per configured provider: ``configured``, ``ok`` (None when
    not configured) and ``detail`` for each, as ``successcrew integrations check`` prints it."""
    from successcrew.integrations.http import ProviderError

    report: dict[str, dict[str, Any]] = {}
    for name in ALL_PROVIDERS:
        client = client_for(settings, name, policy) if is_configured(settings, name) else None
        if client is None:
            report[name] = {
                "configured": False,
                "ok": None,
                "detail": "not configured (outbox only)",
            }
            continue
        try:
            # The detail quotes the provider's answer (a workspace name): sanitised like errors.
            report[name] = {"configured": True, "ok": True, "detail": sanitise(client.check())}
        except ProviderError as exc:
            report[name] = {"configured": True, "ok": False, "detail": str(exc)}
        finally:
            client.close()
    return report


def check_clients(settings: Settings, names: list[str], policy: HttpPolicy) -> dict[str, str]:
    """``check()`` on each named provider's client; the first failure raises (a failed probe)."""
    out = {}
    for name in names:
        client = client_for(settings, name, policy)
        try:
            out[name] = client.check()
        finally:
            client.close()
    return out
