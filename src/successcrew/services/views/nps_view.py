"""The NPS page: the monthly trend, NPS by segment, themes with quotes, and the comment list
whose categories a person may correct (through ``feedback.correct_categories``, as the CLI)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from successcrew.services.voice.report import comments_between, nps_trend, themes_of
from successcrew.store.metric_queries import nps_by_segment, nps_figures

#: Comments listed on the page (newest first).
COMMENTS_SHOWN = 50


def nps_view(
    session: Session, now: datetime, *, window_days: int = 90, owner: str | None = None
) -> dict[str, Any]:
    """Figures for the NPS page over the last ``window_days`` (the trend over 12 months).
    ``owner`` narrows the comments and themes to one CSM's book; the NPS figures stay the
    company's (they name no account)."""
    since = now - timedelta(days=window_days)
    comments = comments_between(session, since, now, owner=owner)
    return {
        "window_days": window_days,
        "overall": nps_figures(session, now.date(), window_days),
        "trend": nps_trend(session, now),
        "segments": nps_by_segment(session, now.date(), window_days),
        "themes": themes_of(comments),
        "comments": comments[:COMMENTS_SHOWN],
        "comment_total": len(comments),
    }
