"""The nps_drop rollback rule's judgement: did NPS fall by more than the number of answers can
explain? Pure: two windows' answer counts in, a verdict out.

An NPS from 150 answers moves 6-12 points between two months by chance alone, so a fall of
"more than 10 points" on its own pauses every campaign on noise. The rule therefore asks three
things: enough answers in both windows to judge at all, a fall larger than the configured points,
and a fall larger than ``z`` standard errors of the difference of the two NPS estimates.

Each answer counts +1 (promoter), 0 (passive) or -1 (detractor); NPS is their mean in percent.
The variance of one answer is ``p + d - (p - d)^2`` (``p``, ``d``: the promoter and detractor
shares), so one window's NPS has a standard error of ``100 * sqrt(variance / n)`` points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from successcrew.domain.metrics import NpsFigures


@dataclass(frozen=True)
class NpsDropVerdict:
    """What the rule concluded. ``fires`` is None when a window has too few answers to judge."""

    fires: bool | None
    drop_points: float | None
    #: The largest fall the answers can explain by chance (``z`` standard errors), in points.
    noise_points: float | None
    #: Why, in a CS lead's words.
    why: str


def nps_standard_error(figures: NpsFigures) -> float | None:
    """The standard error of one window's NPS, in points; None without answers."""
    n = figures.responses
    if n <= 0:
        return None
    p, d = figures.promoters / n, figures.detractors / n
    variance = max(0.0, p + d - (p - d) ** 2)
    return 100.0 * math.sqrt(variance / n)


def judge_nps_drop(
    earlier: NpsFigures,
    current: NpsFigures,
    *,
    drop_points: float,
    z: float,
    min_answers: int,
) -> NpsDropVerdict:
    """Whether NPS fell from ``earlier`` to ``current`` by more than ``drop_points`` points and by
    more than ``z`` standard errors of the difference, with ``min_answers`` in each window."""
    fewest = min(earlier.responses, current.responses)
    if fewest < min_answers or earlier.nps is None or current.nps is None:
        return NpsDropVerdict(
            None,
            None,
            None,
            f"too few NPS answers to judge a fall ({earlier.responses} and {current.responses}; "
            f"at least {min_answers} in each window)",
        )
    drop = earlier.nps - current.nps
    # Both windows have answers here, so both errors are numbers.
    noise = z * math.hypot(nps_standard_error(earlier) or 0.0, nps_standard_error(current) or 0.0)
    if drop <= drop_points:
        why = f"NPS moved {-drop:+.1f} points, within the {drop_points:g} points allowed"
        return NpsDropVerdict(False, drop, noise, why)
    if drop <= noise:
        why = (
            f"NPS fell {drop:.1f} points, but with {earlier.responses} and {current.responses} "
            f"answers a fall of up to {noise:.1f} points can be chance"
        )
        return NpsDropVerdict(False, drop, noise, why)
    why = (
        f"NPS fell {drop:.1f} points, more than the {drop_points:g} points allowed and more than "
        f"the {noise:.1f} points {earlier.responses} and {current.responses} answers can explain"
    )
    return NpsDropVerdict(True, drop, noise, why)
