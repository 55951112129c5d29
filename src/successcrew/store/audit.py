"""The append-only audit log: every action the crew or a person takes leaves a row here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert
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
