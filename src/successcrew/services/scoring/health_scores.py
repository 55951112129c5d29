"""Composition of health scoring: a scoring run with its freshness and failure rules, model
changes, deleting a date's scores, and the backtest.

Before scoring, each input's newest day is checked against ``thresholds.data_freshness``
(``domain.freshness``): components of a stale input are left out; when they carry more than the
configured share of the weight nothing is scored. Either way a ``data_freshness`` component
check records what was found, for RETENTION-004 and ``status``.

A run that fails, or is held for stale data, leaves the last good scores standing (copied
forward, flagged stale). A failure is recorded as a failed ``health_scoring`` check, a held run
as a failed ``data_freshness`` check that says it carried scores forward; the rollback rule
"health calculation failure -> manual scoring" reads both (no score was computed either way),
and RETENTION-004 alerts once, for the component that failed.

When the health model's version differs from the one that scored the previous date, the run
says how many accounts the new model alone moves to another band (that date re-scored with the
new model, in memory) and records the change in the audit log. The drop rule and explanations
compare only scores of the same model, so the change is never read as a customer's drop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from successcrew.definitions.health_model import HealthModel, load_health_model
from successcrew.definitions.thresholds import DataFreshness, HealthBands
from successcrew.domain.freshness import (
    FeedState,
    StaleVerdict,
    judge_feeds,
    model_feeds,
    stale_verdict,
    usage_lookback_days,
)
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

#: The component name of the data-freshness check (system health, RETENTION-004).
FRESHNESS_COMPONENT = "data_freshness"
BAND_LABELS = {"healthy": "Healthy", "at_risk": "At-Risk", "critical": "Critical"}


class ScoringFailed(SuccessCrewError):
    """The health calculation failed; the last good scores stand (exit 1)."""

    exit_code = 1


class ScoringHeld(SuccessCrewError):
    """The data was not fresh enough to score; the last good scores stand (exit 1)."""

    exit_code = 1


@dataclass
class ModelChange:
    """A new health-model version, and what it alone changes on the previous date's data."""

    from_version: str
    to_version: str
    compared_on: date
    accounts: int = 0
    #: ``"healthy->at_risk"``: accounts, for every pair of different bands.
    band_changes: dict[str, int] = field(default_factory=dict)
    mean_shift_points: float = 0.0

    @property
    def changed_band(self) -> int:
        """Accounts the model alone moves to another band."""
        return sum(self.band_changes.values())

    def describe(self) -> str:
        """What a person reads after ``successcrew score``."""
        head = (
            f"health model changed {self.from_version} -> {self.to_version}: re-scored with "
            f"{self.to_version}, {self.compared_on}'s data puts {self.changed_band} of "
            f"{self.accounts} accounts in another band"
        )
        if self.band_changes:
            moves = ", ".join(
                f"{n} {BAND_LABELS[a]} -> {BAND_LABELS[b]}"
                for (a, b), n in sorted(
                    ((tuple(k.split("->")), n) for k, n in self.band_changes.items()),
                    key=lambda item: -item[1],
                )
            )
            head += f" ({moves})"
        return (
            f"{head}, and moves scores by {self.mean_shift_points:.1f} points on average, from "
            "the model alone. Drop alerts compare only scores of the same model, so none of "
            "this is read as a customer's drop."
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "from_version": self.from_version,
            "to_version": self.to_version,
            "compared_on": self.compared_on.isoformat(),
            "accounts": self.accounts,
            "changed_band": self.changed_band,
            "band_changes": dict(self.band_changes),
            "mean_shift_points": round(self.mean_shift_points, 2),
        }


@dataclass
class ScoringOutcome:
    """A run's result: the stored snapshot counts, or why nothing new was scored and what was
    carried forward; the inputs' freshness and any model change."""

    as_of: date
    ok: bool
    summary: dict[str, Any]
    error: str | None = None
    carried_forward: int = 0
    held: bool = False
    freshness: StaleVerdict | None = None
    model_change: ModelChange | None = None

    def warnings(self) -> list[str]:
        """Lines a person must read: stale inputs left out, a model change."""
        lines = []
        verdict = self.freshness
        if verdict is not None and not verdict.ok and not self.held:
            left_out = ", ".join(verdict.components)
            lines.append(
                f"warning: data not fresh ({verdict.describe()})"
                + (
                    f"; left out of every score: {left_out} "
                    f"({verdict.share()}), the other weights renormalised"
                    if left_out
                    else ""
                )
            )
        if self.model_change is not None:
            lines.append(self.model_change.describe())
        return lines


