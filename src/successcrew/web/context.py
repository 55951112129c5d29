"""What every endpoint has at hand: settings, the engine, the clocks, the loaded definitions.

The clocks are the one injectable place time comes from: ``clock`` stamps what is recorded
(the demo runs it on simulated days), ``wall_clock`` bounds signature windows, which the
providers sign in real time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from successcrew.clock import utcnow
from successcrew.definitions.escalation_policy import EscalationPolicy
from successcrew.definitions.product_events import ProductEvents
from successcrew.settings import Settings

log = logging.getLogger("successcrew.web")


@dataclass
class WebContext:
    """Loaded once per process (per uvicorn worker)."""

    settings: Settings
    engine: Engine
    policy: EscalationPolicy
    product_events: ProductEvents
    clock: Callable[[], datetime] = utcnow
    wall_clock: Callable[[], float] = time.time
    _refusals_logged: set[str] = field(default_factory=set, repr=False)

    def wall_now(self) -> datetime:
        """The real time now (UTC): sessions and sign-in limits live in it, as cookies do."""
        return datetime.fromtimestamp(self.wall_clock(), UTC)

    def secret(self, name: str) -> str | None:
        """The value of a ``SecretStr`` setting, or None when unset."""
        value = getattr(self.settings, name)
        return value.get_secret_value() if value is not None else None

    def refuse_unconfigured(self, endpoint: str, env_var: str) -> None:
        """Say once in the log why ``endpoint`` refuses everything (its secret is not set)."""
        if endpoint not in self._refusals_logged:
            self._refusals_logged.add(endpoint)
            log.warning(
                "%s refuses every request: %s is not set, so nothing it receives can be "
                "verified. Set it and restart `successcrew serve`.",
                endpoint,
                env_var,
            )
