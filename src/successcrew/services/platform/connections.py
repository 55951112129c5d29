"""Connections to the company's systems: which providers are used, whether their credentials
work, the health-score field in the CRM, and the two-way CRM sync."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from successcrew.definitions.thresholds import Thresholds
from successcrew.domain.crewplan import NOTHING_TO_DO
from successcrew.integrations import providers
from successcrew.integrations.http import HttpPolicy
from successcrew.settings import Settings
from successcrew.store import audit


def select_providers(
    session: Session,
    settings: Settings,
    *,
    preferred: dict[str, str] | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Choose the CRM, email and Slack providers from configuration and record the choice."""
    matrix = providers.provider_matrix(settings, preferred)
    audit.record(
        session,
        at=now,
        actor=actor,
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


def check_connections(settings: Settings, thresholds: Thresholds) -> dict[str, Any]:
    """One authenticated call per configured provider; raises ConnectionError naming each one
    that failed. Unconfigured providers are outbox only, not failures."""
    report = providers.check_providers(settings, HttpPolicy(retry=thresholds.retries))
    failed = {name: r["detail"] for name, r in report.items() if r["ok"] is False}
    if failed:
        raise ConnectionError(
            "provider check failed: " + "; ".join(f"{n}: {d}" for n, d in failed.items())
        )
    result: dict[str, Any] = {name: r["detail"] for name, r in report.items()}
    if not any(r["configured"] for r in report.values()):
        result[NOTHING_TO_DO] = "no provider configured (outbox only): nothing to check"
    return result


@contextmanager
def crm_connectors(
    settings: Settings, thresholds: Thresholds, names: list[str]
) -> Iterator[list[Any]]:
    """The connectors of the named (configured) CRMs, closed afterwards."""
    policy = HttpPolicy(retry=thresholds.retries)
    built = [c for n in names if (c := providers.crm_connector(settings, n, policy))]
    try:
        yield built
    finally:
        for c in built:
            c.close()


def map_health_field(
    session: Session,
    settings: Settings,
    thresholds: Thresholds,
    *,
    preferred: dict[str, str] | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Create the health-score custom properties in the CRM in use (idempotent)."""
    provider = providers.provider_matrix(settings, preferred)["crm"]["provider"]
    if provider is None:
        return {"crm": "outbox only", "mapped": False, NOTHING_TO_DO: "no CRM configured"}
    with crm_connectors(settings, thresholds, [provider]) as connectors:
        connectors[0].prepare()
    audit.record(session, at=now, actor=actor, action="setup.health_field", subject=provider)
    return {"crm": provider, "mapped": True}


def sync_customer_data(
    engine: Engine, settings: Settings, thresholds: Thresholds, now: datetime
) -> dict[str, Any]:
    """Pull accounts and contacts from every configured CRM and push health scores back.

    A sync whose error rate is above the rollback threshold raises (the crm_sync component
    check recorded by the sync feeds RETENTION-004 and the rollback rule).
    """
    from successcrew.integrations.sync import sync_crm

    names = [p for p in providers.CRM_PROVIDERS if providers.is_configured(settings, p)]
    if not names:
        return {"crm": "outbox only", "synced": 0, NOTHING_TO_DO: "no CRM configured"}
    with crm_connectors(settings, thresholds, names) as connectors:
        summary = sync_crm(engine, connectors, thresholds, now, push=True)
    if not summary.ok:
        raise RuntimeError(
            f"CRM sync error rate {summary.error_rate_pct:g}% is above "
            f"{thresholds.rollback.crm_sync_error_rate_pct:g}%"
        )
    return summary.as_dict()
