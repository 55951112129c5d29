"""Retention, NPS and model-evaluation math. Pure: counts and dates in, figures out.

Every rate carries its sample size; an empty sample is ``None`` ("no data"), never 0, so a month
without customers cannot look like a month where every customer left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from successcrew import numbers

NpsClass = Literal["promoter", "passive", "detractor"]


def classify_nps(score: int) -> NpsClass:
    """9-10 promoter, 7-8 passive, 0-6 detractor."""
    if not 0 <= score <= 10:
        raise ValueError(f"NPS score {score} is not between 0 and 10")
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


@dataclass(frozen=True)
class NpsFigures:
    """NPS over a window (None = all responses up to as_of), with its sample size."""

    as_of: date
    window_days: int | None
    segment: str | None
    responses: int
    promoters: int
    passives: int
    detractors: int

    @property
    def nps(self) -> float | None:
        """Promoters minus detractors, in percent of responses; None without responses."""
        return nps_from_counts(self.promoters, self.passives, self.detractors)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready figures."""
        return {
            "as_of": self.as_of.isoformat(),
            "window_days": self.window_days,
            "segment": self.segment,
            "nps": self.nps,
            "responses": self.responses,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
        }


def nps_from_counts(promoters: int, passives: int, detractors: int) -> float | None:
    """NPS from class counts; None when nobody answered."""
    total = promoters + passives + detractors
    if total == 0:
        return None
    return (promoters - detractors) * 100.0 / total


@dataclass(frozen=True)
class Rate:
    """``numerator / denominator`` as a percentage with both counts; None when the base is 0."""

    numerator: float
    denominator: float

    @property
    def pct(self) -> float | None:
        """The rate in percent, or None ("no data") for an empty base."""
        if not self.denominator:
            return None
        return self.numerator * 100.0 / self.denominator

    def as_dict(self) -> dict[str, float | None]:
        """JSON-ready."""
        return {"pct": self.pct, "numerator": self.numerator, "denominator": self.denominator}


def relative_change_pct(current: float | None, previous: float | None) -> float | None:
    """Relative change in percent (``(current - previous) / previous``); None without a base."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) * 100.0 / previous


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The first day of the month ``months`` after ``day``'s month (negative goes back)."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def last_complete_month(as_of: date) -> tuple[date, date]:
    """``[start, end)`` of the last calendar month that ended on or before ``as_of``."""
    end = month_start(as_of)
    return add_months(end, -1), end


@dataclass(frozen=True)
class CohortRetention:
    """Accounts that started in ``cohort`` (a month) and how many were still customers a month
    after that month ended."""

    cohort: date
    size: int
    retained: int

    @property
    def pct(self) -> float | None:
        """Retention in percent; None for an empty cohort."""
        return Rate(self.retained, self.size).pct

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "cohort": self.cohort.strftime("%Y-%m"),
            "size": self.size,
            "retained": self.retained,
            "pct": self.pct,
        }


@dataclass(frozen=True)
class PeriodRetention:
    """Logo and revenue retention over one month ``[start, end)``."""

    start: date
    end: date
    logos: Rate
    arr: Rate

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "month": self.start.strftime("%Y-%m"),
            "logo_retention": self.logos.as_dict(),
            "gross_revenue_retention": self.arr.as_dict(),
        }


@dataclass(frozen=True)
class RetentionFigures:
    """Portfolio retention as of a date: the last complete month against the month before.

    Revenue retention is computed from ``accounts.arr``. The schema keeps one ARR per account (no
    ARR history), so expansion and contraction are invisible: net revenue retention equals gross
    revenue retention until ARR history exists. Both are reported so callers need not change.
    """

    as_of: date
    current: PeriodRetention
    previous: PeriodRetention
    cohorts: list[CohortRetention] = field(default_factory=list[CohortRetention])

    @property
    def logo_retention_pct(self) -> float | None:
        """1-month logo retention of the last complete month (RETENTION-002)."""
        return self.current.logos.pct

    @property
    def mom_change_pct(self) -> float | None:
        """Relative month-over-month change of 1-month logo retention, in percent."""
        return relative_change_pct(self.current.logos.pct, self.previous.logos.pct)

    @property
    def gross_revenue_retention_pct(self) -> float | None:
        """ARR of the month's starting accounts still customers at its end, in percent."""
        return self.current.arr.pct

    @property
    def net_revenue_retention_pct(self) -> float | None:
        """Equal to gross until ARR history exists (see the class docstring)."""
        return self.current.arr.pct

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "as_of": self.as_of.isoformat(),
            "logo_retention_pct": self.logo_retention_pct,
            "mom_change_pct": self.mom_change_pct,
            "gross_revenue_retention_pct": self.gross_revenue_retention_pct,
            "net_revenue_retention_pct": self.net_revenue_retention_pct,
            "current": self.current.as_dict(),
            "previous": self.previous.as_dict(),
            "cohorts": [c.as_dict() for c in self.cohorts],
        }


