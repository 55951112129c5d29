"""Reading NPS comments: sentiment and categories from keyword and phrase rules.

The rules come from ``config/feedback_categories.yaml`` (see ``successcrew.feedbackconfig``);
this module only applies them. Sentiment uses VADER, a lexicon with no model download and no
network, imported on first use so that the command line stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class CategoryRule:
    """A category and what marks it: whole words (``keywords``) or exact ``phrases``."""

    name: str
    keywords: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()

    def pattern(self) -> re.Pattern[str]:
        """One case-insensitive regex: keywords on word boundaries (plural -s/-es allowed)."""
        parts = [rf"\b{re.escape(k.lower())}(?:s|es)?\b" for k in self.keywords]
        parts += [re.escape(p.lower()) for p in self.phrases]
        return re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)


class Categoriser:
    """Applies a taxonomy to comments; compile once, use for many comments."""

    def __init__(self, rules: Sequence[CategoryRule]) -> None:
        self.names = tuple(r.name for r in rules)
        self._compiled = [(r.name, r.pattern()) for r in rules]

    def categorise(self, text: str | None) -> list[str]:
        """Every category whose rules match, in taxonomy order; empty for no comment."""
        if not text or not text.strip():
            return []
        # Straight apostrophes so "don't" written with a curly quote matches too.
        normalised = text.replace("\u2019", "'")
        return [name for name, pattern in self._compiled if pattern.search(normalised)]


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
