"""Reading NPS comments: sentiment and categories from keyword and phrase rules.

The category rules and their matcher are ``definitions.feedback_categories``; this module reads
sentiment and turns categories into counts. Sentiment uses VADER, a lexicon with no model
download and no network, imported on first use so that the command line stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str | None) -> float | None:
    """VADER compound score in [-1, 1]; None when there is no comment to read."""
    if not text or not text.strip():
        return None
    return float(_analyzer().polarity_scores(text)["compound"])


def sentiment_label(score: float | None) -> str:
    """negative / neutral / positive with VADER's usual +-0.05 cut-offs."""
    if score is None:
        return "none"
    if score >= 0.05:
        return "positive"
    if score <= -0.05:
        return "negative"
    return "neutral"


def effective_categories(auto: Iterable[str] | None, manual: Iterable[str] | None) -> list[str]:
    """A person's correction wins over the rules, even when it is an empty list."""
    if manual is not None:
        return list(manual)
    return list(auto or [])


def count_categories(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How often each category occurs over rows with ``categories`` / ``categories_manual``."""
    counts: dict[str, int] = {}
    for row in rows:
        for name in effective_categories(row.get("categories"), row.get("categories_manual")):
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
