"""Pause holds: automation, campaigns, surveys, manual scoring and per-component pauses.

A pause is owned. Each hold on a scope names who set it (a person) or which rule did, and why;
a scope is paused while any of its holds is open. A person pausing a scope a rule already paused
adds a second hold, and each lifts only its own (a person may lift a rule's hold by naming the
rule), so a resume can never silently lift a pause set for another reason.

Every sender asks ``is_paused`` right before it sends; every hold and lift is recorded in the
audit log with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from successcrew.store import audit
from successcrew.store.dialect import insert_ignore, rowcount
from successcrew.store.models import PauseHold

#: Scopes a person can pause by hand. ``automation`` stops every outbound effect.
MANUAL_SCOPES = ("automation", "campaigns", "surveys")

Kind = Literal["person", "rule"]


@dataclass(frozen=True)
class Hold:
    """One open hold on a scope."""

    scope: str
    held_by: str
    kind: str
    reason: str
    set_at: datetime

    @property
    def holder(self) -> str:
        """``rule nps_drop`` or the person's name, as a reader wants it."""
        return f"rule {self.held_by}" if self.kind == "rule" else self.held_by

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {
            "scope": self.scope,
            "by": self.held_by,
            "kind": self.kind,
            "reason": self.reason,
            "since": self.set_at.isoformat(),
        }


@dataclass(frozen=True)
class Pause:
    """A paused scope and every open hold on it, oldest first."""

    scope: str
    holds: tuple[Hold, ...]

    @property
    def reason(self) -> str:
        """The holds' reasons, oldest first (what a held message's ``last_error`` says)."""
        return "; ".join(dict.fromkeys(h.reason for h in self.holds if h.reason))

    @property
    def set_by(self) -> str:
        """Who holds it: ``rule nps_drop, kim``."""
        return ", ".join(h.holder for h in self.holds)


def _holds(session: Session, *scopes: str) -> list[Hold]:
    query = select(PauseHold).where(PauseHold.lifted_at.is_(None))
    if scopes:
        query = query.where(PauseHold.scope.in_(scopes))
    rows = session.scalars(query.order_by(PauseHold.scope, PauseHold.set_at, PauseHold.id))
    return [Hold(r.scope, r.held_by, r.kind, r.reason, r.set_at) for r in rows]


def open_holds(session: Session, scope: str) -> list[Hold]:
    """The open holds on ``scope``, oldest first (empty: the scope runs)."""
    return _holds(session, scope)


def hold(session: Session, scope: str, *, by: str, kind: Kind, reason: str, now: datetime) -> bool:
    """Add ``by``'s hold on ``scope``; False (nothing written) when ``by`` holds it already."""
    table = PauseHold.__table__
    row = {"scope": scope, "held_by": by, "kind": kind, "reason": reason, "set_at": now}
    # The partial unique index on open holds makes a concurrent second hold a no-op.
    added = session.execute(
        insert_ignore(session.connection(), table).values(row).returning(table.c.id)
    ).first()
    if added is None:
        return False
    audit.record(
        session,
        at=now,
        actor=by,
        action="pause",
        subject=scope,
        detail={"reason": reason, "hold": kind},
    )
    return True


def lift(
    session: Session,
    scope: str,
    *,
    held_by: str,
    kind: Kind,
    by: str,
    reason: str,
    now: datetime,
) -> bool:
    """Lift ``held_by``'s open hold on ``scope`` (``by`` is who lifts it: the holder, or a person
    lifting a rule's hold); False when there was none. Other holds stay."""
    H = PauseHold
    lifted = rowcount(
        session.execute(
            update(H)
            .where(H.scope == scope, H.held_by == held_by, H.kind == kind, H.lifted_at.is_(None))
            .values(lifted_at=now, lifted_by=by, lift_reason=reason)
            .execution_options(synchronize_session=False)
        )
    )
    if not lifted:
        return False
    detail = {"reason": reason, "hold": kind, "held_by": held_by}
    audit.record(session, at=now, actor=by, action="resume", subject=scope, detail=detail)
    return True


@dataclass(frozen=True)
class RuleHold:
    """A rule's newest hold on a scope: open, or lifted at ``changed_at``; None if it never held."""

    open: bool
    changed_at: datetime


def rule_hold(session: Session, scope: str, rule: str) -> RuleHold | None:
    """The newest hold ``rule`` set on ``scope`` (for honouring a person's resume)."""
    H = PauseHold
    row = session.execute(
        select(H.set_at, H.lifted_at)
        .where(H.scope == scope, H.held_by == rule, H.kind == "rule")
        .order_by(H.set_at.desc(), H.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    set_at, lifted_at = row
    return RuleHold(open=lifted_at is None, changed_at=lifted_at or set_at)


def has_held(session: Session, scope: str, held_by: str, kind: Kind) -> bool:
    """Whether ``held_by`` ever held ``scope`` (tells a lifted hold from a mistyped name)."""
    H = PauseHold
    found = session.execute(
        select(H.id).where(H.scope == scope, H.held_by == held_by, H.kind == kind).limit(1)
    ).first()
    return found is not None


def paused_scopes(session: Session) -> dict[str, Pause]:
    """Every scope that is paused now, by scope, with its holds."""
    by_scope: dict[str, list[Hold]] = {}
    for h in _holds(session):
        by_scope.setdefault(h.scope, []).append(h)
    return {scope: Pause(scope, tuple(holds)) for scope, holds in by_scope.items()}


def is_paused(session: Session, *scopes: str) -> Pause | None:
    """The first paused scope among ``automation`` and ``scopes``; None when sending may go on."""
    wanted = ("automation", *scopes)
    holds = _holds(session, *wanted)
    for scope in wanted:
        mine = tuple(h for h in holds if h.scope == scope)
        if mine:
            return Pause(scope, mine)
    return None
