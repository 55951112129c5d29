"""Alerts to the team: where they go, and the accounts that fell into the Critical band."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from successcrew import numbers
from successcrew.integrations.providers import provider_matrix
from successcrew.settings import Settings
from successcrew.store import audit
from successcrew.store import portfolio_queries as q
from successcrew.store.outbox import enqueue, enqueue_many
from successcrew.store.snapshots import latest_as_of


def configure_alerts(
    session: Session, settings: Settings, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Decide alert routing from the providers in use and announce monitoring in Slack."""
    matrix = provider_matrix(settings)
    routing = {
        "slack": {"channel": settings.slack_channel, "mode": matrix["slack"]["mode"]},
        "crm_tasks": matrix["crm"]["provider"] or "none (no CRM configured)",
        "email": matrix["email"]["provider"] or "outbox only",
    }
    enqueue(
        session,
        key="setup:alert-routing:announce",
        channel="slack",
        payload={
            "channel": settings.slack_channel,
            "title": "successcrew health monitoring is on",
            "summary": (
                "successcrew now watches customer health: accounts falling into the Critical "
                f"band are posted here and get a CRM task ({routing['crm_tasks']})."
            ),
        },
        now=now,
    )
    audit.record(
        session,
        at=now,
        actor=actor,
        action="setup.alert_routing",
        subject="alerts",
        detail=routing,
    )
    return routing


def generate_alerts(
    session: Session, settings: Settings, *, now: datetime, boundaries: Sequence[float] = ()
) -> dict[str, Any]:
    """Alert on accounts whose latest score is Critical and whose previous one was not.

    ``boundaries`` are the health bands' edges: a score in the text never shows across one.

    One Slack message per account per scoring date, and a CRM task for the owner when a CRM
    is in use and the account is known there; the keys make a re-run queue nothing twice.
    """
    current = latest_as_of(session, now.date())
    if current is None:
        return {"alerts": 0, "scores": "none yet"}
    previous = q.previous_as_of(session, current)
    rows = q.newly_critical(session, current, previous)
    crm = provider_matrix(settings)["crm"]["provider"]
    sources = q.crm_source_ids(session, crm, [a.id for a, _ in rows]) if crm and rows else {}
    slack, crm_tasks = [], []
    for account, snap in rows:
        text = f"{account.name} is Critical: health {numbers.score(snap.score, boundaries)}"
        slack.append(
            {
                "key": f"alert:critical:{account.id}:{current.isoformat()}",
                "channel": "slack",
                "payload": {
                    "channel": settings.slack_channel,
                    "title": text,
                    "fields": {
                        "ARR": numbers.amount(float(account.arr or 0)),
                        "Owner": account.owner_email or "-",
                        "Segment": account.segment or "-",
                        "Scored on": current.isoformat(),
                    },
                },
                "account_id": account.id,
            }
        )
        if account.id in sources:
            crm_tasks.append(
                {
                    "key": f"alert:crm-task:{account.id}:{current.isoformat()}",
                    "channel": "crm_task",
                    "payload": {
                        "provider": crm,
                        "account_source_id": sources[account.id],
                        "subject": f"Critical health: call {account.name}",
                        "body": f"{text} (scored on {current.isoformat()})",
                        "due_date": (now + timedelta(days=1)).date().isoformat(),
                        "owner_email": account.owner_email,
                    },
                    "account_id": account.id,
                }
            )
    queued = enqueue_many(session, slack, now=now)
    tasks = enqueue_many(session, crm_tasks, now=now)
    return {"as_of": current.isoformat(), "alerts": queued, "crm_tasks": tasks}
