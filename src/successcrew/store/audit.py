"""The append-only audit log: every action the crew or a person takes leaves a row here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select
from sqlalchemy.orm import Session

from successcrew.store.models import AuditLog


def record(
    session: Session | Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry inside the caller's transaction (so it commits or rolls back with it)."""
    session.execute(
        insert(AuditLog).values(at=at, actor=actor, action=action, subject=subject, detail=detail)
    )


def list_entries(
    session: Session | Connection,
    *,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Audit entries newest first (for ``successcrew audit``): ``action`` matches a whole action
    (``escalation.decide``) or a family (``escalation``); one query, ``limit`` rows at most."""
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)
    if action is not None:
        query = query.where(
            or_(
                AuditLog.action == action, AuditLog.action.startswith(action + ".", autoescape=True)
            )
        )
    if since is not None:
        query = query.where(AuditLog.at >= since)
    return [
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "actor": row.actor,
            "action": row.action,
            "subject": row.subject,
            "detail": row.detail,
        }
        for row in session.execute(query).scalars()
    ]
