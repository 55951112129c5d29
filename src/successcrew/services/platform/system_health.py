"""System health: the hourly check of each component, and its section in ``successcrew status``.

A probe is a callable that returns normally when its component works (optionally a dict of
figures to keep, e.g. ``{"attempted": 40, "failed": 1, "error_rate_pct": 2.5}`` for crm_sync) and
raises when it does not. RETENTION-004 reads the recorded checks; so do the rollback rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from successcrew.definitions.thresholds import COMPONENTS, Thresholds, load_thresholds
from successcrew.domain.trigger_rules import uptime_pct
from successcrew.redaction import sanitise
from successcrew.settings import Settings
from successcrew.store import component_checks
from successcrew.store.db import transaction

Probe = Callable[[], Mapping[str, Any] | None]


def run_system_health_checks(
    engine: Engine, now: datetime, probes: Mapping[str, Probe]
) -> dict[str, dict[str, Any]]:
    """Run each probe and record one check per component; returns ``{component: {ok, error}}``.

    A probe that raises is a failed check with the exception as its error; the others still run.
    Each check is committed on its own so a failure while recording one loses only that one.
    """
    results: dict[str, dict[str, Any]] = {}
    for component, probe in probes.items():
        try:
            detail = probe()
        except Exception as exc:  # any failure of the probed component is a failed check
            # Sanitised before it is cut: a probe's error quotes the provider's answer.
            error = sanitise(f"{type(exc).__name__}: {exc}", limit=2000)
            ok, detail = False, None
        else:
            ok, error = True, None
            # A CRM sync that failed some records still ran; its error rate is the rollback signal.
        with transaction(engine) as session:
            component_checks.record_check(
                session,
                component,
                now=now,
                ok=ok,
                error=error,
                detail=dict(detail) if detail else None,
            )
        results[component] = {"ok": ok, "error": error}
    return results


def component_probes(settings: Settings, thresholds: Thresholds) -> dict[str, Probe]:
    """One probe per component that is in use, named as thresholds.system_health.components.

    A component with nothing configured is not probed: an unused component is not a failing one.
    """
    from successcrew.definitions.health_model import load_health_model
    from successcrew.integrations import providers
    from successcrew.integrations.http import HttpPolicy

    policy = HttpPolicy(retry=thresholds.retries)
    crm = [p for p in providers.CRM_PROVIDERS if providers.is_configured(settings, p)]
    senders = [
        p for p in ("slack", *providers.EMAIL_PROVIDERS) if providers.is_configured(settings, p)
    ]
    probes: dict[str, Probe] = {
        # The scoring job itself records each run; the hourly probe says whether it could run.
        "health_scoring": lambda: {"model_version": load_health_model().version},
    }
    if crm:
        probes["crm_sync"] = lambda: providers.check_clients(settings, crm, policy)
    if senders:
        probes["campaign_dispatch"] = lambda: providers.check_clients(settings, senders, policy)
    wanted = set(thresholds.system_health.components)
    return {name: probe for name, probe in probes.items() if name in wanted}


def check_components(
    engine: Engine, settings: Settings, thresholds: Thresholds, now: datetime
) -> dict[str, dict[str, Any]]:
    """The hourly system health check: probe each component in use and record the checks."""
    from successcrew.services.scoring.health_scores import check_freshness

    probes = component_probes(settings, thresholds)
    if "data_freshness" in thresholds.system_health.components:
        # Needs the database, which the other probes do not: added here, beside the engine.
        probes["data_freshness"] = lambda: check_freshness(
            engine, thresholds.data_freshness, now.date()
        )
    return run_system_health_checks(engine, now, probes)


class ComponentHealth(TypedDict):
    """One component's checks: failures in a row (alerting at the threshold), the last check
    (ISO time) and error, and uptime over ``window_days`` against the SLO (None: no checks)."""

    component: str
    consecutive_failures: int
    alerting: bool
    last_checked_at: str | None
    last_ok: bool | None
    last_error: str | None
    uptime_pct: float | None
    checks: int
    slo_pct: float
    meets_slo: bool | None
    window_days: int


class SystemHealthSection(TypedDict):
    """``status``'s ``system_health``: one entry per component."""

    system_health: list[ComponentHealth]


def component_report(
    session: Session, thresholds: Thresholds, now: datetime
) -> list[ComponentHealth]:
    """Per component: consecutive failures, last check and error, uptime against the SLO."""
    sh = thresholds.system_health
    states = component_checks.component_states(session, sh.components, now, sh.uptime_window_days)
    rows: list[ComponentHealth] = []
    for comp, s in states.items():
        uptime = uptime_pct(s.ok_in_window, s.checks_in_window)
        rows.append(
            ComponentHealth(
                component=comp,
                consecutive_failures=s.consecutive_failures,
                alerting=s.consecutive_failures >= sh.consecutive_failures_alert,
                last_checked_at=s.last_checked_at.isoformat() if s.last_checked_at else None,
                last_ok=s.last_ok,
                last_error=s.last_error,
                uptime_pct=None if uptime is None else round(uptime, 3),
                checks=s.checks_in_window,
                slo_pct=sh.uptime_slo_pct,
                meets_slo=None if uptime is None else uptime >= sh.uptime_slo_pct,
                window_days=sh.uptime_window_days,
            )
        )
    return rows


def status_section(conn: Connection, runtime: Any, now: datetime) -> SystemHealthSection:
    """``STATUS_SECTIONS`` entry: ``{"system_health": [...]}``."""
    thresholds = getattr(runtime, "thresholds", None) or load_thresholds()
    with Session(bind=conn) as session:
        return {"system_health": component_report(session, thresholds, now)}


__all__ = [
    "COMPONENTS",
    "check_components",
    "component_probes",
    "component_report",
    "run_system_health_checks",
    "status_section",
]
