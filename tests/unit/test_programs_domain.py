"""Pure program logic: A/B statistics against hand-computed values, arms, throttling, pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from successcrew.definitions.feedback_categories import Categoriser, CategoryRule
from successcrew.domain.abtest import Arm, compare, two_proportion_z_test, wald_interval
from successcrew.domain.comment_analysis import effective_categories, sentiment
from successcrew.domain.program_rules import (
    HOLDOUT,
    EmailCandidate,
    SendBudget,
    assign_arm,
    is_overdue,
    should_auto_pause,
    throttle,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_wald_interval_matches_hand_computation() -> None:
    # 30/100 vs 20/100: diff 0.1; se = sqrt(.3*.7/100 + .2*.8/100) = sqrt(.0037) = 0.0608276
    # 95 %: 0.1 +- 1.959964 * 0.0608276 = 0.1 +- 0.1192200
    diff, low, high = wald_interval(30, 100, 20, 100)
    assert diff == pytest.approx(0.1)
    assert low == pytest.approx(-0.0192200, abs=1e-6)
    assert high == pytest.approx(0.2192200, abs=1e-6)


def test_z_test_matches_hand_computation() -> None:
    # pooled p = 0.25; se = sqrt(.25*.75*(1/100+1/100)) = 0.0612372; z = 0.1/0.0612372 = 1.632993
    z, p = two_proportion_z_test(30, 100, 20, 100)
    assert z == pytest.approx(1.632993, abs=1e-6)
    assert p == pytest.approx(0.102470, abs=1e-5)
    assert two_proportion_z_test(10, 10, 5, 5) == (0.0, 1.0)


def test_compare_says_not_enough_data_below_minimum() -> None:
    small = compare(Arm("a", 29, 20), Arm(HOLDOUT, 100, 10), min_sample=30)
    assert not small.enough_data and small.uplift is None and small.p_value is None
    assert small.verdict.startswith("not enough data")
    big = compare(Arm("a", 400, 200), Arm(HOLDOUT, 400, 120), min_sample=30)
    assert big.significant and big.verdict == "better than holdout"
    assert big.as_dict()["ci95"][0] > 0


def test_assignment_is_stable_and_splits_by_share() -> None:
    arms = [("a", 1.0), ("b", 1.0)]
    first = [assign_arm("at_risk", i, holdout_pct=10, variants=arms) for i in range(5000)]
    second = [assign_arm("at_risk", i, holdout_pct=10, variants=arms) for i in range(5000)]
    assert first == second
    assert 400 < first.count(HOLDOUT) < 600
    assert abs(first.count("a") - first.count("b")) < 300
    other = [assign_arm("critical", i, holdout_pct=10, variants=arms) for i in range(5000)]
    assert other != first  # independent between programs
    assert assign_arm("x", 1, holdout_pct=0, variants=[("only", 1)]) == "only"


def test_throttle_one_email_per_window_and_opt_out() -> None:
    recent = NOW - timedelta(days=3)
    old = NOW - timedelta(days=8)
    cands = [
        EmailCandidate((1, 0, 10), 10, False, None),
        EmailCandidate((2, 0, 10), 10, False, None),  # same person, same batch
        EmailCandidate((3, 0, 11), 11, False, recent),
        EmailCandidate((4, 0, 12), 12, False, old),
        EmailCandidate((5, 0, 13), 13, True, None),
    ]
    seen: set[int] = set()
    got = throttle(cands, now=NOW, min_gap_days=7, sent_in_run=seen)
    assert list(got.values()) == ["queued", "throttled", "throttled", "queued", "opted_out"]
    assert seen == {10, 12}


def test_auto_pause_boundary() -> None:
    assert should_auto_pause(101, 1000, threshold_pct=10, min_sent=20)
    assert not should_auto_pause(100, 1000, threshold_pct=10, min_sent=20)
    assert not should_auto_pause(5, 10, threshold_pct=10, min_sent=20)  # too few to judge
    assert should_auto_pause(11, 100, threshold_pct=10.5, min_sent=20)


def test_categories_and_sentiment() -> None:
    cat = Categoriser(
        [
            CategoryRule("pricing", keywords=("price", "expensive")),
            CategoryRule("missing_feature", phrases=("please add",)),
        ]
    )
    assert cat.categorise("Prices went up and it is EXPENSIVE") == ["pricing"]
    assert cat.categorise("Please add SSO") == ["missing_feature"]
    assert cat.categorise("priceless") == []
    assert cat.categorise(None) == []
    assert effective_categories(["pricing"], None) == ["pricing"]
    assert effective_categories(["pricing"], []) == []
    assert sentiment("Great product, love it") > 0.5
    assert sentiment("Support is terrible and slow") < -0.05
    assert sentiment("  ") is None


def test_a_step_is_overdue_only_beyond_the_lateness() -> None:
    due = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    assert not is_overdue(due, due + timedelta(days=2), max_lateness_days=2)  # exactly 2: sent
    assert is_overdue(due, due + timedelta(days=2, seconds=1), max_lateness_days=2)


def test_send_budget_takes_whole_units_in_order_and_keeps_the_queue() -> None:
    budget = SendBudget({"email": 3, "slack": 1})
    assert budget.take({"email": 2})
    assert not budget.take({"email": 2})  # does not fit: deferred, and email closes
    assert not budget.take({"email": 1})  # would fit, but may not jump the queue
    assert budget.take({"slack": 1}) and not budget.take({"slack": 1})
    assert budget.take({}) and budget.take({"email": 0})  # sends nothing: always passes
    assert budget.used == {"email": 2, "slack": 1}
