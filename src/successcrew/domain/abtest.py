"""A/B statistics for retention programs: each variant's outcome rate against the holdout.

Pure math: counts in, figures out. The interval is the Wald interval for a difference of two
proportions; the test is the two-proportion z-test with a pooled standard error. Both rest on the
normal approximation, which is why results below a minimum sample say "not enough data" instead
of a number a lead might act on.

A treated arm counts only the enrolments the program actually reached (see ``treatment_reached``):
an account whose messages sat held in the outbox got no treatment, and counting it would credit
the program with whatever happened to the account anyway. Those enrolments are reported as
``not_reached``, never as successes or failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

#: z for a two-sided 95 % interval.
Z_95 = 1.959963984540054


#: The verdict of a variant none of whose matured enrolments was reached.
NO_TREATMENT = "no treatment delivered"


def treatment_reached(
    first_delivered_at: datetime | None, enrolled_at: datetime, outcome_days: int
) -> bool:
    """Whether an enrolment was treated: one of its program messages (an e-mail to a contact, the
    owner's call script, a CRM task, a Slack note) was delivered to its provider by the end of
    the outcome window. Held, paused, dead-lettered or still-waiting messages are no treatment,
    and neither is one delivered after the outcome was already decided."""
    if first_delivered_at is None:
        return False
    return first_delivered_at <= enrolled_at + timedelta(days=outcome_days)


@dataclass(frozen=True)
class Arm:
    """One group of an experiment: how many matured enrolments it counts, how many had the
    outcome, and (for a treated arm) how many matured but were never reached, so left out."""

    name: str
    n: int
    successes: int
    not_reached: int = 0

    @property
    def rate(self) -> float | None:
        """Outcome rate 0-1; None for an empty arm."""
        return self.successes / self.n if self.n else None


@dataclass(frozen=True)
class Comparison:
    """A variant against the holdout. Figures are None when ``enough_data`` is False."""

    variant: Arm
    holdout: Arm
    min_sample: int
    uplift: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    z: float | None = None
    p_value: float | None = None

    @property
    def enough_data(self) -> bool:
        """Both arms reached the minimum sample."""
        return self.variant.n >= self.min_sample and self.holdout.n >= self.min_sample

    @property
    def significant(self) -> bool:
        """p < 0.05 (the interval then excludes zero as well, up to rounding)."""
        return self.p_value is not None and self.p_value < 0.05

    @property
    def verdict(self) -> str:
        """One line a customer-success lead can read."""
        if self.variant.n == 0 and self.variant.not_reached:
            return NO_TREATMENT
        if not self.enough_data:
            return (
                f"not enough data (need {self.min_sample} matured enrolments per arm; "
                f"have {self.variant.n} reached and {self.holdout.n} in holdout)"
            )
        assert self.uplift is not None
        if not self.significant:
            return "no significant difference from holdout"
        return "better than holdout" if self.uplift > 0 else "worse than holdout"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (rates and uplift as fractions 0-1)."""
        return {
            "variant": self.variant.name,
            "n": self.variant.n,
            "successes": self.variant.successes,
            "not_reached": self.variant.not_reached,
            "rate": self.variant.rate,
            "holdout_n": self.holdout.n,
            "holdout_successes": self.holdout.successes,
            "holdout_rate": self.holdout.rate,
            "uplift": self.uplift,
            "ci95": [self.ci_low, self.ci_high] if self.uplift is not None else None,
            "z": self.z,
            "p_value": self.p_value,
            "enough_data": self.enough_data,
            "significant": self.significant,
            "verdict": self.verdict,
        }


def wald_interval(
    x1: int, n1: int, x0: int, n0: int, z: float = Z_95
) -> tuple[float, float, float]:
    """(difference, low, high) of p1 - p0 with the unpooled Wald standard error."""
    if n1 <= 0 or n0 <= 0:
        raise ValueError("both groups need at least one observation")
    p1, p0 = x1 / n1, x0 / n0
    diff = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return diff, diff - z * se, diff + z * se


def two_proportion_z_test(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float]:
    """(z, two-sided p-value) for H0: p1 == p0, pooled standard error.

    When both groups are all successes or all failures the pooled variance is zero: there is no
    evidence of a difference, so z = 0 and p = 1.
    """
    if n1 <= 0 or n0 <= 0:
        raise ValueError("both groups need at least one observation")
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x0 / n0) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def compare(variant: Arm, holdout: Arm, *, min_sample: int) -> Comparison:
    """The variant against the holdout; figures only when both arms reach ``min_sample``."""
    base = Comparison(variant=variant, holdout=holdout, min_sample=max(1, min_sample))
    if not base.enough_data:
        return base
    diff, low, high = wald_interval(variant.successes, variant.n, holdout.successes, holdout.n)
    z, p = two_proportion_z_test(variant.successes, variant.n, holdout.successes, holdout.n)
    return Comparison(
        variant=variant,
        holdout=holdout,
        min_sample=base.min_sample,
        uplift=diff,
        ci_low=low,
        ci_high=high,
        z=z,
        p_value=p,
    )
