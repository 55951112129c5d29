"""Composition of health scoring: a scoring run with its failure rule, and the backtest.

A run that fails leaves the last good scores standing (copied forward, flagged stale) and records
the failure as a ``health_scoring`` component check, so the rollback rule "health calculation
failure -> manual scoring" and RETENTION-004 can see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from successcrew.definitions.health_model import HealthModel, load_health_model
from successcrew.definitions.thresholds import HealthBands
from successcrew.domain.metrics import (
    BandOutcome,
    add_months,
    band_outcomes,
    month_start,
    roc_auc,
    top_decile_lift,
)
from successcrew.errors import SuccessCrewError
from successcrew.redaction import sanitise


class ScoringFailed(SuccessCrewError):
    """The health calculation failed; the last good scores stand (exit 1)."""

    exit_code = 1


@dataclass
class ScoringOutcome:
    """A run's result: the stored snapshot counts, or the failure and what was carried forward."""

    as_of: date
    ok: bool
    summary: dict[str, Any]
    error: str | None = None
    carried_forward: int = 0


def run_scoring(
    engine: Engine,
    bands: HealthBands,
    as_of: date,
    *,
    now: datetime,
    load_model: Callable[[], HealthModel] = load_health_model,
) -> ScoringOutcome:
    """Score every customer for ``as_of``; on any failure apply the failure rule and re-raise.

    A broken health.yaml is a failure too (the scores cannot be computed): it is recorded, the
    last good scores are carried forward, and the ConfigError goes on to the caller (exit 2).
    """
    from successcrew.store.component_checks import record_check
    from successcrew.store.db import transaction
    from successcrew.store.score_writes import carry_forward, score_accounts
    from successcrew.store.scoring_sql import COMPONENT

    try:
        model = load_model()
        with transaction(engine) as session:
            run = score_accounts(session, model, bands, as_of, now=now)
            record_check(
                session,
                COMPONENT,
                now=now,
                ok=True,
                error=None,
                detail={"as_of": as_of.isoformat(), "scored": run.scored},
            )
        return ScoringOutcome(as_of=as_of, ok=True, summary=run.as_dict())
    except Exception as exc:
        error = sanitise(f"{type(exc).__name__}: {exc}", limit=4000)
        with transaction(engine) as session:
            copied = carry_forward(session, as_of, now=now)
            record_check(
                session,
                COMPONENT,
                now=now,
                ok=False,
                error=error,
                detail={"as_of": as_of.isoformat(), "carried_forward": copied},
            )
        if isinstance(exc, SuccessCrewError):
            raise
        raise ScoringFailed(
            f"health scoring for {as_of} failed ({error}); the last good scores of {copied} "
            "account(s) were carried forward, flagged stale. Score by hand until it is fixed."
        ) from exc


# --- backtest ----------------------------------------------------------------------------------


@dataclass
class BacktestMonth:
    """One replayed date: accounts scored, churners in the horizon and the AUC for that date."""

    as_of: date
    accounts: int
    churned: int
    auc: float | None


@dataclass
class BacktestResult:
    """The model replayed over history against churn in the following ``horizon_days``."""

    model_version: str
    start: date
    end: date
    horizon_days: int
    months: list[BacktestMonth] = field(default_factory=list)
    auc: float | None = None
    top_decile_lift: float | None = None
    bands: list[BandOutcome] = field(default_factory=list)
    observations: int = 0
    churned: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "model_version": self.model_version,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "horizon_days": self.horizon_days,
            "observations": self.observations,
            "churned": self.churned,
            "roc_auc": self.auc,
            "top_decile_lift": self.top_decile_lift,
            "bands": [
                {
                    "band": b.band,
                    "accounts": b.accounts,
                    "churned": b.churned,
                    "churn_rate_pct": b.churn_rate_pct,
                }
                for b in self.bands
            ],
            "months": [
                {
                    "as_of": m.as_of.isoformat(),
                    "accounts": m.accounts,
                    "churned": m.churned,
                    "roc_auc": m.auc,
                }
                for m in self.months
            ],
        }


def backtest_dates(start: date, end: date) -> list[date]:
    """The first of every month from ``start`` (or the next first) to ``end`` inclusive."""
    first = start if start.day == 1 else add_months(start, 1)
    out = []
    while first <= end:
        out.append(first)
        first = add_months(first, 1)
    return out


def default_backtest_range(session: Session, horizon_days: int) -> tuple[date, date]:
    """Six monthly dates ending where the last usage day still leaves a full horizon after."""
    from successcrew.store.models import UsageDaily

    last = session.scalar(select(func.max(UsageDaily.day)))
    if last is None:
        raise SuccessCrewError("no usage data to backtest on; import usage first")
    end = month_start(last - timedelta(days=horizon_days))
    return add_months(end, -5), end


def run_backtest(
    session: Session,
    model: HealthModel,
    bands: HealthBands,
    start: date,
    end: date,
    *,
    now: datetime,
    horizon_days: int = 90,
) -> BacktestResult:
    """Score each month's first day in memory (stored snapshots untouched) and compare the
    scores with churn in the ``horizon_days`` that follow."""
    from successcrew.store.models import Account
    from successcrew.store.score_writes import score_in_memory
    from successcrew.store.scoring_sql import BAND_ORDER

    result = BacktestResult(model.version, start, end, horizon_days)
    all_risk: list[float] = []
    all_churn: list[bool] = []
    all_bands: list[str] = []
    for as_of in backtest_dates(start, end):
        rows = score_in_memory(session, model, bands, as_of, now=now)
        churners = set(
            session.scalars(
                select(Account.id).where(
                    Account.churned_at > as_of,
                    Account.churned_at <= as_of + timedelta(days=horizon_days),
                )
            )
        )
        risk = [100.0 - score for _, score, _ in rows]
        churn = [account_id in churners for account_id, _, _ in rows]
        result.months.append(BacktestMonth(as_of, len(rows), sum(churn), roc_auc(risk, churn)))
        all_risk += risk
        all_churn += churn
        all_bands += [band for _, _, band in rows]
    result.observations = len(all_risk)
    result.churned = sum(all_churn)
    result.auc = roc_auc(all_risk, all_churn)
    result.top_decile_lift = top_decile_lift(all_risk, all_churn)
    result.bands = band_outcomes(all_bands, all_churn, BAND_ORDER)
    return result
