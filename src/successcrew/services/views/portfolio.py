"""The book at a glance: band counts with ARR, how accounts moved, the biggest drops and the
most at-risk accounts by ARR (the crew's trend analysis and the dashboard's figures)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, NotRequired, TypedDict

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from successcrew.domain.explanations import explain_change
from successcrew.store import portfolio_queries as q
from successcrew.store.models import HealthSnapshot
from successcrew.store.portfolio_queries import (
    AtRiskAccount,
    BandFigures,
    RenewalAtRisk,
    ScoreDrop,
    SegmentRisk,
)
from successcrew.store.snapshots import latest_as_of, snapshot_view


class TrendAnalysis(TypedDict):
    """The health monitor's trend analysis (a tool result, stored as JSON as is). Without
    scores only ``scores`` and ``movements``; without a date ``window_days`` earlier, no
    comparison."""

    scores: NotRequired[Literal["none yet"]]
    as_of: NotRequired[str]
    bands: NotRequired[dict[str, BandFigures]]
    compared_with: NotRequired[str]
    bands_before: NotRequired[dict[str, BandFigures]]
    movements: NotRequired[dict[str, int]]
    biggest_drops: NotRequired[list[ScoreDrop]]


class DashboardData(TypedDict):
    """Bands with ARR and the accounts most at risk (a tool result, stored as JSON as is)."""

    scores: NotRequired[Literal["none yet"]]
    as_of: NotRequired[str]
    bands: NotRequired[dict[str, BandFigures]]
    top_at_risk: NotRequired[list[AtRiskAccount]]


def analyse_trends(
    session: Session, today: date, *, window_days: int = 7, movers: int = 5
) -> TrendAnalysis:
    """Band counts now and ``window_days`` before, band movements, and the biggest drops."""
    current = latest_as_of(session, today)
    if current is None:
        return {"scores": "none yet", "movements": {}}
    previous = q.previous_as_of(session, current, at_least_days=window_days)
    if previous is None:
        return {"as_of": current.isoformat(), "bands": q.band_counts(session, current)}
    return {
        "as_of": current.isoformat(),
        "bands": q.band_counts(session, current),
        "compared_with": previous.isoformat(),
        "bands_before": q.band_counts(session, previous),
        "movements": q.movements(session, current, previous),
        "biggest_drops": q.biggest_drops(session, current, previous, limit=movers),
    }


def dashboard_data(session: Session, today: date) -> DashboardData:
    """Bands with ARR, and the ten most at-risk accounts by ARR, on the latest scoring date."""
    current = latest_as_of(session, today)
    if current is None:
        return {"scores": "none yet"}
    return {
        "as_of": current.isoformat(),
        "bands": q.band_counts(session, current),
        "top_at_risk": q.top_at_risk(session, current, limit=10),
    }


BANDS = q.BANDS
#: Days between the points of the Portfolio's band trend.
TREND_STEP_DAYS = 14


@dataclass(frozen=True)
class Drop:
    """An account whose score fell more than the page's threshold, with its main reason (the
    scores unrounded: pages format them with ``numbers.score``)."""

    account: str
    name: str
    arr: float
    before: float
    after: float
    band: str
    reason: str


def _main_reason(now: HealthSnapshot, then: HealthSnapshot) -> str:
    explanation = explain_change(snapshot_view(now), snapshot_view(then), top=1)
    if explanation.movers:
        return explanation.movers[0].text
    return "; ".join(explanation.notes) or "no single component moved by half a point or more"


def _concurrently(session: Session, *reads: Callable[[Session], Any]) -> list[Any]:
    """Run independent reads at once on PostgreSQL, each on a connection of its own (the
    page's wall time is then its slowest read, not their sum); in turn on SQLite."""
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return [read(session) for read in reads]

    def run(read: Callable[[Session], Any]) -> Any:
        with Session(bind) as own:
            return read(own)

    with ThreadPoolExecutor(max_workers=len(reads)) as pool:
        return [f.result() for f in [pool.submit(run, read) for read in reads]]


@dataclass(frozen=True)
class TrendPoint:
    """Accounts per band on one scoring date."""

    as_of: date
    accounts: Mapping[str, int]


@dataclass(frozen=True)
class PortfolioView:
    """What the Portfolio page shows (see ``portfolio_view``)."""

    as_of: date
    compared_with: date | None
    bands: dict[str, BandFigures]
    trend: list[TrendPoint]
    segments: list[SegmentRisk]
    drops: list[Drop]
    drop_total: int
    drop_points: float
    renewals: list[RenewalAtRisk]
    more_renewals: bool
    renewal_days: int

    @property
    def total_arr(self) -> float:
        """The ARR of every scored account (the base of each band's share)."""
        return sum(figures["arr"] for figures in self.bands.values())


def portfolio_view(
    session: Session,
    today: date,
    *,
    owner: str | None = None,
    drop_points: float = 10.0,
    trend_days: int = 90,
    renewal_days: int = 90,
    limit: int = 20,
) -> PortfolioView | None:
    """The Portfolio page: bands with ARR now, their trend (a point every two weeks over
    ``trend_days``), ARR at risk by segment, this week's falls of more than ``drop_points``
    with their main reason, and At-Risk or Critical renewals in the next ``renewal_days`` (the
    soonest ``limit``; ``more_renewals`` says whether there are others). ``owner`` narrows
    every figure to one CSM's book. None before the first scores. A fixed number of
    statements, whatever the book's size."""
    current = latest_as_of(session, today)
    if current is None:
        return None
    # A point every two weeks: each point reads a whole date's scores, and a daily series
    # would read every snapshot of the last 90 days.
    dates = [
        current - timedelta(days=TREND_STEP_DAYS * i)
        for i in range(trend_days // TREND_STEP_DAYS, -1, -1)
    ]
    previous = q.previous_as_of(session, current, at_least_days=7)

    def falls(s: Session) -> tuple[int, list[Drop]]:
        if previous is None:
            return 0, []
        total, rows = q.drops_over(
            s, current, previous, points=drop_points, limit=limit, owner=owner
        )
        return total, [
            Drop(
                account=a.external_id,
                name=a.name,
                arr=float(a.arr or 0),
                before=then.score,
                after=now.score,
                band=now.band,
                reason=_main_reason(now, then),
            )
            for a, now, then in rows
        ]

    trend_read, segment_read, falls_read = _concurrently(
        session,
        # The latest point is the bands themselves: read once, not twice.
        lambda s: q.band_trend(s, dates[:-1], owner=owner),
        lambda s: q.bands_by_segment(s, current, owner=owner),
        falls,
    )
    trend: dict[date, dict[str, int]] = trend_read
    bands: dict[str, BandFigures]
    segments: list[SegmentRisk]
    bands, segments = segment_read
    drop_total: int
    drops: list[Drop]
    drop_total, drops = falls_read
    trend[current] = {band: figures["accounts"] for band, figures in bands.items()}
    renewals = q.renewals_at_risk(
        session, current, today, days=renewal_days, limit=limit + 1, owner=owner
    )
    return PortfolioView(
        as_of=current,
        compared_with=previous,
        bands=bands,
        trend=[TrendPoint(d, trend[d]) for d in dates if any(trend[d].values())],
        segments=segments,
        drops=drops,
        drop_total=drop_total,
        drop_points=drop_points,
        renewals=renewals[:limit],
        more_renewals=len(renewals) > limit,
        renewal_days=renewal_days,
    )