@dataclass(frozen=True)
class GateResult:
    """One exit gate's verdict and the numbers behind it."""

    name: str
    passed: bool
    value: float | None
    threshold: float
    detail: str


def retention_gate(figures: RetentionFigures, improvement_gate_pct: float) -> GateResult:
    """ "Retention improving": 1-month logo retention up by at least the gate, relative."""
    change = figures.mom_change_pct
    cur, prev = figures.current, figures.previous
    detail = (
        f"1-month logo retention {cur.start:%Y-%m} {numbers.percent(cur.logos.pct)} "
        f"({numbers.count(cur.logos.numerator)}/{numbers.count(cur.logos.denominator)}) vs "
        f"{prev.start:%Y-%m} {numbers.percent(prev.logos.pct)} "
        f"({numbers.count(prev.logos.numerator)}/{numbers.count(prev.logos.denominator)}): "
        f"change {numbers.signed(change, missing='no data')}"
        f"{'' if change is None else ' %'} relative, gate >= +{improvement_gate_pct:g} %"
    )
    passed = change is not None and change >= improvement_gate_pct
    return GateResult("retention_improving", passed, change, improvement_gate_pct, detail)


def nps_gate(figures: NpsFigures, gate: float) -> GateResult:
    """ "NPS positive": rolling NPS at or above the gate; no answers cannot pass."""
    value = figures.nps
    detail = (
        f"NPS over {figures.window_days} days to {figures.as_of}: "
        f"{numbers.signed(value, missing='no data')} from {numbers.count(figures.responses)} "
        f"responses ({numbers.count(figures.promoters)} promoters, "
        f"{numbers.count(figures.passives)} passives, {numbers.count(figures.detractors)} "
        f"detractors), gate >= {gate:g}"
    )
    return GateResult("nps_positive", value is not None and value >= gate, value, gate, detail)


# --- model evaluation (backtest) ---------------------------------------------------------------


def roc_auc(risk: Sequence[float], churned: Sequence[bool]) -> float | None:
    """ROC AUC of ``risk`` (higher = more likely to churn) against outcomes, ties counted half.

    Mann-Whitney form: the probability that a random churner has a higher risk than a random
    retained account. None when either class is empty.
    """
    if len(risk) != len(churned):
        raise ValueError("risk and churned must have the same length")
    pairs = sorted(zip(risk, churned, strict=True), key=lambda p: p[0])
    positives = sum(1 for _, c in pairs if c)
    negatives = len(pairs) - positives
    if positives == 0 or negatives == 0:
        return None
    # Average ranks for ties, then the rank-sum of the positives.
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        average_rank = (i + j) / 2 + 1
        rank_sum += average_rank * sum(1 for k in range(i, j + 1) if pairs[k][1])
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def top_decile_lift(risk: Sequence[float], churned: Sequence[bool]) -> float | None:
    """Churn rate among the riskiest 10 % (at least one account) over the overall churn rate."""
    n = len(risk)
    total = sum(1 for c in churned if c)
    if n == 0 or total == 0:
        return None
    k = max(1, round(n / 10))
    # Stable order by descending risk: ties keep input order, so the result is deterministic.
    order = sorted(range(n), key=lambda i: -risk[i])[:k]
    top_rate = sum(1 for i in order if churned[i]) / k
    return top_rate / (total / n)


@dataclass(frozen=True)
class BandOutcome:
    """How many scored accounts a band held and how many of them churned."""

    band: str
    accounts: int
    churned: int

    @property
    def churn_rate_pct(self) -> float | None:
        """Churn rate in percent; None for an empty band."""
        return Rate(self.churned, self.accounts).pct


def band_outcomes(
    bands: Sequence[str], churned: Sequence[bool], order: Sequence[str]
) -> list[BandOutcome]:
    """Accounts and churners per band, in ``order`` (bands with no accounts included)."""
    counts = {b: [0, 0] for b in order}
    for band, c in zip(bands, churned, strict=True):
        slot = counts.setdefault(band, [0, 0])
        slot[0] += 1
        slot[1] += int(c)
    return [BandOutcome(b, n, k) for b, (n, k) in counts.items()]
