"""Read-only questions over the book, for a model's tools and ``successcrew ask``.

Every function reads and returns JSON-ready figures; none writes, and ``read_only`` makes the
connection refuse writes at the database, so a tool cannot change anything whatever it is asked.
No e-mail addresses or phone numbers are returned (owners are left out); customer comments are
returned apart, marked as customer-written, for the caller to fence as untrusted data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any, NotRequired, TypedDict

from sqlalchemy import Engine, and_, func, select, text
from sqlalchemy.orm import Session, aliased

from successcrew.services.model import assistant as seat
from successcrew.services.views.portfolio import (
    AtRiskAccount,
    BandFigures,
    TrendAnalysis,
    analyse_trends,
    dashboard_data,
)
from successcrew.store.db import read_only_engine
from successcrew.store.metric_queries import nps_by_segment, nps_figures
from successcrew.store.models import (
    Account,
    HealthSnapshot,
    TriggerDefinition,
    TriggerEvent,
)
from successcrew.store.portfolio_queries import previous_as_of
from successcrew.store.snapshots import latest_as_of

#: The most rows one lookup returns (a model's context is not a report).
MAX_ROWS = 50


class PortfolioLookup(TypedDict):
    """Bands, the accounts most at risk, and the week's trend analysis."""

    scores: NotRequired[str]
    as_of: NotRequired[str]
    bands: NotRequired[dict[str, BandFigures]]
    top_at_risk: NotRequired[list[AtRiskAccount]]
    trends: TrendAnalysis


class AccountMatch(TypedDict):
    """An account ``find_accounts`` found: its figures and its change in points (None when
    there is no score to compare with)."""

    account_id: int
    external_id: str
    name: str
    segment: str | None
    plan: str | None
    arr: float | None
    renewal_date: str | None
    score: float
    band: str
    change_points: float | None


class AccountSearch(TypedDict):
    """The scoring date read (None before the first scores), the one compared with, and the
    accounts found."""

    as_of: str | None
    compared_with: NotRequired[str | None]
    accounts: list[AccountMatch]


class OpenEvent(TypedDict):
    """An open trigger event and the account it is about (None for a portfolio event)."""

    code: str
    title: str | None
    account_id: int | None
    account: str | None
    value: float | None
    threshold: float | None
    fired_at: str


class OpenEvents(TypedDict):
    """Open trigger events, newest first."""

    events: list[OpenEvent]


class EscalationBrief(TypedDict):
    """A chairman escalation in brief."""

    id: int
    kind: str
    status: str
    title: str
    account: str | None
    proposed: str | None
    created_at: str
    decided_at: str | None


class EscalationBriefs(TypedDict):
    """Chairman escalations, newest first."""

    escalations: list[EscalationBrief]


class NpsLookup(TypedDict):
    """NPS over the window, overall and per segment (``NpsFigures.as_dict``)."""

    window_days: int
    overall: dict[str, object]
    by_segment: list[dict[str, object]]


@contextmanager
def read_only(engine: Engine) -> Iterator[Session]:
    """A session whose connection refuses writes, rolled back at the end: on PostgreSQL a READ
    ONLY transaction, on SQLite a connection of ``store.db.read_only_engine`` (opened with
    ``query_only``, never returned to the pool the app writes through). Nothing is switched off
    again afterwards, so no exit path can leave a writing connection read-only."""
    with read_only_engine(engine).connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION READ ONLY"))
        try:
            with Session(bind=conn) as session:
                yield session
        finally:
            conn.rollback()


def portfolio(session: Session, today: date) -> PortfolioLookup:
    """Bands with accounts and ARR, the most at-risk by ARR, and movements over a week."""
    return {
        **dashboard_data(session, today),
        "trends": analyse_trends(session, today, window_days=7, movers=10),
    }


def find_accounts(
    session: Session,
    today: date,
    *,
    band: str | None = None,
    segment: str | None = None,
    renewing_within_days: int | None = None,
    worse_by_points: float | None = None,
    compare_days: int = 30,
    limit: int = 20,
) -> AccountSearch:
    """Active accounts on the latest scores, filtered, with the change over ``compare_days``
    (one query). ``worse_by_points``: only those whose score fell by at least that much."""
    current = latest_as_of(session, today)
    if current is None:
        return {"as_of": None, "accounts": []}
    previous = previous_as_of(session, current, at_least_days=max(1, compare_days))
    old = aliased(HealthSnapshot)
    query = (
        select(
            Account.id,
            Account.external_id,
            Account.name,
            Account.segment,
            Account.plan,
            Account.arr,
            Account.renewal_date,
            HealthSnapshot.score,
            HealthSnapshot.band,
            old.score.label("before"),
        )
        .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
        .outerjoin(old, and_(old.account_id == Account.id, old.as_of == previous))
        .where(HealthSnapshot.as_of == current, Account.churned_at.is_(None))
    )
    if band:
        query = query.where(HealthSnapshot.band == band)
    if segment:
        query = query.where(func.lower(Account.segment) == segment.lower())
    if renewing_within_days is not None:
        query = query.where(
            Account.renewal_date >= today,
            Account.renewal_date <= today + timedelta(days=renewing_within_days),
        )
    if worse_by_points is not None:
        query = query.where(old.score - HealthSnapshot.score >= worse_by_points)
    change = (HealthSnapshot.score - func.coalesce(old.score, HealthSnapshot.score)).label("chg")
    query = query.order_by(change, Account.arr.desc().nulls_last(), Account.id).limit(
        min(limit, MAX_ROWS)
    )
    rows = session.execute(query).all()
    return {
        "as_of": current.isoformat(),
        "compared_with": previous.isoformat() if previous else None,
        "accounts": [
            AccountMatch(
                account_id=r.id,
                external_id=r.external_id,
                name=r.name,
                segment=r.segment,
                plan=r.plan,
                arr=float(r.arr) if r.arr is not None else None,
                renewal_date=r.renewal_date.isoformat() if r.renewal_date else None,
                score=round(r.score, 1),
                band=r.band,
                change_points=round(r.score - r.before, 1) if r.before is not None else None,
            )
            for r in rows
        ],
    }


