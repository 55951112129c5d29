"""Pause flags: automation, campaigns, surveys, manual scoring and per-component pauses.

Every sender asks ``is_paused`` right before it sends; rollback rules and ``successcrew
pause/resume`` set and clear flags, each change recorded in the audit log with its reason.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from successcrew.store import audit
from successcrew.store.models import PauseFlag

#: Scopes a person can pause by hand. ``automation`` stops every outbound effect.
MANUAL_SCOPES = ("automation", "campaigns", "surveys")


def set_paused(
    session: Session, scope: str, *, paused: bool, reason: str, actor: str, now: datetime
) -> bool:
    """Set or clear ``scope``; returns True when the flag changed. Audited either way it changes."""
    flag = session.get(PauseFlag, scope)
    if flag is not None and flag.paused == paused:
        return False
    if flag is None:
        flag = PauseFlag(scope=scope, paused=paused, reason=reason, set_by=actor, set_at=now)
        session.add(flag)
    else:
        flag.paused, flag.reason, flag.set_by, flag.set_at = paused, reason, actor, now
    audit.record(
        session,
        at=now,
        actor=actor,
        action="pause" if paused else "resume",
        subject=scope,
        detail={"reason": reason},
    )
    session.flush()
    return True


def paused_scopes(session: Session) -> dict[str, PauseFlag]:
    """All scopes that are paused now, by scope."""
    rows = session.scalars(select(PauseFlag).where(PauseFlag.paused.is_(True)))
    return {row.scope: row for row in rows}


def is_paused(session: Session, *scopes: str) -> PauseFlag | None:
    """The first paused flag among ``automation`` and ``scopes``, or None when sending may go on."""
    wanted = ("automation", *scopes)
    flags = paused_scopes(session)
    for scope in wanted:
        if scope in flags:
            return flags[scope]
    return None
