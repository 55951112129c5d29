"""Trigger definitions and events in SQL: sync, set-based candidates, event and outbox writes.

Every query here is over all accounts at once; nothing loops over accounts issuing a query each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from successcrew.definitions.trigger_specs import COMPARATORS, TriggerSpec
from successcrew.domain.explanations import SnapshotView, explain_change
from successcrew.domain.trigger_rules import OpenEvent
from successcrew.store import audit
from successcrew.store.account_list import in_book
from successcrew.store.models import (
    Account,
    AccountSource,
    Escalation,
    HealthSnapshot,
    TriggerDefinition,
    TriggerEvent,
)
from successcrew.store.snapshots import snapshot_view

#: Chunk size for ``IN (...)`` lists: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 1000


# --- definitions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    """What the sync did to one definition: ``created``, ``updated`` or ``unchanged``."""

    code: str
    action: str
    version: int


def sync_definitions(
    session: Session, specs: Sequence[TriggerSpec], now: datetime
) -> list[SyncResult]:
    """Insert new definitions and update those whose YAML changed (version + 1).

    A definition whose YAML checksum matches the stored one is left exactly as it is, including
    ``enabled`` and ``threshold`` an operator may have changed in the database during an incident:
    their edit stands until someone changes the YAML file itself, which then wins (and is audited).
    """
    existing = {d.code: d for d in session.scalars(select(TriggerDefinition))}
    results = []
    for spec in specs:
        checksum = spec.checksum()
        values = {
            "title": spec.title,
            "scope": spec.scope,
            "metric": spec.metric,
            "comparator": spec.comparator,
            "threshold": str(spec.threshold),
            "window_days": spec.window_days,
            "cooldown_hours": spec.cooldown_hours,
            "severity": spec.severity,
            "enabled": spec.enabled,
            "actions": list(spec.actions),
            "definition": spec.model_dump(mode="json"),
            "checksum": checksum,
            "updated_at": now,
        }
        row = existing.get(spec.code)
        if row is None:
            session.add(TriggerDefinition(code=spec.code, version=1, **values))
            results.append(SyncResult(spec.code, "created", 1))
            continue
        if row.checksum == checksum:
            results.append(SyncResult(spec.code, "unchanged", row.version))
            continue
        # Audited because it may replace what an operator set in the database by hand.
        overwritten = {
            name: getattr(row, name)
            for name in ("enabled", "threshold", "window_days", "cooldown_hours")
            if getattr(row, name) != values[name]
        }
        for name, value in values.items():
            setattr(row, name, value)
        row.version += 1
        results.append(SyncResult(spec.code, "updated", row.version))
        audit.record(
            session,
            at=now,
            actor="init",
            action="trigger_definition_synced",
            subject=spec.code,
            detail={"result": "updated", "version": row.version, "replaced": overwritten},
        )
    session.flush()
    return results


def stored_checksums(session: Session) -> dict[str, str]:
    """The YAML checksum each stored definition was synced from, by code."""
    rows = session.execute(select(TriggerDefinition.code, TriggerDefinition.checksum))
    return {code: checksum for code, checksum in rows}


def load_definitions(session: Session) -> list[TriggerDefinition]:
    """Every stored definition, by code (evaluation skips the disabled ones itself)."""
    return list(session.scalars(select(TriggerDefinition).order_by(TriggerDefinition.code)))


def lock_evaluation(session: Session) -> None:
    """Serialise evaluations on PostgreSQL for the rest of the transaction, so two runs racing
    cannot both open an event for the same episode. SQLite serialises writers by itself."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('successcrew.triggers'))"))


# --- events ------------------------------------------------------------------------------------


def open_events(session: Session, code: str) -> dict[str, OpenEvent]:
    """The open events of ``code``, by subject."""
    rows = session.execute(
        select(TriggerEvent.id, TriggerEvent.subject, TriggerEvent.fired_at).where(
            TriggerEvent.code == code, TriggerEvent.status == "open"
        )
    )
    return {r.subject: OpenEvent(r.id, r.subject, r.fired_at) for r in rows}


