"""The NPS page: the monthly trend, NPS by segment, themes with quotes, and the comment list
whose categories a person may correct (through ``feedback.correct_categories``, as the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from successcrew.domain.metrics import NpsFigures
from successcrew.services.voice.report import (
    NpsComment,
    NpsMonth,
    Theme,
    comments_between,
    nps_trend,
    themes_of,
)
from successcrew.store.metric_queries import nps_by_segment, nps_figures

#: Comments listed on the page (newest first).
COMMENTS_SHOWN = 50


@dataclass(frozen=True)
class NpsView:
    """What the NPS page shows (see ``nps_view``)."""

    window_days: int
    overall: NpsFigures
    trend: list[NpsMonth]
    segments: list[NpsFigures]
    themes: list[Theme]
    #: The newest COMMENTS_SHOWN of ``comment_total``.
    comments: list[NpsComment]
    comment_total: int


def nps_view(
    session: Session, now: datetime, *, window_days: int = 90, owner: str | None = None
) -> NpsView:
    """Figures for the NPS page over the last ``window_days`` (the trend over 12 months).
    ``owner`` narrows the comments and themes to one CSM's book; the NPS figures stay the
    company's (they name no account)."""
    since = now - timedelta(days=window_days)
    comments = comments_between(session, since, now, owner=owner)
    return NpsView(
        window_days=window_days,
        overall=nps_figures(session, now.date(), window_days),
        trend=nps_trend(session, now),
        segments=nps_by_segment(session, now.date(), window_days),
        themes=themes_of(comments),
        comments=comments[:COMMENTS_SHOWN],
        comment_total=len(comments),
    )
