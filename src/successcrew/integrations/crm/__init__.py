"""CRM connectors behind one interface (:class:`CrmConnector`)."""

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

__all__ = [
    "CrmAccount",
    "CrmConnector",
    "CrmContact",
    "CrmTask",
    "HubSpotConnector",
    "IntercomConnector",
    "PushResult",
    "SalesforceConnector",
    "ScoreUpdate",
]
