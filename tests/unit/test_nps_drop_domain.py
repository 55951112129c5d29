"""The nps_drop rule fires on a fall the number of answers cannot explain, never on noise."""

from __future__ import annotations

import random
from datetime import date

import pytest

from successcrew.domain.metrics import NpsFigures, classify_nps
from successcrew.domain.nps_drop_rules import NpsDropVerdict, judge_nps_drop, nps_standard_error

DAY = date(2026, 10, 1)
#: How the synthetic customers score when nothing is wrong (NPS about +30).
CONTENT = (1, 1, 1, 1, 2, 2, 3, 5, 8, 8, 6)


def _figures(promoters: int, passives: int, detractors: int) -> NpsFigures:
    return NpsFigures(
        DAY, 30, None, promoters + passives + detractors, promoters, passives, detractors
    )


def _sample(rng: random.Random, n: int, weights: tuple[int, ...] = CONTENT) -> NpsFigures:
    kinds = [classify_nps(s) for s in rng.choices(range(11), weights=weights, k=n)]
    return _figures(kinds.count("promoter"), kinds.count("passive"), kinds.count("detractor"))


def _judge(earlier: NpsFigures, current: NpsFigures) -> NpsDropVerdict:
    return judge_nps_drop(earlier, current, drop_points=10, z=1.96, min_answers=30)


def test_two_months_of_150_answers_from_the_same_customers_do_not_fire() -> None:
    rng = random.Random(3)
    pairs = [(_sample(rng, 150), _sample(rng, 150)) for _ in range(400)]
    drops = [(a.nps or 0) - (b.nps or 0) for a, b in pairs]
    # Chance alone moves NPS by more than 10 points between such months now and then ...
    assert sum(d > 10 for d in drops) > 20
    fired = [_judge(a, b) for a, b in pairs]
    # ... and the rule calls that noise (5 % two-sided: about 1 in 40 on the falling side).
    assert sum(bool(v.fires) for v in fired) <= 0.04 * len(pairs)
    noise = next(v for v, d in zip(fired, drops, strict=True) if d > 10 and not v.fires)
    assert "can be chance" in noise.why and (noise.noise_points or 0) > (noise.drop_points or 0)


def test_a_10_point_fall_of_about_160_answers_is_chance() -> None:
    # +34.7 -> +24.4: a fall the demo's history holds by chance, before any release.
    verdict = _judge(_figures(78, 77, 18), _figures(63, 68, 25))
    assert verdict.fires is False and round(verdict.drop_points or 0, 1) == 10.3
    assert verdict.why == (
        "NPS fell 10.3 points, but with 173 and 156 answers a fall of up to "
        f"{verdict.noise_points:.1f} points can be chance"
    )
    assert 13 < (verdict.noise_points or 0) < 16


def test_a_broken_release_is_a_real_fall() -> None:
    before = _figures(80, 45, 25)  # +36.7
    after = _figures(10, 20, 70)  # -60 from 100 answers
    verdict = _judge(before, after)
    assert verdict.fires is True and round(verdict.drop_points or 0, 1) == 96.7
    assert "more than the 10 points allowed" in verdict.why


def test_a_small_fall_is_within_the_points_allowed_however_many_answered() -> None:
    verdict = _judge(_figures(5000, 3000, 2000), _figures(4600, 3000, 2400))
    assert verdict.fires is False and verdict.why.startswith("NPS moved -8.0 points")


def test_too_few_answers_are_not_judged_and_say_so() -> None:
    verdict = _judge(_figures(8, 1, 1), _figures(0, 0, 10))
    assert verdict.fires is None and verdict.drop_points is None
    assert verdict.why == (
        "too few NPS answers to judge a fall (10 and 10; at least 30 in each window)"
    )


@pytest.mark.parametrize(
    ("figures", "error"),
    [((50, 0, 50), 10.0), ((100, 0, 0), 0.0), ((25, 50, 25), 100 * (0.5 / 100) ** 0.5)],
)
def test_the_standard_error_of_one_window(figures: tuple[int, int, int], error: float) -> None:
    assert nps_standard_error(_figures(*figures)) == pytest.approx(error)
    assert nps_standard_error(_figures(0, 0, 0)) is None
