"""What counts as treated, the verdict of an arm nobody reached, and a theme's tone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from successcrew.domain.abtest import NO_TREATMENT, Arm, compare, treatment_reached
from successcrew.domain.comment_analysis import Tone, sentiment, tone_of
from successcrew.domain.program_rules import HOLDOUT

ENROLLED = datetime(2026, 5, 1, 9, tzinfo=UTC)


def test_treated_means_delivered_within_the_outcome_window() -> None:
    assert not treatment_reached(None, ENROLLED, 30)
    assert treatment_reached(ENROLLED + timedelta(hours=1), ENROLLED, 30)
    assert treatment_reached(ENROLLED + timedelta(days=30), ENROLLED, 30)
    # Delivered after the outcome was decided: it cannot have caused it.
    assert not treatment_reached(ENROLLED + timedelta(days=31), ENROLLED, 30)


def test_an_arm_nobody_reached_has_no_rate_and_no_verdict() -> None:
    result = compare(Arm("a", 0, 0, not_reached=80), Arm(HOLDOUT, 40, 20), min_sample=30)
    assert result.verdict == NO_TREATMENT
    assert result.uplift is None and result.variant.rate is None
    figures = result.as_dict()
    assert figures["not_reached"] == 80 and figures["rate"] is None and figures["ci95"] is None
    # Those reached are counted; the rest are reported, not scored as failures.
    partly = compare(Arm("a", 40, 30, not_reached=40), Arm(HOLDOUT, 40, 20), min_sample=30)
    assert partly.variant.rate == 0.75 and partly.as_dict()["not_reached"] == 40


def test_tone_counts_comments_and_keeps_complaints_visible() -> None:
    # Two effusive comments average out three unhappy ones; counted, the theme is negative.
    assert tone_of([-0.34, -0.40, -0.42, 0.80, 0.78]).label == "negative"
    assert tone_of([0.6, 0.7, 0.5, 0.0, -0.3]).label == "positive"
    assert tone_of([0.6, 0.7, -0.5, -0.3, 0.0]).label == "mixed"  # 40 % negative
    assert tone_of([0.0, 0.0, 0.3]).label == "neutral"
    assert tone_of([None]) == Tone() and Tone().label == "none"
    tone = tone_of([-0.5, 0.5, 0.5, None])
    assert (tone.scored, tone.negative_pct, tone.positive_pct) == (3, 100 / 3, 200 / 3)


def test_topic_and_request_words_are_not_praise() -> None:
    assert sentiment("Support never answers our tickets.") <= 0
    assert sentiment("Please add SSO.") == 0
    assert sentiment("Support was fast and friendly, thanks!") > 0.5
