"""Which providers are configured, and their clients built from settings.

A provider without credentials is *outbox only*: nothing here builds a client for it, and the
dispatcher leaves its messages ``held`` with a ``no ... configured: outbox only`` reason.
"""

from __future__ import annotations

from typing import Any

from successcrew.integrations.crm.base import CrmConnector
from successcrew.integrations.crm.hubspot import HubSpotConnector
from successcrew.integrations.crm.intercom import IntercomConnector
from successcrew.integrations.crm.salesforce import SalesforceConnector
from successcrew.integrations.email.base import EmailSender
from successcrew.integrations.email.mailchimp import MailchimpClient
from successcrew.integrations.email.sendgrid import SendGridClient
from successcrew.integrations.http import HttpPolicy
from successcrew.integrations.slack import SlackClient
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