def _judge(
    session: Session,
    model: HealthModel,
    rules: DataFreshness,
    on: date,
    sizes: dict[str | None, int] | None = None,
) -> StaleVerdict:
    from successcrew.store.feed_dates import feed_last_days
    from successcrew.store.score_writes import segment_sizes

    names = [*model_feeds(model), "crm_sync"]
    lookback = usage_lookback_days(names, rules)
    feeds = judge_feeds(feed_last_days(session, names, on, lookback_days=lookback), rules, on)
    in_use = segment_sizes(session, on) if sizes is None else sizes
    return stale_verdict(model, feeds, rules, segments=set(in_use))


def feed_freshness(
    session: Session, model: HealthModel, rules: DataFreshness, on: date
) -> list[FeedState]:
    """Each input the health model reads, and the CRM sync: newest day and age on ``on``."""
    # The feeds alone: which segments are in use only matters to the verdict, not read here.
    return list(_judge(session, model, rules, on, sizes={}).feeds)


def check_freshness(
    engine: Engine,
    rules: DataFreshness,
    on: date,
    *,
    load_model: Callable[[], HealthModel] = load_health_model,
) -> dict[str, Any]:
    """The hourly ``data_freshness`` probe: the inputs' state, or an error naming the stale ones."""
    from successcrew.store.db import transaction

    with transaction(engine) as session:
        verdict = _judge(session, load_model(), rules, on)
    if not verdict.ok:
        raise RuntimeError(f"data not fresh: {verdict.describe()}")
    return {"stale_feeds": [], "feeds": len(verdict.feeds)}


def status_section(conn: Any, runtime: Any, now: datetime) -> dict[str, Any]:
    """``STATUS_SECTIONS`` entry: each input's newest day and age on ``now``'s date."""
    from successcrew.definitions.thresholds import load_thresholds

    thresholds = getattr(runtime, "thresholds", None) or load_thresholds()
    try:
        model = load_health_model()
    except SuccessCrewError as exc:
        return {"data_freshness": {"error": str(exc), "feeds": []}}
    with Session(bind=conn) as session:
        verdict = _judge(session, model, thresholds.data_freshness, now.date())
    return {"data_freshness": {"error": None, **verdict.as_dict()}}


def render_status_section(document: dict[str, Any], echo: Callable[[str], None]) -> None:
    """``STATUS_RENDERERS`` entry: one line per input, stale ones first named as such."""
    section = document.get("data_freshness")
    if not section:
        return
    if section.get("error"):
        echo(f"data      cannot judge freshness: {section['error']}")
        return
    for feed in section["feeds"]:
        state = FeedState(
            feed=feed["feed"],
            last_day=date.fromisoformat(feed["last_day"]) if feed["last_day"] else None,
            max_age_days=feed["max_age_days"],
            age_days=feed["age_days"],
            nothing_since=(
                date.fromisoformat(feed["nothing_since"]) if feed.get("nothing_since") else None
            ),
        )
        judged = state.max_age_days is not None and (
            state.last_day is not None or state.nothing_since is not None
        )
        label = "STALE" if state.stale else "fresh" if judged else "input"
        echo(f"{label:<9} {state.describe()}")
    if section["stale_components"]:
        what = (
            "no new scores until it is fresh"
            if section["held"]
            else "left out of the scores, the other weights renormalised"
        )
        echo(f"          stale components: {', '.join(section['stale_components'])} ({what})")


def _model_change(
    session: Session,
    model: HealthModel,
    bands: HealthBands,
    as_of: date,
    rules: DataFreshness,
    *,
    now: datetime,
) -> ModelChange | None:
    """The change from the model that scored the previous date, with its effect on that date."""
    from successcrew.store.score_writes import model_change_bands
    from successcrew.store.snapshots import previous_model_version

    found = previous_model_version(session, as_of)
    if found is None:
        return None
    compared_on, version = found
    resolved = {m.version for m in model.models()}
    if version in resolved or version.startswith(model.version + "+"):
        return None
    then = _judge(session, model, rules, compared_on)
    change = ModelChange(from_version=version, to_version=model.version, compared_on=compared_on)
    shift = 0.0
    for before, after, n, moved in model_change_bands(
        session, model, bands, compared_on, now=now, stale_feeds=then.stale_feed_names()
    ):
        change.accounts += n
        shift += moved
        if before != after:
            change.band_changes[f"{before}->{after}"] = n
    change.mean_shift_points = shift / change.accounts if change.accounts else 0.0
    return change


