"""The book at a glance: band counts with ARR, how accounts moved, the biggest drops and the
most at-risk accounts by ARR (the crew's trend analysis and the dashboard's figures)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from successcrew.store import portfolio_queries as q
from successcrew.store.snapshots import latest_as_of


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
