"""Dashboard sessions and failed sign-ins, as rows every ``serve`` worker reads: the session a
cookie names (live, or revoked), and the failures per e-mail and per client address in a window.
Decides nothing: services.platform.sign_in says what the rows mean."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from successcrew.store.dialect import rowcount
from successcrew.store.models import DashboardSession, LoginFailure, User


def add_session(
    session: Session,
    *,
    sid_hash: str,
    user_id: int,
    method: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Record a new sign-in."""
    session.execute(
        insert(DashboardSession).values(
            sid_hash=sid_hash,
            user_id=user_id,
            method=method,
            created_at=now,
            expires_at=expires_at,
        )
    )


def live_session_user(session: Session, sid_hash: str, *, now: datetime) -> User | None:
    """The active user of the session ``sid_hash`` when it is neither revoked nor expired."""
    return session.execute(
        select(User)
        .join(DashboardSession, DashboardSession.user_id == User.id)
        .where(
            DashboardSession.sid_hash == sid_hash,
            DashboardSession.revoked_at.is_(None),
            DashboardSession.expires_at > now,
            User.active.is_(True),
        )
    ).scalar_one_or_none()


def revoke_sessions(
    session: Session,
    *,
    now: datetime,
    why: str,
    sid_hash: str | None = None,
    user_id: int | None = None,
) -> int:
    """End the session ``sid_hash``, or every live session of ``user_id``; how many ended."""
    if (sid_hash is None) == (user_id is None):
        raise ValueError("revoke one session (sid_hash) or one user's (user_id)")
    which = (
        DashboardSession.sid_hash == sid_hash
        if sid_hash is not None
        else DashboardSession.user_id == user_id
    )
    result = session.execute(
        update(DashboardSession)
        .where(which, DashboardSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_why=why)
    )
    return rowcount(result)


def purge_sessions(session: Session, *, before: datetime) -> None:
    """Forget sessions that expired before ``before`` (a revoked one is kept until then too)."""
    session.execute(delete(DashboardSession).where(DashboardSession.expires_at < before))


def add_failures(session: Session, keys: Sequence[tuple[str, str]], *, now: datetime) -> list[int]:
    """Record one failure (or one attempt being checked) per (scope, key hash); their ids."""
    return [
        int(
            session.execute(
                insert(LoginFailure)
                .values(scope=scope, key_hash=key, failed_at=now)
                .returning(LoginFailure.id)
            ).scalar_one()
        )
        for scope, key in keys
    ]


def failures_since(
    session: Session, scope: str, key_hash: str, *, since: datetime, leave_out: Sequence[int] = ()
) -> list[datetime]:
    """When ``key_hash`` failed after ``since``, oldest first (``leave_out``: these rows)."""
    query = (
        select(LoginFailure.failed_at)
        .where(
            LoginFailure.scope == scope,
            LoginFailure.key_hash == key_hash,
            LoginFailure.failed_at > since,
        )
        .order_by(LoginFailure.failed_at)
    )
    if leave_out:
        query = query.where(LoginFailure.id.not_in(list(leave_out)))
    return list(session.scalars(query))


def delete_failures(session: Session, ids: Sequence[int]) -> None:
    """Remove these rows (an attempt that succeeded, or one refused before it was checked)."""
    if ids:
        session.execute(delete(LoginFailure).where(LoginFailure.id.in_(list(ids))))


def purge_failures(session: Session, *, before: datetime) -> None:
    """Forget failures older than any window reads."""
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < before))
