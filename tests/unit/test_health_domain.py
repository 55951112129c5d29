"""Pure health and metrics math: bands, NPS classes, rates, AUC, lift, explanations, config."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from successcrew import numbers
from successcrew.definitions.health_model import load_health_model, parse_health_model
from successcrew.definitions.thresholds import load_thresholds
from successcrew.domain.explanations import SnapshotView, explain_change
from successcrew.domain.metrics import (
    CohortRetention,
    NpsFigures,
    PeriodRetention,
    Rate,
    RetentionFigures,
    add_months,
    band_outcomes,
    classify_nps,
    last_complete_month,
    nps_from_counts,
    nps_gate,
    relative_change_pct,
    retention_gate,
    roc_auc,
    top_decile_lift,
)
from successcrew.errors import ConfigError


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (100, "healthy"),
        (70, "healthy"),
        (69.99, "at_risk"),
        (40, "at_risk"),
        (39.99, "critical"),
        (0, "critical"),
    ],
)
def test_band_boundaries(score: float, band: str) -> None:
    assert load_thresholds().health_bands.band_of(score) == band


@pytest.mark.parametrize(
    ("score", "klass"),
    [
        (10, "promoter"),
        (9, "promoter"),
        (8, "passive"),
        (7, "passive"),
        (6, "detractor"),
        (0, "detractor"),
    ],
)
def test_nps_classes(score: int, klass: str) -> None:
    assert classify_nps(score) == klass


def test_nps_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        classify_nps(11)


def test_nps_from_counts_and_no_data() -> None:
    assert nps_from_counts(5, 3, 2) == pytest.approx(30.0)
    assert nps_from_counts(0, 0, 4) == -100.0
    assert nps_from_counts(0, 0, 0) is None
    empty = NpsFigures(date(2026, 1, 1), 30, None, 0, 0, 0, 0)
    assert empty.nps is None
    assert empty.as_dict()["nps"] is None


def test_empty_rates_are_no_data_not_zero() -> None:
    assert Rate(0, 0).pct is None
    assert Rate(0, 4).pct == 0.0
    assert numbers.percent(Rate(0, 0).pct) == "no data"
    assert CohortRetention(date(2026, 1, 1), 0, 0).pct is None
    assert CohortRetention(date(2026, 1, 1), 0, 0).as_dict()["pct"] is None
    assert relative_change_pct(90, None) is None
    assert relative_change_pct(90, 0) is None
    assert relative_change_pct(99, 90) == pytest.approx(10.0)


def test_month_arithmetic() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 1)
    assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 1)
    assert add_months(date(2026, 12, 2), 1) == date(2027, 1, 1)
    assert last_complete_month(date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 3, 1))
    assert last_complete_month(date(2026, 3, 17)) == (date(2026, 2, 1), date(2026, 3, 1))


def test_roc_auc_against_hand_computed_values() -> None:
    # Perfect ranking, inverse ranking, and the classic example with one tie.
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    # Positives 0.8, 0.4; negatives 0.6, 0.4, 0.2. Pairs (pos > neg): 0.8 beats all 3;
    # 0.4 beats 0.2, ties 0.4 (half). (3 + 1 + 0.5) / 6 = 0.75.
    assert roc_auc([0.8, 0.6, 0.4, 0.4, 0.2], [True, False, True, False, False]) == 0.75
    assert roc_auc([0.5, 0.5], [True, False]) == 0.5
    assert roc_auc([0.5, 0.4], [False, False]) is None


def test_top_decile_lift_against_hand_computed_value() -> None:
    # 20 accounts, 4 churned (20 %); the riskiest 2 (10 %) are both churners: 100 % / 20 % = 5.
    risk = [float(20 - i) for i in range(20)]
    churned = [i in (0, 1, 10, 15) for i in range(20)]
    assert top_decile_lift(risk, churned) == pytest.approx(5.0)
    # One of the top two churned: 50 % / 20 % = 2.5.
    churned = [i in (1, 5, 10, 15) for i in range(20)]
    assert top_decile_lift(risk, churned) == pytest.approx(2.5)
    assert top_decile_lift(risk, [False] * 20) is None


def test_band_outcomes_keep_empty_bands() -> None:
    out = band_outcomes(
        ["healthy", "healthy", "critical"], [False, True, True], ("healthy", "at_risk", "critical")
    )
    assert [(b.band, b.accounts, b.churned) for b in out] == [
        ("healthy", 2, 1),
        ("at_risk", 0, 0),
        ("critical", 1, 1),
    ]
    assert out[1].churn_rate_pct is None
    assert out[0].churn_rate_pct == 50.0


def _retention(cur: tuple[int, int], prev: tuple[int, int]) -> RetentionFigures:
    return RetentionFigures(
        as_of=date(2026, 3, 5),
        current=PeriodRetention(date(2026, 2, 1), date(2026, 3, 1), Rate(*cur), Rate(0, 0)),
        previous=PeriodRetention(date(2026, 1, 1), date(2026, 2, 1), Rate(*prev), Rate(0, 0)),
    )


def test_retention_gate_needs_five_percent_relative_improvement() -> None:
    # 84/100 vs 80/100: +5 % relative exactly passes; 83/100: +3.75 % fails.
    assert retention_gate(_retention((84, 100), (80, 100)), 5).passed
    failing = retention_gate(_retention((83, 100), (80, 100)), 5)
    assert not failing.passed and failing.value == pytest.approx(3.75)
    assert "83/100" in failing.detail and "80/100" in failing.detail
    no_data = retention_gate(_retention((0, 0), (80, 100)), 5)
    assert not no_data.passed and "no data" in no_data.detail


def test_nps_gate() -> None:
    assert nps_gate(NpsFigures(date(2026, 1, 1), 90, None, 2, 1, 0, 1), 0).passed  # NPS 0
    assert not nps_gate(NpsFigures(date(2026, 1, 1), 90, None, 3, 1, 0, 2), 0).passed
    empty = nps_gate(NpsFigures(date(2026, 1, 1), 90, None, 0, 0, 0, 0), 0)
    assert not empty.passed and "no data" in empty.detail


def _snap(as_of: date, score: float, comps: dict, missing: list[str] | None = None) -> SnapshotView:
    return SnapshotView(1, as_of, score, score, "healthy", comps, missing or [], "v1")


def test_explanation_names_the_biggest_movers_in_points() -> None:
    trend = {"kind": "trend", "label": "logins", "window_days": 30}
    nps = {"kind": "latest_nps", "label": "latest NPS"}
    before = _snap(
        date(2026, 1, 1),
        80,
        {
            "trend": {**trend, "raw": 0.0, "contribution": 20.0},
            "nps": {**nps, "raw": 9, "contribution": 9.0},
        },
    )
    after = _snap(
        date(2026, 2, 1),
        70.4,
        {
            "trend": {**trend, "raw": -0.42, "contribution": 11.0},
            "nps": {**nps, "raw": 8, "contribution": 8.4},
        },
    )
    explanation = explain_change(after, before)
    assert explanation.delta_points == pytest.approx(-9.6)
    assert explanation.movers[0].text == "logins -42 % over 30 days: -9 points"
    assert explanation.movers[1].text == "latest NPS 8 (was 9): -1 points"
    assert "-9.6 points since 2026-01-01" in explanation.summary()


def test_explanation_reports_missing_data_and_first_snapshot() -> None:
    comp = {"kind": "billing", "label": "overdue invoices"}
    before = _snap(date(2026, 1, 1), 80, {"billing": {**comp, "raw": 0, "contribution": 10.0}})
    after = _snap(
        date(2026, 2, 1), 75, {"billing": {**comp, "raw": None, "contribution": 0}}, ["billing"]
    )
    explanation = explain_change(after, before)
    assert explanation.movers[0].text.startswith("overdue invoices: no data")
    assert "no data for: billing" in explanation.notes
    first = explain_change(after, None)
    assert first.previous_score is None and first.summary().endswith("first snapshot")


def test_shipped_model_renormalises_weights_to_100() -> None:
    model = load_health_model()
    for resolved in model.models():
        assert sum(c.weight for c in resolved.components) == pytest.approx(100.0)
    assert model.for_segment("enterprise").version.endswith("+enterprise")
    assert model.for_segment("smb") is model.default


GOOD = {
    "version": "t1",
    "components": {
        "logins": {
            "kind": "usage_total",
            "metric": "logins",
            "weight": 3,
            "normalise": {"method": "percentile"},
        },
        "nps": {
            "kind": "latest_nps",
            "weight": 1,
            "normalise": {"method": "target", "target": 10, "worst": 0},
        },
    },
}


def test_weights_are_renormalised_and_segments_resolved() -> None:
    data = {**GOOD, "segments": {"smb": {"weights": {"nps": 0}}}}
    model = parse_health_model(data, "health.yaml")
    assert [(c.name, c.weight) for c in model.default.components] == [
        ("logins", 75.0),
        ("nps", 25.0),
    ]
    assert [(c.name, c.weight) for c in model.segments["smb"].components] == [("logins", 100.0)]


@pytest.mark.parametrize(
    ("patch", "key", "problem"),
    [
        ({"colour": "red"}, "key colour", "unknown key"),
        (
            {
                "components": {
                    "x": {"kind": "billing", "weight": -1, "normalise": {"method": "minmax"}}
                }
            },
            "key components.x.weight",
            "greater than or equal to 0",
        ),
        (
            {
                "components": {
                    "x": {"kind": "vibes", "weight": 1, "normalise": {"method": "minmax"}}
                }
            },
            "key components.x.kind",
            "unknown or missing kind",
        ),
        (
            {
                "components": {
                    "x": {
                        "kind": "billing",
                        "weight": 1,
                        "wieght": 2,
                        "normalise": {"method": "minmax"},
                    }
                }
            },
            "key components.x.wieght",
            "unknown key",
        ),
        (
            {
                "components": {
                    "x": {
                        "kind": "billing",
                        "weight": 1,
                        "normalise": {"method": "target", "target": 1, "worst": 1},
                    }
                }
            },
            "key components.x.normalise",
            "must differ",
        ),
        (
            {"segments": {"smb": {"weights": {"nope": 1}}}},
            "segments.smb.weights.nope",
            "no component",
        ),
    ],
)
def test_broken_model_names_file_and_key(
    tmp_path: Path, patch: dict, key: str, problem: str
) -> None:
    path = tmp_path / "health.yaml"
    import yaml

    path.write_text(yaml.safe_dump({**GOOD, **patch}), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_health_model(path)
    message = str(err.value)
    assert str(path) in message and key in message and problem in message, message
