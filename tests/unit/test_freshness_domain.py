"""Which inputs are stale, what scoring does about them, and explanations across a model change
or a stale input: pure decisions, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from successcrew.definitions.health_model import load_health_model
from successcrew.definitions.thresholds import DataFreshness, FeedAges
from successcrew.domain.explanations import SnapshotView, explain_change
from successcrew.domain.freshness import (
    NothingSince,
    StaleVerdict,
    judge_feeds,
    model_feeds,
    stale_verdict,
    usage_lookback_days,
)

ON = date(2026, 10, 21)
MODEL = load_health_model()  # the shipped model: usage 65 %, support 10, NPS 15, billing 10


def _days(**ages: int | None) -> dict[str, date | None]:
    fresh = {feed: ON for feed in [*model_feeds(MODEL), "crm_sync"]}
    for feed, age in ages.items():
        fresh[feed.replace("__", ":")] = (
            None if age is None else date.fromordinal(ON.toordinal() - age)
        )
    return fresh


def _verdict(rules: DataFreshness = DataFreshness(), **ages: int | None) -> StaleVerdict:
    return stale_verdict(MODEL, judge_feeds(_days(**ages), rules, ON), rules, segments={"smb"})


def test_each_input_is_judged_against_its_own_age() -> None:
    assert model_feeds(MODEL) == [
        "invoices",
        "nps",
        "tickets",
        "usage:active_users",
        "usage:api_calls",
        "usage:logins",
    ]
    verdict = _verdict(usage__logins=3, tickets=22)  # 3 days is allowed, 22 is not
    assert [f.feed for f in verdict.stale_feeds] == ["tickets"]
    assert verdict.components == ("support",) and not verdict.hold
    assert verdict.describe() == "tickets: last 2026-09-29, 22 days old (expected within 21)"


def test_more_than_half_the_weight_stale_holds_the_run() -> None:
    verdict = _verdict(usage__logins=20, usage__active_users=20, usage__api_calls=20)
    assert verdict.weight_pct == 65 and verdict.hold
    assert set(verdict.components) == {
        "logins_30d",
        "active_users_30d",
        "logins_trend",
        "api_calls_trend",
        "recency",
    }
    # One metric of three: its components (logins 15 + trend 20 + recency 10) stay under half.
    logins_only = _verdict(usage__logins=20)
    assert logins_only.weight_pct == 45 and not logins_only.hold
    raised = DataFreshness(hold_above_stale_weight_pct=70)
    assert not _verdict(raised, usage__logins=20, usage__active_users=20, usage__api_calls=20).hold


def test_no_data_never_judged_and_the_crm_sync_hold_nothing() -> None:
    never = DataFreshness(max_age_days=FeedAges(usage=None))
    assert _verdict(never, usage__logins=400).ok
    assert _verdict(usage__logins=None).ok  # a metric that never arrived: "no data", not stale
    crm = _verdict(crm_sync=10)
    assert not crm.ok and crm.components == () and not crm.hold


def test_a_metric_quiet_beyond_the_lookback_is_stale_without_its_exact_day() -> None:
    assert usage_lookback_days(model_feeds(MODEL), DataFreshness()) == 30
    days = {**_days(), "usage:logins": NothingSince(date(2026, 9, 22))}
    (state,) = [f for f in judge_feeds(days, DataFreshness(), ON) if f.feed == "usage:logins"]
    assert state.stale
    assert state.describe() == "usage of logins: nothing since 2026-09-22 (expected within 3)"


def test_a_segment_model_counts_only_when_it_scores_someone() -> None:
    stale = judge_feeds(_days(tickets=30), DataFreshness(), ON)
    # The enterprise model weighs support 15 of 105 (14 %); the default 10 of 100.
    assert stale_verdict(MODEL, stale, DataFreshness(), segments={"smb"}).share() == (
        "10 % of the weight"
    )
    both = stale_verdict(MODEL, stale, DataFreshness(), segments={"smb", "enterprise"})
    assert both.share() == "14 % of the enterprise model's weight"


def _snap(as_of: date, score: float, version: str = "v1", **kw: object) -> SnapshotView:
    comps = {
        "logins": {
            "kind": "usage_total",
            "label": "logins",
            "window_days": 30,
            "raw": 80.0,
            "contribution": 40.0,
        },
        "nps": {"kind": "latest_nps", "label": "latest NPS", "raw": 9, "contribution": 30.0},
    }
    return replace(SnapshotView(1, as_of, score, score, "healthy", comps, [], version), **kw)


def test_an_explanation_across_a_model_change_names_it_and_moves_nothing() -> None:
    before = _snap(date(2026, 10, 1), 85.5, "2026.1")
    after = _snap(date(2026, 10, 2), 54.5, "2026.2", band="at_risk")
    explanation = explain_change(after, before)
    assert explanation.movers == [] and explanation.delta_points is None
    assert explanation.model_change == ("2026.1", "2026.2")
    assert explanation.summary() == (
        "54.5 (at_risk); health model changed 2026.1 -> 2026.2 since 2026-10-01 (then 85.5 "
        "under 2026.1): the difference is the model's, not a change in the account"
    )


def test_an_explanation_names_a_component_left_out_for_a_stale_input() -> None:
    before = _snap(date(2026, 10, 1), 70.0)
    left_out = {**before.components["logins"], "raw": None, "contribution": 0.0}
    after = _snap(
        date(2026, 10, 2),
        100.0,
        components={"logins": left_out, "nps": {**before.components["nps"], "contribution": 100.0}},
        stale_components=["logins"],
    )
    explanation = explain_change(after, before)
    assert "left out, input not fresh: logins" in explanation.notes
    texts = [m.text for m in explanation.movers]
    assert "logins: input not fresh (left out, other weights renormalised): -40 points" in texts
