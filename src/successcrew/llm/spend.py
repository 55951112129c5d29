"""The model's budget for one run (calls and tokens) and what was spent, thread-safe.

Operations run in parallel, so a brief in one task and a comment reading in another share one
budget. Once it is spent every further request falls back to the deterministic text, and each
fallback is counted with its reason for the run's usage record.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Spend:
    """Calls and tokens used against the limits, cache hits, fallbacks by reason."""

    max_calls: int
    max_tokens: int
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    fallbacks: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self) -> str | None:
        """Take one call from the budget; the reason it is spent, or None (go ahead)."""
        with self._lock:
            if self.calls >= self.max_calls:
                return f"budget spent: {self.calls} of {self.max_calls} calls"
            tokens = self.prompt_tokens + self.completion_tokens
            if tokens >= self.max_tokens:
                return f"budget spent: {tokens} of {self.max_tokens} tokens"
            self.calls += 1
            return None

    def used(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Add a call's tokens."""
        with self._lock:
            self.prompt_tokens += max(0, int(prompt_tokens))
            self.completion_tokens += max(0, int(completion_tokens))

    def hit(self) -> None:
        """An answer came from the cache."""
        with self._lock:
            self.cache_hits += 1

    def fell_back(self, purpose: str, reason: str) -> None:
        """A request got the deterministic text; ``reason`` is kept (first line, cut)."""
        with self._lock:
            self.fallbacks[f"{purpose}: {reason.splitlines()[0][:200]}"] += 1

    def take(self) -> dict[str, Any]:
        """What was spent since the last ``take``, and start again (a new run's budget)."""
        with self._lock:
            out = {
                "calls": self.calls,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cache_hits": self.cache_hits,
                "fallbacks": sum(self.fallbacks.values()),
                "fallback_reasons": dict(self.fallbacks.most_common(20)),
            }
            self.calls = self.prompt_tokens = self.completion_tokens = self.cache_hits = 0
            self.fallbacks = Counter()
            return out

    def idle(self) -> bool:
        """Nothing asked since the last ``take``."""
        with self._lock:
            return not (self.calls or self.cache_hits or self.fallbacks)
