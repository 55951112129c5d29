"""The synthetic history is reproducible and carries the churn signal the health model must find."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from statistics import mean

from successcrew.demo.synthetic import generate


def test_same_seed_same_history_other_seed_other_history() -> None:
    a = generate(seed=3, accounts=40, days=120)
    b = generate(seed=3, accounts=40, days=120)
    c = generate(seed=4, accounts=40, days=120)
    assert a == b
    assert a.accounts != c.accounts


def test_ground_truth_matches_accounts_and_some_churn() -> None:
    data = generate(seed=7, accounts=300)
    truth = {t["external_id"]: t["churned_at"] for t in data.truth}
    assert truth == {a["external_id"]: a["churned_at"] for a in data.accounts}
    churned = [a for a in data.accounts if a["churned_at"]]
    assert 0.08 <= len(churned) / len(data.accounts) <= 0.35
    assert {a["segment"] for a in data.accounts} == {"smb", "mid_market", "enterprise"}


def test_churners_decline_before_they_leave_and_nobody_is_active_after() -> None:
    data = generate(seed=7, accounts=300)
    churn = {
        a["external_id"]: date.fromisoformat(a["churned_at"])
        for a in data.accounts
        if a["churned_at"]
    }
    logins: dict[str, dict[date, float]] = defaultdict(dict)
    for row in data.usage:
        if row["metric"] == "active_users":
            logins[row["account_external_id"]][date.fromisoformat(row["day"])] = row["value"]
    ratios = []
    for ext, when in churn.items():
        days = logins[ext]
        assert all(d < when for d in days), f"{ext} has usage after churning"
        late = [v for d, v in days.items() if when - timedelta(days=21) <= d < when]
        early = [
            v
            for d, v in days.items()
            if when - timedelta(days=200) <= d < when - timedelta(days=150)
        ]
        if late and early:
            ratios.append(mean(late) / mean(early))
    assert len(ratios) >= 15
    assert mean(ratios) < 0.6, "usage of churners must visibly decline before churn"


def test_detractors_cluster_in_churners() -> None:
    data = generate(seed=7, accounts=300)
    scenario = data.scenario
    assert scenario is not None
    # The scenario's cohort leaves at once and the broken release hurts everyone alike: the
    # slow slide into churn is what the answers before the release must show.
    churned = {a["external_id"] for a in data.accounts if a["churned_at"]}
    churned -= set(scenario.cohort_churned)
    before = [
        r for r in data.nps if date.fromisoformat(r["responded_at"][:10]) < scenario.bad_release
    ]
    churner_scores = [r["score"] for r in before if r["account_external_id"] in churned]
    other_scores = [r["score"] for r in before if r["account_external_id"] not in churned]
    assert mean(churner_scores) < mean(other_scores) - 1


def test_the_scenario_writes_its_incidents_into_the_history() -> None:
    data = generate(seed=7, accounts=300)
    scenario = data.scenario
    assert scenario is not None and len(scenario.cohort_churned) >= 40
    churn = {a["external_id"]: a["churned_at"] for a in data.accounts}
    assert all(churn[ext].startswith("2026-09") for ext in scenario.cohort_churned)
    # Nobody in the cohort uses the product after leaving.
    for row in data.usage:
        if row["account_external_id"] in scenario.cohort_churned:
            assert row["day"] < churn[row["account_external_id"]]
    after = [r["score"] for r in data.nps if r["responded_at"][:10] >= "2026-10-02"]
    assert after and mean(after) < 6, "answers after the broken release are mostly detractors"
