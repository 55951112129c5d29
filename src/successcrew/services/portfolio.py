"""The book at a glance: band counts with ARR, how accounts moved, the biggest drops and the
most at-risk accounts by ARR (the crew's trend analysis and the dashboard's figures)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from successcrew.domain.explanations import explain_change
from successcrew.store import portfolio_queries as q
from successcrew.store.models import HealthSnapshot
from successcrew.store.snapshots import latest_as_of, snapshot_view


def analyse_trends(
    session: Session, today: date, *, window_days: int = 7, movers: int = 5
) -> dict[str, Any]:
    """Band counts now and ``window_days`` before, band movements, and the biggest drops."""
    current = latest_as_of(session, today)
    if current is None:
        return {"scores": "none yet", "movements": {}}
    previous = q.previous_as_of(session, current, at_least_days=window_days)
    result: dict[str, Any] = {
        "as_of": current.isoformat(),
        "bands": q.band_counts(session, current),
    }
    if previous is not None:
        result.update(
            compared_with=previous.isoformat(),
            bands_before=q.band_counts(session, previous),
            movements=q.movements(session, current, previous),
            biggest_drops=q.biggest_drops(session, current, previous, limit=movers),
        )
    return result


def dashboard_data(session: Session, today: date) -> dict[str, Any]:
    """Bands with ARR, and the ten most at-risk accounts by ARR, on the latest scoring date."""
    current = latest_as_of(session, today)
    if current is None:
        return {"scores": "none yet"}
    return {
        "as_of": current.isoformat(),
        "bands": q.band_counts(session, current),
        "top_at_risk": q.top_at_risk(session, current, limit=10),
    }


@dataclass(frozen=True)
class Drop:
    """An account whose score fell more than the page's threshold, with its main reason."""

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


def portfolio_view(
    session: Session,
    today: date,
    *,
    owner: str | None = None,
    drop_points: float = 10.0,
    trend_days: int = 90,
    renewal_days: int = 90,
    limit: int = 20,
) -> dict[str, Any]:
    """The Portfolio page: bands with ARR now, their trend (weekly points over ``trend_days``),
    ARR at risk by segment, this week's falls of more than ``drop_points`` with their main
    reason, and At-Risk or Critical renewals in the next ``renewal_days``. ``owner`` narrows
    every figure to one CSM's book. A fixed number of statements, whatever the book's size."""
    current = latest_as_of(session, today)
    if current is None:
        return {"as_of": None}
    # Weekly points: a daily series would read every snapshot of the last 90 days.
    dates = [current - timedelta(days=7 * i) for i in range(trend_days // 7, -1, -1)]
    trend = q.band_trend(session, dates, owner=owner)
    previous = q.previous_as_of(session, current, at_least_days=7)
    drops: list[Drop] = []
    drop_total = 0
    if previous is not None:
        drop_total, rows = q.drops_over(
            session, current, previous, points=drop_points, limit=limit, owner=owner
        )
        drops = [
            Drop(
                account=a.external_id,
                name=a.name,
                arr=float(a.arr or 0),
                before=round(then.score, 1),
                after=round(now.score, 1),
                band=now.band,
                reason=_main_reason(now, then),
            )
            for a, now, then in rows
        ]
    bands, segments = q.bands_by_segment(session, current, owner=owner)
    renewal_total, renewals = q.renewals_at_risk(
        session, current, today, days=renewal_days, limit=limit, owner=owner
    )
    return {
        "as_of": current,
        "compared_with": previous,
        "bands": bands,
        "trend": [{"as_of": d, **trend[d]} for d in dates if any(trend[d].values())],
        "segments": segments,
        "drops": drops,
        "drop_total": drop_total,
        "drop_points": drop_points,
        "renewals": renewals,
        "renewal_total": renewal_total,
        "renewal_days": renewal_days,
    }
