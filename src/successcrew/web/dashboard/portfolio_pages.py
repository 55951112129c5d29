"""Portfolio (``/``): bands with ARR and their 90-day trend, ARR at risk by segment, this
week's falls with their main reason, At-Risk and Critical renewals, feed freshness."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from successcrew.definitions.health_model import load_health_model
from successcrew.definitions.thresholds import load_thresholds
from successcrew.services.scoring.health_scores import feed_freshness
from successcrew.services.views.portfolio import BANDS, portfolio_view
from successcrew.web.auth.identity import SignedInUser, signed_in_user
from successcrew.web.dashboard.charts import band_trend_chart
from successcrew.web.dashboard.reading import bad_request, book_owner, now_of, read_session
from successcrew.web.dashboard.rendering import render_dashboard

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def portfolio(request: Request, user: SignedInUser = Depends(signed_in_user)) -> HTMLResponse:
    """The book at a glance (a CSM's own book)."""
    raw = request.query_params.get("drop", "10")
    try:
        points = float(raw)
        if not 0 < points <= 100:
            raise ValueError
    except ValueError:
        return bad_request(request, f"drop={raw!r}: give the points a score must fall by, 1-100")
    now = now_of(request)
    thresholds = load_thresholds()
    with read_session(request) as session:
        view = portfolio_view(session, now.date(), owner=book_owner(user), drop_points=points)
        feeds = feed_freshness(session, load_health_model(), thresholds.data_freshness, now.date())
    return render_dashboard(
        request,
        "dashboard/portfolio.html",
        view=view,
        bands=BANDS,
        trend_chart=band_trend_chart(view.trend, BANDS) if view else None,
        feeds=feeds,
        book=book_owner(user),
    )