def close_events(session: Session, ids: Sequence[int], *, status: str, now: datetime) -> None:
    """Mark events ``resolved`` (condition cleared) or ``expired`` (cooldown passed)."""
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(TriggerEvent)
            .where(TriggerEvent.id.in_(ids[start : start + CHUNK]), TriggerEvent.status == "open")
            .values(status=status, resolved_at=now)
            .execution_options(synchronize_session=False)
        )


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert events in one multi-row statement; returns their ids in the order given."""
    if not rows:
        return []
    table = TriggerEvent.__table__
    result = session.connection().execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [r[0] for r in result]


def add_escalation(
    session: Session,
    *,
    kind: str,
    title: str,
    context: dict[str, Any],
    now: datetime,
    trigger_event_id: int | None = None,
    account_id: int | None = None,
) -> int:
    """An open escalation for the chairman; returns its id."""
    row = Escalation(
        kind=kind,
        account_id=account_id,
        trigger_event_id=trigger_event_id,
        title=title,
        context=context,
        status="open",
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def list_events(
    session: Session, since: datetime | None, limit: int = 500, *, owner: str | None = None
) -> list[dict[str, Any]]:
    """Events newest first (fired at or after ``since``), with the account name where any
    (``owner``: only events about that CSM's accounts, and the company's)."""
    query = (
        select(TriggerEvent, Account.name, TriggerDefinition.metric)
        .outerjoin(Account, Account.id == TriggerEvent.account_id)
        .outerjoin(TriggerDefinition, TriggerDefinition.code == TriggerEvent.code)
        .where(in_book(TriggerEvent.account_id, owner))
        .order_by(TriggerEvent.fired_at.desc(), TriggerEvent.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(TriggerEvent.fired_at >= since)
    return [
        {
            "id": e.id,
            "code": e.code,
            "metric": metric,
            "subject": e.subject,
            "account": name,
            "status": e.status,
            "value": e.value,
            "threshold": e.threshold,
            "definition_version": e.definition_version,
            "fired_at": e.fired_at.isoformat(),
            "resolved_at": e.resolved_at.isoformat() if e.resolved_at else None,
            "evidence": e.evidence,
        }
        for e, name, metric in session.execute(query)
    ]


# --- RETENTION-001: account health -------------------------------------------------------------


@dataclass(frozen=True)
class HealthCandidate:
    """An account whose latest score is under the threshold or fell too far in the window."""

    account_id: int
    name: str
    score: float
    peak: float | None
    arr: float | None
    owner_email: str | None
    crm_provider: str | None
    crm_source_id: str | None


def latest_scoring_date(session: Session, on_or_before: date) -> date | None:
    """The most recent day with snapshots, on or before ``on_or_before``."""
    return session.scalar(
        select(func.max(HealthSnapshot.as_of)).where(HealthSnapshot.as_of <= on_or_before)
    )


@dataclass(frozen=True)
class ScoreFreshness:
    """How many of a date's snapshots are fresh, and which accounts' are carried forward."""

    fresh: int
    stale_accounts: frozenset[int]


def score_freshness(session: Session, as_of: date, code: str) -> ScoreFreshness:
    """Fresh snapshots on ``as_of``, and the accounts with an open ``code`` event whose snapshot
    on ``as_of`` is a carried-forward (stale) one: those cannot be judged, so stay open."""
    h = HealthSnapshot
    fresh = session.scalar(select(func.count()).where(h.as_of == as_of, h.stale.is_(False)))
    stale = session.scalars(
        select(h.account_id)
        .join(
            TriggerEvent,
            and_(TriggerEvent.account_id == h.account_id, TriggerEvent.status == "open"),
        )
        .where(h.as_of == as_of, h.stale.is_(True), TriggerEvent.code == code)
    )
    return ScoreFreshness(int(fresh or 0), frozenset(stale))


def health_candidates(
    session: Session,
    as_of: date,
    *,
    comparator: str,
    threshold: float,
    drop_points: float | None,
    window_days: int | None,
    crm_sources: Sequence[str],
) -> list[HealthCandidate]:
    """Accounts with a fresh score on ``as_of`` that compares true against ``threshold``, or that
    is more than ``drop_points`` below their highest comparable score of the ``window_days``
    before. ``crm_sources`` names the CRMs in order of preference, for the account's CRM link.

    Comparable: fresh (not carried forward), scored by the same model version and with the same
    components left out for stale inputs. A model change or a stale input moves scores without
    the customer doing anything, so the drop rule only compares like with like; after a model
    change it has nothing to compare with until the new model has scored a few days.

    One query: the window's peaks are one grouped scan, joined to that day's snapshots.
    """
    cur = aliased(HealthSnapshot)
    condition = COMPARATORS[comparator](cur.score, threshold)
    peak_col: Any = None
    if drop_points is not None and window_days:
        past = aliased(HealthSnapshot)
        now_ = aliased(HealthSnapshot)
        peaks = (
            select(past.account_id.label("account_id"), func.max(past.score).label("peak"))
            .join(now_, and_(now_.account_id == past.account_id, now_.as_of == as_of))
            .where(
                past.as_of >= as_of - timedelta(days=window_days),
                past.as_of < as_of,
                past.stale.is_(False),
                past.model_version == now_.model_version,
                func.coalesce(past.stale_key, "") == func.coalesce(now_.stale_key, ""),
            )
            .group_by(past.account_id)
            .subquery("peaks")
        )
        peak_col = peaks.c.peak
        condition = or_(condition, peaks.c.peak - cur.score > drop_points)
    crm = (
        select(AccountSource.account_id, AccountSource.source, AccountSource.source_id)
        .where(AccountSource.source.in_(crm_sources))
        .subquery("crm")
    )
    query_from: Select = (
        select(
            cur.account_id,
            Account.name,
            cur.score,
            peak_col if peak_col is not None else cur.score.label("peak"),
            Account.arr,
            Account.owner_email,
            crm.c.source,
            crm.c.source_id,
        )
        .join(Account, Account.id == cur.account_id)
        .outerjoin(crm, crm.c.account_id == cur.account_id)
    )
    if peak_col is not None:
        query_from = query_from.outerjoin(peaks, peaks.c.account_id == cur.account_id)
    query = query_from.where(cur.as_of == as_of, cur.stale.is_(False), condition)
    found: dict[int, HealthCandidate] = {}
    preference = {p: i for i, p in enumerate(crm_sources)}
    for r in session.execute(query):
        known = found.get(r[0])
        # Several CRM links: take the first in crm_sources order, so the choice is stable.
        if known is not None and (
            r[6] is None
            or (
                known.crm_provider is not None
                and preference[known.crm_provider] <= preference[r[6]]
            )
        ):
            continue
        found[r[0]] = HealthCandidate(
            account_id=r[0],
            name=r[1],
            score=float(r[2]),
            peak=None if peak_col is None or r[3] is None else float(r[3]),
            arr=None if r[4] is None else float(r[4]),
            owner_email=r[5],
            crm_provider=r[6],
            crm_source_id=r[7],
        )
    return [found[k] for k in sorted(found)]


def explanations(session: Session, account_ids: Sequence[int], as_of: date) -> dict[int, Any]:
    """The score explanation (health's ``explain_change``) for each account, as JSON-ready dicts.

    The latest two snapshots on or before ``as_of`` per account come from one ranked query per
    chunk of accounts.
    """
    out: dict[int, Any] = {}
    for start in range(0, len(account_ids), CHUNK):
        chunk = list(account_ids[start : start + CHUNK])
        ranked = (
            select(
                HealthSnapshot,
                func.row_number()
                .over(partition_by=HealthSnapshot.account_id, order_by=HealthSnapshot.as_of.desc())
                .label("rank"),
            )
            .where(HealthSnapshot.account_id.in_(chunk), HealthSnapshot.as_of <= as_of)
            .subquery()
        )
        snap = aliased(HealthSnapshot, ranked)
        views: dict[int, list[SnapshotView]] = {}
        for row in session.scalars(
            select(snap).where(ranked.c.rank <= 2).order_by(snap.account_id, snap.as_of.desc())
        ):
            views.setdefault(row.account_id, []).append(snapshot_view(row))
        for account_id, pair in views.items():
            explanation = explain_change(pair[0], pair[1] if len(pair) > 1 else None)
            out[account_id] = {
                "summary": explanation.summary(),
                "previous_as_of": (
                    explanation.previous_as_of.isoformat() if explanation.previous_as_of else None
                ),
                "delta_points": explanation.delta_points,
                "movers": [
                    {"component": m.component, "delta_points": m.delta_points, "text": m.text}
                    for m in explanation.movers
                ],
                "notes": list(explanation.notes),
                "model_change": (
                    list(explanation.model_change) if explanation.model_change else None
                ),
            }
    return out


# --- system health -----------------------------------------------------------------------------
