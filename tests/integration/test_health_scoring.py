"""Scoring, overrides, failure rule, explanations, retention and NPS on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from successcrew.definitions.health_model import HealthModel, load_health_model, parse_health_model
from successcrew.definitions.thresholds import load_thresholds
from successcrew.domain.explanations import describe_component
from successcrew.errors import ConfigError
from successcrew.services.scoring.health_scores import ScoringFailed, run_backtest, run_scoring
from successcrew.store import score_writes, scoring_sql
from successcrew.store import snapshots as snapshot_store
from successcrew.store.db import transaction
from successcrew.store.metric_queries import nps_by_segment, nps_figures, portfolio_retention
from successcrew.store.models import (
    Account,
    AuditLog,
    ComponentCheck,
    HealthModelLayout,
    HealthSnapshot,
    Invoice,
    NpsResponse,
    Ticket,
    UsageDaily,
    UsageWeeklyBuilt,
)
from successcrew.store.usage import mark_pending

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AS_OF = date(2026, 6, 1)
BANDS = load_thresholds().health_bands


def add_accounts(engine: Engine, *rows: dict[str, Any]) -> None:
    with transaction(engine) as s:
        for i, row in enumerate(rows, start=1):
            s.add(
                Account(
                    id=row.get("id", i),
                    external_id=row.get("external_id", f"A{i}"),
                    name=row.get("name", f"Account {i}"),
                    segment=row.get("segment", "smb"),
                    arr=row.get("arr", 1000),
                    started_at=row.get("started_at", date(2025, 1, 1)),
                    churned_at=row.get("churned_at"),
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


def add_usage(engine: Engine, account_id: int, metric: str, per_day: dict[date, float]) -> None:
    with transaction(engine) as s:
        s.execute(
            insert(UsageDaily),
            [
                {"account_id": account_id, "metric": metric, "day": d, "value": v, "event_count": 1}
                for d, v in per_day.items()
            ],
        )
        # As the roll-up and the daily-total import do after writing usage_daily (scoring then
        # takes the days into usage_first_activity).
        mark_pending(s.connection(), days=list(per_day))


def daily(value: float, first: date, last: date) -> dict[date, float]:
    days = (last - first).days + 1
    return {first + timedelta(days=i): value for i in range(days)}


def model(components: dict[str, Any], segments: dict[str, Any] | None = None) -> HealthModel:
    return parse_health_model(
        {"version": "test", "components": components, "segments": segments or {}}, "test.yaml"
    )


LOGINS_TARGET = {
    "kind": "usage_total",
    "metric": "logins",
    "window_days": 10,
    "weight": 1,
    "normalise": {"method": "target", "target": 100, "worst": 0},
}


def score(engine: Engine, m: HealthModel, as_of: date = AS_OF) -> score_writes.ScoreRun:
    with transaction(engine) as s:
        return score_writes.score_accounts(s, m, BANDS, as_of, now=NOW)


def snapshots(engine: Engine, as_of: date = AS_OF) -> dict[int, HealthSnapshot]:
    with transaction(engine) as s:
        return {
            r.account_id: r
            for r in s.scalars(select(HealthSnapshot).where(HealthSnapshot.as_of == as_of))
        }


def test_band_boundaries_in_sql(engine: Engine) -> None:
    # One target component: 10 days of usage totalling 70 scores exactly 70 points.
    totals = {1: 70.0, 2: 69.99, 3: 40.0, 4: 39.99, 5: 100.0, 6: 0.0}
    add_accounts(engine, *({} for _ in totals))
    for account_id, total in totals.items():
        add_usage(engine, account_id, "logins", {AS_OF: total})
        add_usage(engine, account_id, "logins", {date(2026, 1, 1): 1.0})  # history exists
    run = score(engine, model({"logins": LOGINS_TARGET}))
    snaps = snapshots(engine)
    assert {i: (snaps[i].score, snaps[i].band) for i in totals} == {
        1: (70.0, "healthy"),
        2: (69.99, "at_risk"),
        3: (40.0, "at_risk"),
        4: (39.99, "critical"),
        5: (100.0, "healthy"),
        6: (0.0, "critical"),
    }
    assert run.bands == {"healthy": 2, "at_risk": 2, "critical": 2}


def test_components_percentile_missing_data_and_churned(engine: Engine) -> None:
    add_accounts(
        engine,
        {},
        {},
        {},
        {"segment": "enterprise"},
        {"churned_at": date(2026, 5, 1)},  # churned before as_of: not scored
        {"started_at": date(2026, 7, 1)},  # not a customer yet
    )
    for account_id, value in ((1, 1.0), (2, 2.0), (3, 2.0), (4, 5.0), (5, 9.0), (6, 9.0)):
        add_usage(engine, account_id, "logins", daily(value, date(2026, 5, 23), AS_OF))
    with transaction(engine) as s:
        s.add(
            NpsResponse(
                natural_key="n1", account_id=1, score=10, responded_at=NOW - timedelta(days=3)
            )
        )
        s.add(
            NpsResponse(
                natural_key="n0", account_id=1, score=0, responded_at=NOW - timedelta(days=30)
            )
        )
    m = model(
        {
            "usage": {
                "kind": "usage_total",
                "metric": "logins",
                "window_days": 10,
                "weight": 3,
                # Ranked within each segment, however small (the default falls back to the
                # whole book below 10 customers: see the two-account test).
                "normalise": {"method": "percentile", "min_segment_size": 1},
            },
            "nps": {
                "kind": "latest_nps",
                "weight": 1,
                "normalise": {"method": "target", "target": 10, "worst": 0},
            },
        }
    )
    run = score(engine, m)
    assert run.scored == 4 and run.eligible == 4
    snaps = snapshots(engine)
    assert set(snaps) == {1, 2, 3, 4}
    # smb partition: 10, 20, 20 -> mid-ranks 1/6, 4/6, 4/6; enterprise alone -> 0.5.
    assert snaps[1].components["usage"]["normalised"] == pytest.approx(1 / 6)
    assert snaps[2].components["usage"]["normalised"] == pytest.approx(4 / 6)
    assert snaps[4].components["usage"]["normalised"] == pytest.approx(0.5)
    assert snaps[2].components["usage"]["raw"] == pytest.approx(20.0)
    # Account 1 has NPS (latest = 10): 75 * 1/6 + 25 * 1 = 37.5.
    assert snaps[1].score == pytest.approx(37.5)
    assert snaps[1].missing_components == []
    assert snaps[1].components["nps"]["contribution"] == pytest.approx(25.0)
    # Account 2 has no NPS: left out, weights renormalised, snapshot says so.
    assert snaps[2].missing_components == ["nps"]
    assert snaps[2].components["nps"]["raw"] is None
    assert snaps[2].components["usage"]["weight"] == pytest.approx(100.0)
    assert snaps[2].score == pytest.approx(66.67)
    assert snaps[2].model_version == "test"


def test_support_billing_recency_trend_and_minmax(engine: Engine) -> None:
    add_accounts(engine, {}, {})
    add_usage(
        engine,
        1,
        "logins",
        {
            **daily(10.0, date(2026, 4, 3), date(2026, 5, 2)),
            **daily(5.8, date(2026, 5, 3), date(2026, 5, 27)),
        },
    )
    add_usage(engine, 2, "logins", daily(10.0, date(2026, 4, 3), AS_OF))
    with transaction(engine) as s:
        s.add_all(
            [
                Ticket(
                    external_id="t1",
                    account_id=1,
                    opened_at=NOW - timedelta(days=2),
                    priority="urgent",
                ),
                Ticket(
                    external_id="t2",
                    account_id=1,
                    opened_at=NOW - timedelta(days=9),
                    priority="low",
                ),
                Ticket(
                    external_id="t3",
                    account_id=1,
                    opened_at=NOW - timedelta(days=9),
                    closed_at=NOW - timedelta(days=5),
                    priority="high",
                ),
                Ticket(
                    external_id="t4",
                    account_id=2,
                    opened_at=NOW - timedelta(days=90),
                    closed_at=NOW - timedelta(days=80),
                ),
                Invoice(
                    external_id="i1", account_id=1, amount=5, due_at=date(2026, 5, 1), status="open"
                ),
                Invoice(
                    external_id="i2",
                    account_id=1,
                    amount=5,
                    due_at=date(2026, 4, 1),
                    paid_at=date(2026, 4, 20),
                    status="paid",
                ),
                Invoice(
                    external_id="i3",
                    account_id=2,
                    amount=5,
                    due_at=date(2026, 5, 1),
                    paid_at=date(2026, 5, 2),
                    status="paid",
                ),
            ]
        )
    m = model(
        {
            "trend": {
                "kind": "trend",
                "metric": "logins",
                "window_days": 30,
                "weight": 1,
                "normalise": {"method": "target", "target": 0, "worst": -1},
            },
            "recency": {
                "kind": "days_since_activity",
                "metric": "logins",
                "weight": 1,
                "normalise": {"method": "minmax"},
            },
            "support": {
                "kind": "support_load",
                "weight": 1,
                "normalise": {"method": "target", "target": 0, "worst": 9},
            },
            "billing": {
                "kind": "billing",
                "weight": 1,
                "normalise": {"method": "target", "target": 0, "worst": 2},
            },
        }
    )
    score(engine, m)
    snaps = snapshots(engine)
    one, two = snaps[1].components, snaps[2].components
    # Last 30 days (5-03..6-01): 25 days of 5.8 = 145 vs 30 days of 10 = 300 -> -51.67 %.
    assert one["trend"]["raw"] == pytest.approx(145 / 300 - 1)
    assert two["trend"]["raw"] == pytest.approx(0.0)
    assert one["recency"]["raw"] == 5 and two["recency"]["raw"] == 0
    assert one["recency"]["normalised"] == 0.0 and two["recency"]["normalised"] == 1.0
    assert one["support"]["raw"] == pytest.approx(4.5)  # urgent 4 + low 0.5; closed one not
    assert two["support"]["raw"] == 0
    assert one["billing"]["raw"] == 1 and two["billing"]["raw"] == 0
    assert sum(c["contribution"] for c in one.values()) == pytest.approx(snaps[1].score, abs=0.05)


def test_rerun_replaces_the_date_and_keeps_history(engine: Engine) -> None:
    add_accounts(engine, {})
    add_usage(engine, 1, "logins", {date(2026, 5, 31): 50.0, date(2026, 4, 1): 5.0})
    m = model({"logins": LOGINS_TARGET})
    score(engine, m, date(2026, 5, 1))
    score(engine, m)
    add_usage(engine, 1, "logins", {AS_OF: 30.0})
    score(engine, m)
    with transaction(engine) as s:
        rows = s.execute(
            select(HealthSnapshot.as_of, HealthSnapshot.score).order_by(HealthSnapshot.as_of)
        ).all()
    assert rows == [(date(2026, 5, 1), 0.0), (AS_OF, 80.0)]


def test_segment_models_score_their_segment(engine: Engine) -> None:
    add_accounts(engine, {"segment": "smb"}, {"segment": "enterprise"}, {"segment": None})
    for i in (1, 2, 3):
        add_usage(engine, i, "logins", {AS_OF: 50.0})
    add_usage(engine, 2, "api_calls", {AS_OF: 10.0})
    m = model(
        {
            "logins": LOGINS_TARGET,
            "api": {
                "kind": "usage_total",
                "metric": "api_calls",
                "weight": 0,
                "normalise": {"method": "target", "target": 10},
            },
        },
        {"enterprise": {"weights": {"api": 1}}},
    )
    score(engine, m)
    snaps = snapshots(engine)
    assert snaps[1].score == 50.0 and snaps[3].score == 50.0
    assert snaps[2].score == 75.0 and snaps[2].model_version == "test+enterprise"


def test_override_wins_and_is_audited_then_cleared(engine: Engine) -> None:
    add_accounts(engine, {})
    add_usage(engine, 1, "logins", {AS_OF: 80.0})
    m = model({"logins": LOGINS_TARGET})
    with transaction(engine) as s:
        acc = snapshot_store.account_by_external_id(s, "A1")
        assert acc is not None
        over = snapshot_store.set_override(
            s,
            acc,
            score=20,
            reason="champion left",
            author="lead",
            expires_at=None,
            now=NOW - timedelta(hours=1),
        )
    run = score(engine, m)
    snap = snapshots(engine)[1]
    assert (snap.score, snap.computed_score, snap.band, snap.override_id) == (
        20.0,
        80.0,
        "critical",
        over.id,
    )
    assert run.overridden == 1
    with transaction(engine) as s:
        actions = s.scalars(select(AuditLog.action)).all()
        assert "health_override_set" in actions
        acc = snapshot_store.account_by_external_id(s, "A1")
        assert acc is not None
        assert snapshot_store.clear_overrides(s, acc, author="lead", now=NOW) == 1
    score(engine, m, AS_OF + timedelta(days=1))
    later = snapshots(engine, AS_OF + timedelta(days=1))[1]
    assert later.override_id is None and later.score == 80.0
    # An override counts from its creation until it expires.
    add_usage(engine, 1, "logins", {date(2026, 5, 10): 40.0})
    with transaction(engine) as s:
        acc = snapshot_store.account_by_external_id(s, "A1")
        assert acc is not None
        snapshot_store.set_override(
            s,
            acc,
            score=10,
            reason="x",
            author="lead",
            expires_at=datetime(2026, 5, 22, tzinfo=UTC),
            now=datetime(2026, 5, 12, 9, tzinfo=UTC),
        )
    for day, expected in (
        (date(2026, 5, 11), 40.0),
        (date(2026, 5, 15), 10.0),
        (date(2026, 5, 21), 10.0),
        (date(2026, 5, 22), 0.0),
    ):
        score(engine, m, day)
        assert snapshots(engine, day)[1].score == expected, day


def test_failure_carries_last_good_scores_forward(engine: Engine) -> None:
    add_accounts(engine, {}, {})
    add_usage(engine, 1, "logins", {date(2026, 5, 30): 90.0})
    add_usage(engine, 2, "logins", {date(2026, 5, 30): 30.0})
    m = model({"logins": LOGINS_TARGET})
    ok = run_scoring(engine, BANDS, date(2026, 5, 31), now=NOW, load_model=lambda: m)
    assert ok.ok and ok.summary["scored"] == 2

    def broken() -> HealthModel:
        raise RuntimeError("division by zero in component x")

    with pytest.raises(ScoringFailed) as err:
        run_scoring(engine, BANDS, AS_OF, now=NOW, load_model=broken)
    assert "carried forward" in str(err.value)
    snaps = snapshots(engine)
    assert {i: (s.score, s.stale) for i, s in snaps.items()} == {1: (90.0, True), 2: (30.0, True)}
    with transaction(engine) as s:
        checks = s.execute(
            select(ComponentCheck.ok, ComponentCheck.error)
            .where(ComponentCheck.component == "health_scoring")
            .order_by(ComponentCheck.id)
        ).all()
    assert [c.ok for c in checks] == [True, False]
    assert "division by zero" in checks[1].error

    def bad_config() -> HealthModel:
        raise ConfigError("health.yaml: key components.x.kind: unknown")

    with pytest.raises(ConfigError):
        run_scoring(engine, BANDS, AS_OF + timedelta(days=1), now=NOW, load_model=bad_config)
    assert len(snapshots(engine, AS_OF + timedelta(days=1))) == 2


def test_explain_says_what_moved(engine: Engine) -> None:
    add_accounts(engine, {})
    add_usage(engine, 1, "logins", daily(10.0, date(2026, 3, 3), date(2026, 5, 2)))
    add_usage(engine, 1, "logins", daily(5.8, date(2026, 5, 3), AS_OF))
    m = model(
        {
            "trend": {
                "kind": "trend",
                "metric": "logins",
                "window_days": 30,
                "weight": 1,
                "label": "logins",
                "normalise": {"method": "target", "target": 0, "worst": -1},
            },
            "nps": {
                "kind": "latest_nps",
                "weight": 1,
                "normalise": {"method": "target", "target": 10},
            },
        }
    )
    with transaction(engine) as s:
        s.add(
            NpsResponse(
                natural_key="n", account_id=1, score=10, responded_at=NOW - timedelta(days=60)
            )
        )
    score(engine, m, date(2026, 5, 2))
    score(engine, m)
    with transaction(engine) as s:
        explanation = snapshot_store.explain(s, 1, AS_OF)
        assert snapshot_store.explain(s, 1, date(2026, 1, 1)) is None
    assert explanation is not None
    assert explanation.previous_as_of == date(2026, 5, 2)
    assert explanation.movers[0].text == "logins -42 % over 30 days: -21 points"
    assert explanation.delta_points == pytest.approx(-21.0)


def test_retention_by_cohort_and_month(engine: Engine) -> None:
    add_accounts(
        engine,
        # Active at 2026-04-01: 1..4; one churns in April -> April retention 3/4.
        {"started_at": date(2025, 1, 1), "arr": 100},
        {"started_at": date(2025, 1, 1), "arr": 300, "churned_at": date(2026, 4, 15)},
        {"started_at": date(2026, 1, 10), "arr": 100},
        {"started_at": date(2026, 1, 20), "arr": 100, "churned_at": date(2026, 2, 20)},
        # March base: 1, 2, 3 all still customers on 04-01 -> 3/3; plus a May start.
        {"started_at": date(2026, 5, 2), "arr": 100},
    )
    with transaction(engine) as s:
        figures = portfolio_retention(s, date(2026, 5, 10))
    assert figures.current.start == date(2026, 4, 1)
    assert (figures.current.logos.numerator, figures.current.logos.denominator) == (2, 3)
    assert figures.previous.logos.pct == pytest.approx(100.0)
    assert figures.logo_retention_pct == pytest.approx(200 / 3)
    assert figures.mom_change_pct == pytest.approx(-100 / 3)
    assert figures.gross_revenue_retention_pct == pytest.approx(40.0)  # 200 of 500 ARR
    cohorts = {c.cohort: c for c in figures.cohorts}
    # Newest judged cohort is March 2026 (April must be over): empty -> no data, not 0.
    assert figures.cohorts[0].cohort == date(2026, 3, 1)
    assert cohorts[date(2026, 3, 1)].size == 0 and cohorts[date(2026, 3, 1)].pct is None
    jan = cohorts[date(2026, 1, 1)]
    assert (jan.size, jan.retained) == (2, 1) and jan.pct == 50.0  # 4 churned before 03-01


def test_retention_with_no_accounts_is_no_data(engine: Engine) -> None:
    with transaction(engine) as s:
        figures = portfolio_retention(s, date(2026, 5, 10))
    assert figures.logo_retention_pct is None and figures.mom_change_pct is None
    assert all(c.pct is None for c in figures.cohorts)


def test_nps_figures_windows_and_segments(engine: Engine) -> None:
    add_accounts(engine, {"segment": "smb"}, {"segment": "enterprise"})
    scores = [(1, 10, 1), (1, 9, 5), (1, 7, 10), (2, 6, 20), (2, 3, 50), (2, 10, 100)]
    with transaction(engine) as s:
        for i, (account, value, days_ago) in enumerate(scores):
            s.add(
                NpsResponse(
                    natural_key=f"k{i}",
                    account_id=account,
                    score=value,
                    responded_at=NOW - timedelta(days=days_ago),
                )
            )
    with transaction(engine) as s:
        rolling30 = nps_figures(s, AS_OF, 30)
        overall = nps_figures(s, AS_OF, None)
        smb = nps_figures(s, AS_OF, 90, segment="smb")
        empty = nps_figures(s, date(2020, 1, 1), 30)
        by_segment = {f.segment: f for f in nps_by_segment(s, AS_OF, 90)}
    # 30 days: 10, 9, 7, 6 -> 2 promoters, 1 passive, 1 detractor -> +25.
    assert (rolling30.responses, rolling30.nps) == (4, 25.0)
    assert (overall.responses, overall.promoters, overall.detractors) == (6, 3, 2)
    assert overall.nps == pytest.approx(100 / 6)
    assert (smb.responses, smb.nps) == (3, pytest.approx(200 / 3))
    assert by_segment["enterprise"].nps == -100.0 and by_segment["enterprise"].responses == 2
    assert empty.nps is None and empty.responses == 0


def test_backtest_on_synthetic_data_reaches_auc_080(engine: Engine, tmp_path: Any) -> None:
    from successcrew.demo.runner import run_demo

    # Each account's own story only: the demo's book-wide incidents (a cohort that leaves with
    # three weeks' warning, a release that hurts everyone's NPS) are not what a model can foresee.
    run_demo(engine, now=NOW, accounts=150, days=300, data_dir=tmp_path / "demo", incidents=False)
    with transaction(engine) as s:
        stored_before = s.scalar(select(func.count()).select_from(HealthSnapshot))
        result = run_backtest(
            s, load_health_model(), BANDS, date(2026, 3, 1), date(2026, 8, 1), now=NOW
        )
        stored_after = s.scalar(select(func.count()).select_from(HealthSnapshot))
    assert stored_before == stored_after == 0
    assert len(result.months) == 6 and result.churned > 10
    assert result.auc is not None and result.auc >= 0.80, result.as_dict()
    assert result.top_decile_lift is not None and result.top_decile_lift > 2
    rates = {b.band: b.churn_rate_pct for b in result.bands}
    assert rates["healthy"] is not None and rates["at_risk"] is not None
    assert rates["healthy"] < rates["at_risk"]


RECENCY_AND_TOTAL = {
    "recency": {
        "kind": "days_since_activity",
        "metric": "logins",
        "label": "last login",
        "weight": 1,
        "normalise": {"method": "target", "target": 1, "worst": 21},
    },
    "logins": {**LOGINS_TARGET, "window_days": 30},
}


def test_quiet_beyond_the_lookback_is_not_no_data(engine: Engine) -> None:
    add_accounts(engine, {}, {}, {})
    add_usage(engine, 1, "logins", {AS_OF - timedelta(days=100): 4.0})  # quiet for 100 days
    add_usage(engine, 2, "api_calls", {AS_OF: 9.0})  # never logged in
    add_usage(engine, 3, "logins", {AS_OF - timedelta(days=10): 2.0})
    score(engine, model(RECENCY_AND_TOTAL))
    snaps = snapshots(engine)
    quiet, recent = snaps[1].components, snaps[3].components
    # Quiet: "at least 60 days" (the default lookback) and 0 logins, both scored, 0 points.
    assert quiet["recency"]["raw"] == 60 and quiet["recency"]["normalised"] == 0.0
    assert quiet["logins"]["raw"] == 0.0
    assert snaps[1].missing_components == [] and snaps[1].score == 0.0
    # Never used the metric: no data for either component, and nothing else: no snapshot.
    assert 2 not in snaps
    assert recent["recency"]["raw"] == 10
    assert describe_component(quiet["recency"], None, None) == "last login 60+ days ago"


def test_lookback_shorter_than_the_target_scale_is_a_config_error() -> None:
    bad = {**RECENCY_AND_TOTAL["recency"], "lookback_days": 14}
    with pytest.raises(ConfigError) as err:
        model({"recency": bad})
    assert "test.yaml: key components.recency: lookback_days (14) must be at least" in str(
        err.value
    )


def test_snapshots_share_a_layout_and_keep_theirs_when_labels_change(engine: Engine) -> None:
    add_accounts(engine, {}, {})
    for i in (1, 2):
        add_usage(engine, i, "logins", {AS_OF: 50.0 * i})
    later = AS_OF + timedelta(days=1)
    score(engine, model({"logins": LOGINS_TARGET}))
    relabelled = model({"logins": {**LOGINS_TARGET, "label": "sign-ins"}})
    score(engine, relabelled, later)
    with transaction(engine) as s:
        layouts = s.scalars(select(HealthModelLayout).order_by(HealthModelLayout.id)).all()
        assert [lay.components[0]["label"] for lay in layouts] == ["logins", "sign-ins"]
        old = snapshot_store.snapshot_of(s, 1, AS_OF)
        new = snapshot_store.snapshot_of(s, 1, later)
        assert old is not None and new is not None
        assert old.components["logins"]["label"] == "logins"
        assert new.components["logins"] == {
            "kind": "usage_total",
            "label": "sign-ins",
            "metric": "logins",
            "window_days": 10,
            "raw": 50.0,
            "normalised": 0.5,
            "weight": 100.0,
            "contribution": 50.0,
        }
        assert new.component_values == [50.0, 0.5, 100.0, 50.0]


def test_snapshots_from_before_layouts_read_as_before(engine: Engine) -> None:
    add_accounts(engine, {})
    document = {
        "logins": {
            "kind": "usage_total",
            "label": "logins",
            "metric": "logins",
            "window_days": 30,
            "raw": None,
            "normalised": None,
            "weight": 0.0,
            "contribution": 0.0,
        }
    }
    with transaction(engine) as s:
        s.execute(
            insert(HealthSnapshot).values(
                account_id=1,
                as_of=AS_OF,
                score=55.0,
                computed_score=55.0,
                band="at_risk",
                legacy_components=document,
                legacy_missing=["logins"],
                model_version="2025.9",
                stale=False,
                created_at=NOW,
            )
        )
    with transaction(engine) as s:
        view = snapshot_store.snapshot_view(snapshot_store.snapshot_of(s, 1, AS_OF))  # type: ignore[arg-type]
    assert view.components == document and view.missing_components == ["logins"]


def test_window_sums_through_weekly_totals_match_the_daily_data(engine: Engine) -> None:
    """Whole weeks are read from usage_weekly: the sums must be those of the daily rows."""
    rng = random.Random(5)
    start = AS_OF - timedelta(days=120)
    data: dict[int, dict[date, float]] = {}
    add_accounts(engine, *({} for _ in range(4)))
    for account in (1, 2, 3, 4):
        days = {
            start + timedelta(days=i): float(rng.randint(0, 9))
            for i in range(121)
            if rng.random() < 0.6
        }
        data[account] = days
        add_usage(engine, account, "logins", days)
    m = model(
        {
            "l10": {**LOGINS_TARGET, "window_days": 10},
            "l30": {**LOGINS_TARGET, "window_days": 30},
            "trend": {
                "kind": "trend",
                "metric": "logins",
                "window_days": 21,
                "weight": 1,
                "normalise": {"method": "target", "target": 0, "worst": -1},
            },
        }
    )

    def expected(account: int, as_of: date, w: int) -> float:
        return sum(v for d, v in data[account].items() if as_of - timedelta(days=w) < d <= as_of)

    def check(as_of: date) -> None:
        snaps = snapshots(engine, as_of)
        for account in (1, 2, 3, 4):
            comps = snaps[account].components
            assert comps["l10"]["raw"] == expected(account, as_of, 10)
            assert comps["l30"]["raw"] == expected(account, as_of, 30)
            recent, both = expected(account, as_of, 21), expected(account, as_of, 42)
            prior = both - recent
            want = None if prior <= 0 else (recent - prior) / prior
            assert comps["trend"]["raw"] == pytest.approx(want)

    for back in range(0, 9):  # every weekday lines the windows up with the weeks differently
        score(engine, m, AS_OF - timedelta(days=back))
        check(AS_OF - timedelta(days=back))
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(UsageWeeklyBuilt)) > 0

    # A late correction inside a week already summed: marked by the write, rebuilt on scoring.
    weeks = scoring_sql.usage_weeks(m, AS_OF)
    assert weeks, "the windows must read some whole weeks for this test to mean anything"
    changed_day = weeks[-1] + timedelta(days=2)
    with transaction(engine) as s:
        s.execute(
            UsageDaily.__table__.delete().where(
                UsageDaily.account_id == 1, UsageDaily.day == changed_day
            )
        )
    add_usage(engine, 1, "logins", {changed_day: 100.0})
    data[1][changed_day] = 100.0
    score(engine, m)
    check(AS_OF)