def account_detail(session: Session, account_id: int, today: date) -> dict[str, Any]:
    """One account's figures and the health engine's explanation (comments apart, untrusted).

    A plain mapping: the figures are the model seat's ``AccountFacts.figures``, whose keys
    follow the health model's components."""
    as_of = latest_as_of(session, today)
    if as_of is None:
        return {"account_id": account_id, "error": "no health scores yet"}
    facts = seat.account_facts(session, [account_id], as_of).get(account_id)
    if facts is None:
        return {"account_id": account_id, "error": f"no account with id {account_id}"}
    events = session.execute(
        select(TriggerEvent.code, TriggerEvent.value, TriggerEvent.threshold, TriggerEvent.fired_at)
        .where(TriggerEvent.account_id == account_id, TriggerEvent.status == "open")
        .order_by(TriggerEvent.id)
    ).all()
    return {
        "account_id": account_id,
        **facts.figures,
        "open_events": [
            {
                "code": e.code,
                "value": e.value,
                "threshold": e.threshold,
                "fired_at": str(e.fired_at),
            }
            for e in events
        ],
        "customer_comments": list(facts.comments),
    }


def open_events(session: Session, code: str | None = None, limit: int = 20) -> OpenEvents:
    """Open trigger events, newest first, with the account they are about."""
    query = (
        select(
            TriggerEvent.code,
            TriggerEvent.account_id,
            Account.name,
            TriggerEvent.value,
            TriggerEvent.threshold,
            TriggerEvent.fired_at,
            TriggerDefinition.title,
        )
        .outerjoin(Account, Account.id == TriggerEvent.account_id)
        .outerjoin(TriggerDefinition, TriggerDefinition.code == TriggerEvent.code)
        .where(TriggerEvent.status == "open")
        .order_by(TriggerEvent.id.desc())
        .limit(min(limit, MAX_ROWS))
    )
    if code:
        query = query.where(TriggerEvent.code == code)
    return {
        "events": [
            OpenEvent(
                code=r.code,
                title=r.title,
                account_id=r.account_id,
                account=r.name,
                value=r.value,
                threshold=r.threshold,
                fired_at=str(r.fired_at),
            )
            for r in session.execute(query)
        ]
    }


def escalation_list(session: Session, limit: int = 20) -> EscalationBriefs:
    """Chairman escalations, newest first (status, account, what is proposed)."""
    from successcrew.services.escalations.lifecycle import list_escalations

    rows = list_escalations(session.connection(), limit=min(limit, MAX_ROWS))
    return {
        "escalations": [
            EscalationBrief(
                id=r["id"],
                kind=r["kind"],
                status=r["status"],
                title=r["title"],
                account=r["account"],
                proposed=r["proposed"],
                created_at=r["created_at"],
                decided_at=r["decided_at"],
            )
            for r in rows
        ]
    }


def nps(session: Session, today: date, window_days: int = 90) -> NpsLookup:
    """NPS over the window, overall and by segment."""
    return {
        "window_days": window_days,
        "overall": nps_figures(session, today, window_days).as_dict(),
        "by_segment": [f.as_dict() for f in nps_by_segment(session, today, window_days)],
    }


def review_set(session: Session, today: date, *, limit: int = 20) -> list[seat.AccountFacts]:
    """The day's risks a crew reviews: accounts with an open health event, then the At-Risk
    and Critical accounts with the most ARR, up to ``limit`` (two reads and the facts)."""
    as_of = latest_as_of(session, today)
    if as_of is None:
        return []
    with_events = session.scalars(
        select(TriggerEvent.account_id)
        .join(TriggerDefinition, TriggerDefinition.code == TriggerEvent.code)
        .join(Account, Account.id == TriggerEvent.account_id)
        .where(
            TriggerEvent.status == "open",
            TriggerDefinition.metric == "health_score",
            Account.churned_at.is_(None),
        )
        .order_by(Account.arr.desc().nulls_last(), Account.id)
        .limit(limit)
    ).all()
    # The join to accounts leaves no event without an account.
    ids = list(dict.fromkeys(i for i in with_events if i is not None))
    if len(ids) < limit:
        more = session.scalars(
            select(Account.id)
            .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
            .where(
                HealthSnapshot.as_of == as_of,
                HealthSnapshot.band != "healthy",
                Account.churned_at.is_(None),
            )
            .order_by(Account.arr.desc().nulls_last(), Account.id)
            .limit(limit)
        ).all()
        ids += [int(i) for i in more if int(i) not in ids][: limit - len(ids)]
    facts = seat.account_facts(session, ids, as_of)
    return [facts[i] for i in ids if i in facts]
