"""Integrations: one HTTP policy, CRM/email/Slack clients, and the transactional outbox.

Every external effect is enqueued with :func:`enqueue` in the transaction that decided it and
sent later by :func:`dispatch`.
"""

from successcrew.integrations.crm import (
    CrmAccount,
    CrmConnector,
    CrmContact,
    CrmTask,
    HubSpotConnector,
    IntercomConnector,
    PushResult,
    SalesforceConnector,
    ScoreUpdate,
)
from successcrew.integrations.dispatcher import DispatchSummary, dispatch
from successcrew.integrations.email import EmailMessage, MailchimpClient, SendGridClient
from successcrew.integrations.http import (
    HttpPolicy,
    ProviderAuthError,
    ProviderClient,
    ProviderError,
    ProviderResponseError,
)
from successcrew.integrations.outbox import enqueue, outbox_summary
from successcrew.integrations.slack import Button, SlackClient, build_blocks
from successcrew.integrations.sync import SyncSummary, sync_crm

__all__ = [
    "Button",
    "CrmAccount",
    "CrmConnector",
    "CrmContact",
    "CrmTask",
    "DispatchSummary",
    "EmailMessage",
    "HttpPolicy",
    "HubSpotConnector",
    "IntercomConnector",
    "MailchimpClient",
    "ProviderAuthError",
    "ProviderClient",
    "ProviderError",
    "ProviderResponseError",
    "PushResult",
    "SalesforceConnector",
    "ScoreUpdate",
    "SendGridClient",
    "SlackClient",
    "SyncSummary",
    "build_blocks",
    "dispatch",
    "enqueue",
    "outbox_summary",
    "sync_crm",
]
