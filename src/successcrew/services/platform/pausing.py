"""Pausing and resuming by hand: a person adds their own hold, and lifts their own or a named
rule's, and is told which holds remain (``successcrew pause/resume``, ``programs pause/resume``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from successcrew.errors import InputError
from successcrew.store import pauses
from successcrew.store.pauses import Hold


@dataclass
class PauseChange:
    """What one pause or resume did, and the holds left on the scope afterwards."""

    scope: str
    action: str  # "pause" or "resume"
    changed: bool
    held_by: str  # whose hold was added or lifted (a person, or the rule named by --rule)
    kind: str  # "person" or "rule"
    by: str  # who asked
    reason: str
    remaining: list[Hold] = field(default_factory=list)

    @property
    def paused(self) -> bool:
        """Whether the scope is still paused (any hold open)."""
        return bool(self.remaining)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "scope": self.scope,
            "action": self.action,
            "changed": self.changed,
            "held_by": self.held_by,
            "kind": self.kind,
            "by": self.by,
            "reason": self.reason,
            "paused": self.paused,
            "holds": [h.as_dict() for h in self.remaining],
        }


def _reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise InputError("--reason is required: say why, it goes into the audit log")
    return reason.strip()


def pause(
    session: Session, scope: str, *, by: str, reason: str | None, now: datetime
) -> PauseChange:
    """Add ``by``'s hold on ``scope`` (beside any other person's or rule's hold)."""
    why = _reason(reason)
    added = pauses.hold(session, scope, by=by, kind="person", reason=why, now=now)
    return PauseChange(
        scope, "pause", added, by, "person", by, why, pauses.open_holds(session, scope)
    )


def resume(
    session: Session,
    scope: str,
    *,
    by: str,
    rule: str | None,
    reason: str | None,
    now: datetime,
) -> PauseChange:
    """Lift ``by``'s own hold on ``scope``, or with ``rule`` that rule's hold; every other hold
    stays. A rule that holds and never held the scope is an InputError naming the holders."""
    why = _reason(reason)
    held_by, kind = (rule, "rule") if rule else (by, "person")
    lifted = pauses.lift(session, scope, held_by=held_by, kind=kind, by=by, reason=why, now=now)
    remaining = pauses.open_holds(session, scope)
    if rule and not lifted and not pauses.has_held(session, scope, rule, "rule"):
        rules = [h.held_by for h in remaining if h.kind == "rule"]
        raise InputError(
            f"--rule {rule}: no rule of that name holds {scope}; "
            + (f"rules holding it now: {', '.join(rules)}" if rules else "no rule holds it now")
        )
    return PauseChange(scope, "resume", lifted, held_by, kind, by, why, remaining)
