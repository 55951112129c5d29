"""Reading health snapshots (one account, one date, a band), explaining a score change, manual
score overrides with their audit entries, and deleting a date's snapshots (audited)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from successcrew.clock import start_of_day
from successcrew.domain.explanations import Explanation, SnapshotView, explain_change
from successcrew.store import audit
from successcrew.store.dialect import rowcount
from successcrew.store.models import (
    Account,
    AuditLog,
    HealthSnapshot,
    ScoreOverride,
)

#: The audit action a scoring run records a health-model version change under.
MODEL_CHANGED = "health_model_changed"


def snapshot_view(row: HealthSnapshot) -> SnapshotView:
    """The stored snapshot as the explanation code reads it (components put back together)."""
    return SnapshotView(
        account_id=row.account_id,
        as_of=row.as_of,
        score=row.score,
        computed_score=row.computed_score,
        band=row.band,
        components=dict(row.components or {}),
        missing_components=list(row.missing_components or []),
        model_version=row.model_version,
        override_id=row.override_id,
        stale=bool(row.stale),
        stale_components=row.stale_components,
    )


def snapshot_pair(
    session: Session, account_id: int, as_of: date
) -> tuple[SnapshotView | None, SnapshotView | None]:
    """The account's latest snapshot on or before ``as_of`` and the one before that."""
    rows = session.scalars(
        select(HealthSnapshot)
        .where(HealthSnapshot.account_id == account_id, HealthSnapshot.as_of <= as_of)
        .order_by(HealthSnapshot.as_of.desc())
        .limit(2)
    ).all()
    current = snapshot_view(rows[0]) if rows else None
    previous = snapshot_view(rows[1]) if len(rows) > 1 else None
    return current, previous


def snapshot_of(session: Session, account_id: int, as_of: date) -> HealthSnapshot | None:
    """The account's snapshot for exactly ``as_of``."""
    return session.scalar(
        select(HealthSnapshot).where(
            HealthSnapshot.account_id == account_id, HealthSnapshot.as_of == as_of
        )
    )


def explain(session: Session, account_id: int, as_of: date) -> Explanation | None:
    """What moved the account's score up to ``as_of`` (None when it has no snapshot yet)."""
    current, previous = snapshot_pair(session, account_id, as_of)
    if current is None:
        return None
    return explain_change(current, previous)


def previous_model_version(session: Session, as_of: date) -> tuple[date, str] | None:
    """The latest date before ``as_of`` with fresh scores, and a model version that scored it.

    A default-model version (no ``+segment``) when there is one; two probes of the
    ``(as_of, band)`` index, not a pass over the date's snapshots.
    """
    h = HealthSnapshot
    previous = session.scalar(select(func.max(h.as_of)).where(h.as_of < as_of, h.stale.is_(False)))
    if previous is None:
        return None
    on_date = select(h.model_version).where(h.as_of == previous, h.stale.is_(False)).limit(1)
    version = session.scalar(on_date.where(~h.model_version.contains("+"))) or session.scalar(
        on_date
    )
    return (previous, version) if version is not None else None


def model_changes(session: Session, since: date, until: date) -> list[dict[str, Any]]:
    """Model changes recorded by scoring runs for dates after ``since`` up to ``until``, oldest
    first (each the audit entry's detail: as_of, from_version, to_version, band changes)."""
    details = session.scalars(
        select(AuditLog.detail)
        .where(AuditLog.action == MODEL_CHANGED, AuditLog.at >= start_of_day(since))
        .order_by(AuditLog.id)
    )
    low, high = since.isoformat(), until.isoformat()
    return [d for d in details if d and low < str(d.get("as_of", "")) <= high]


def delete_snapshots(session: Session, as_of: date, *, actor: str, now: datetime) -> int:
    """Delete every snapshot of ``as_of``; audited when anything went. Returns how many."""
    deleted = rowcount(
        session.execute(
            delete(HealthSnapshot)
            .where(HealthSnapshot.as_of == as_of)
            .execution_options(synchronize_session=False)
        )
    )
    if deleted:
        audit.record(
            session,
            at=now,
            actor=actor,
            action="health_snapshots_deleted",
            subject=as_of.isoformat(),
            detail={"as_of": as_of.isoformat(), "deleted": deleted},
        )
    return deleted


def latest_as_of(session: Session, on_or_before: date | None = None) -> date | None:
    """The most recent scoring date (on or before ``on_or_before`` when given)."""
    query = select(func.max(HealthSnapshot.as_of))
    if on_or_before is not None:
        query = query.where(HealthSnapshot.as_of <= on_or_before)
    return session.scalar(query)


def list_snapshots(
    session: Session, as_of: date, band: str | None = None
) -> list[tuple[Account, HealthSnapshot]]:
    """Snapshots of ``as_of`` with their accounts, lowest score first."""
    query = (
        select(Account, HealthSnapshot)
        .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
        .where(HealthSnapshot.as_of == as_of)
        .order_by(HealthSnapshot.score, Account.external_id)
    )
    if band is not None:
        query = query.where(HealthSnapshot.band == band)
    return [(a, s) for a, s in session.execute(query)]


def set_override(
    session: Session,
    account: Account,
    *,
    score: float,
    reason: str,
    author: str,
    expires_at: datetime | None,
    now: datetime,
) -> ScoreOverride:
    """Record a manual score (audited); it applies from the next scoring run on."""
    override = ScoreOverride(
        account_id=account.id,
        score=score,
        reason=reason,
        author=author,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(override)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=author,
        action="health_override_set",
        subject=account.external_id,
        detail={
            "override_id": override.id,
            "score": score,
            "reason": reason,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return override


def clear_overrides(session: Session, account: Account, *, author: str, now: datetime) -> int:
    """Revoke the account's overrides still in force (audited); returns how many."""
    rows = session.scalars(
        select(ScoreOverride).where(
            ScoreOverride.account_id == account.id,
            ScoreOverride.revoked_at.is_(None),
            or_(ScoreOverride.expires_at.is_(None), ScoreOverride.expires_at > now),
        )
    ).all()
    for row in rows:
        row.revoked_at = now
    if rows:
        audit.record(
            session,
            at=now,
            actor=author,
            action="health_override_cleared",
            subject=account.external_id,
            detail={"override_ids": [r.id for r in rows]},
        )
    session.flush()
    return len(rows)


def account_by_external_id(session: Session, external_id: str) -> Account | None:
    """The account with this external id."""
    return session.scalar(select(Account).where(Account.external_id == external_id))
