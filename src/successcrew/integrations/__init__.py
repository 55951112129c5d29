"""Integrations: one HTTP policy, CRM/email/Slack clients, the outbox dispatcher, the CRM sync.

Every external effect is enqueued with :func:`enqueue` in the transaction that decided it and
sent later by :func:`dispatch`. The names below are loaded on first use: importing the package
runs nothing, so the crew's parallel tasks never meet a half-imported module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "CrmAccount": "successcrew.integrations.crm.connector",
    "CrmConnector": "successcrew.integrations.crm.connector",
    "CrmContact": "successcrew.integrations.crm.connector",
    "CrmTask": "successcrew.integrations.crm.connector",
    "PushResult": "successcrew.integrations.crm.connector",
    "ScoreUpdate": "successcrew.integrations.crm.connector",
    "HubSpotConnector": "successcrew.integrations.crm.hubspot",
    "IntercomConnector": "successcrew.integrations.crm.intercom",
    "SalesforceConnector": "successcrew.integrations.crm.salesforce",
    "DispatchSummary": "successcrew.integrations.dispatcher",
    "dispatch": "successcrew.integrations.dispatcher",
    "EmailMessage": "successcrew.integrations.email.sender",
    "MailchimpClient": "successcrew.integrations.email.mailchimp",
    "SendGridClient": "successcrew.integrations.email.sendgrid",
    "HttpPolicy": "successcrew.integrations.http",
    "ProviderAuthError": "successcrew.integrations.http",
    "ProviderClient": "successcrew.integrations.http",
    "ProviderError": "successcrew.integrations.http",
    "ProviderResponseError": "successcrew.integrations.http",
    "enqueue": "successcrew.store.outbox",
    "outbox_summary": "successcrew.store.outbox",
    "Button": "successcrew.integrations.slack",
    "SlackClient": "successcrew.integrations.slack",
    "build_blocks": "successcrew.integrations.slack",
    "SyncSummary": "successcrew.integrations.sync",
    "sync_crm": "successcrew.integrations.sync",
}

# Spelled out (not computed from _EXPORTS) so type checkers read it; a test keeps the two equal.
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

if TYPE_CHECKING:
    # The same names as _EXPORTS, for type checkers and editors (never run).
    from successcrew.integrations.crm.connector import (
        CrmAccount,
        CrmConnector,
        CrmContact,
        CrmTask,
        PushResult,
        ScoreUpdate,
    )
    from successcrew.integrations.crm.hubspot import HubSpotConnector
    from successcrew.integrations.crm.intercom import IntercomConnector
    from successcrew.integrations.crm.salesforce import SalesforceConnector
    from successcrew.integrations.dispatcher import DispatchSummary, dispatch
    from successcrew.integrations.email.mailchimp import MailchimpClient
    from successcrew.integrations.email.sender import EmailMessage
    from successcrew.integrations.email.sendgrid import SendGridClient
    from successcrew.integrations.http import (
        HttpPolicy,
        ProviderAuthError,
        ProviderClient,
        ProviderError,
        ProviderResponseError,
    )
    from successcrew.integrations.slack import Button, SlackClient, build_blocks
    from successcrew.integrations.sync import SyncSummary, sync_crm
    from successcrew.store.outbox import enqueue, outbox_summary


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'successcrew.integrations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
