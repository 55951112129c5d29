"""Reading NPS comments: sentiment and categories from keyword and phrase rules.

The category rules and their matcher are ``definitions.feedback_categories``; this module reads
sentiment and turns categories into counts. Sentiment uses VADER, a lexicon with no model
download and no network, imported on first use so that the command line stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Words VADER scores as praise that in customer feedback name a topic or make a request:
#: "Support never answers our tickets" would read positive on "support" alone, "Please add
#: SSO" on "please". They carry no opinion here, so they count for nothing.
TOPIC_WORDS = ("support", "supported", "help", "please", "value")


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    # vaderSentiment ships no type information; its analyzer is used through Any here.
    from vaderSentiment.vaderSentiment import (  # pyright: ignore[reportMissingTypeStubs]
        SentimentIntensityAnalyzer,
    )

    analyzer: Any = SentimentIntensityAnalyzer()
    for word in TOPIC_WORDS:
        analyzer.lexicon.pop(word, None)
    return analyzer


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


@dataclass(frozen=True)
class Tone:
    """How a set of comments reads: each comment labelled on its own, then counted.

    A mean of sentiment scores hides complaints: two effusively polite comments outweigh three
    angry ones. Counting labels keeps every complaint visible as one complaint.
    """

    negative: int = 0
    neutral: int = 0
    positive: int = 0

    @property
    def scored(self) -> int:
        """Comments with a sentiment."""
        return self.negative + self.neutral + self.positive

    @property
    def negative_pct(self) -> float | None:
        """Share of scored comments that read negative, in percent."""
        return 100 * self.negative / self.scored if self.scored else None

    @property
    def positive_pct(self) -> float | None:
        """Share of scored comments that read positive, in percent."""
        return 100 * self.positive / self.scored if self.scored else None

    @property
    def label(self) -> str:
        """negative when at least half the comments are; positive only when most are and
        fewer than a quarter are negative; neutral when most are neither; otherwise mixed."""
        n = self.scored
        if not n:
            return "none"
        if 2 * self.negative >= n:
            return "negative"
        if 2 * self.positive > n and 4 * self.negative < n:
            return "positive"
        if 2 * self.neutral > n:
            return "neutral"
        return "mixed"


def tone_of(scores: Iterable[float | None]) -> Tone:
    """The tone of comments from their sentiment scores (None, no comment text, is skipped)."""
    counts = {"negative": 0, "neutral": 0, "positive": 0}
    for score in scores:
        if score is not None:
            counts[sentiment_label(score)] += 1
    return Tone(**counts)


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