def run_scoring(
    engine: Engine,
    bands: HealthBands,
    as_of: date,
    *,
    now: datetime,
    load_model: Callable[[], HealthModel] = load_health_model,
    freshness: DataFreshness | None = None,
) -> ScoringOutcome:
    """Score every customer for ``as_of``; on any failure apply the failure rule and re-raise.

    ``freshness`` (``thresholds.data_freshness``, the defaults when None) says when an input is
    stale. A run held for stale data carries the last good scores forward and returns with
    ``held`` set (callers exit 1). A broken health.yaml is a failure too (the scores cannot be
    computed): it is recorded, the last good scores are carried forward, and the ConfigError goes
    on to the caller (exit 2).
    """
    from successcrew.store import audit
    from successcrew.store.component_checks import record_check
    from successcrew.store.db import transaction
    from successcrew.store.score_writes import carry_forward, score_accounts, segment_sizes
    from successcrew.store.scoring_sql import COMPONENT, usage_weeks
    from successcrew.store.snapshots import MODEL_CHANGED
    from successcrew.store.usage import settle_usage

    rules = freshness or DataFreshness()
    try:
        model = load_model()
        with transaction(engine) as session:
            # Days the roll-up marked are taken in first (which metrics were ever seen is part
            # of the freshness answer); scoring would do it next anyway.
            settle_usage(session.connection(), as_of, usage_weeks(model, as_of))
            sizes = segment_sizes(session, as_of)
            verdict = _judge(session, model, rules, as_of, sizes)
            if verdict.hold:
                copied = carry_forward(session, as_of, now=now)
                error = (
                    f"no new scores for {as_of}: data not fresh ({verdict.describe()}); the stale "
                    f"inputs carry {verdict.share()} (more than {verdict.limit_pct:g} %)"
                )
                record_check(
                    session,
                    FRESHNESS_COMPONENT,
                    now=now,
                    ok=False,
                    error=error[:4000],
                    detail={
                        "as_of": as_of.isoformat(),
                        "carried_forward": copied,
                        **verdict.as_dict(),
                    },
                )
                message = (
                    f"{error}. The last good scores of {copied} account(s) were carried forward, "
                    "flagged stale; triggers, programs, surveys and escalations wait for fresh "
                    "scores. Bring the input up to date (or change data_freshness in "
                    "config/thresholds.yaml) and score again."
                )
                return ScoringOutcome(
                    as_of=as_of,
                    ok=False,
                    summary={
                        "as_of": as_of.isoformat(),
                        "model_version": model.version,
                        "held": True,
                        "carried_forward": copied,
                        "freshness": verdict.as_dict(),
                    },
                    error=message,
                    carried_forward=copied,
                    held=True,
                    freshness=verdict,
                )
            change = _model_change(session, model, bands, as_of, rules, now=now)
            run = score_accounts(
                session,
                model,
                bands,
                as_of,
                now=now,
                stale_feeds=verdict.stale_feed_names(),
                sizes=sizes,
            )
            record_check(
                session,
                COMPONENT,
                now=now,
                ok=True,
                error=None,
                detail={"as_of": as_of.isoformat(), "scored": run.scored},
            )
            record_check(
                session,
                FRESHNESS_COMPONENT,
                now=now,
                ok=verdict.ok,
                error=None if verdict.ok else f"data not fresh: {verdict.describe()}"[:4000],
                detail={"as_of": as_of.isoformat(), **verdict.as_dict()},
            )
            if change is not None and not _already_recorded(session, change, as_of):
                audit.record(
                    session,
                    at=now,
                    actor="scoring",
                    action=MODEL_CHANGED,
                    subject=f"{change.from_version} -> {change.to_version}",
                    detail={"as_of": as_of.isoformat(), **change.as_dict()},
                )
        summary = run.as_dict()
        summary["freshness"] = verdict.as_dict()
        summary["stale_components"] = list(verdict.components)
        summary["model_change"] = None if change is None else change.as_dict()
        return ScoringOutcome(
            as_of=as_of, ok=True, summary=summary, freshness=verdict, model_change=change
        )
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


def _already_recorded(session: Session, change: ModelChange, as_of: date) -> bool:
    # A re-run of the same date finds the same change: one audit entry is enough.
    from successcrew.store.models import AuditLog
    from successcrew.store.snapshots import MODEL_CHANGED

    details = session.scalars(
        select(AuditLog.detail).where(
            AuditLog.action == MODEL_CHANGED,
            AuditLog.subject == f"{change.from_version} -> {change.to_version}",
        )
    )
    return any((d or {}).get("as_of") == as_of.isoformat() for d in details)


def delete_scores(engine: Engine, as_of: date, *, actor: str, now: datetime) -> int:
    """Remove every snapshot of ``as_of`` (audited); returns how many went.

    For a date scored by mistake (a future ``--as-of`` would otherwise stay "the latest scores"
    for every listing). Other dates are untouched.
    """
    from successcrew.store.db import transaction
    from successcrew.store.snapshots import delete_snapshots

    with transaction(engine) as session:
        return delete_snapshots(session, as_of, actor=actor, now=now)


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
