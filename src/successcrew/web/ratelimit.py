"""Per-client rate limits for the public endpoints a browser calls (the in-app survey API).

A token bucket per client key in this process; with several workers each keeps its own, so
the effective limit is per worker (a reverse proxy can add a shared one, see docs/web.md).
The table is bounded: the least recently seen clients are forgotten first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """``allow(key)`` is True while ``key`` has made at most ``per_minute`` recent requests."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float], max_clients: int = 10_000):
        self.rate = per_minute / 60.0
        self.burst = float(max(per_minute, 1))
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, key: str) -> tuple[bool, float]:
        """Whether ``allow(key)`` would pass now, without spending anything."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0 if tokens >= 1.0 or self.rate <= 0 else (1.0 - tokens) / self.rate
        return tokens >= 1.0, wait

    def allow(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds until the next request would be allowed)."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        wait = 0.0 if allowed or self.rate <= 0 else (1.0 - tokens) / self.rate
        return allowed, wait
