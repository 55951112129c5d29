"""What the database holds, in a few set-based queries (for ``status`` and ``demo``)."""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from sqlalchemy import Connection, case, func, select

from successcrew.store.models import (
    Account,
    AuditLog,
    Contact,
    HealthSnapshot,
    Invoice,
    NpsResponse,
    PauseHold,
    Ticket,
    UsageDaily,
    UsageEvent,
)


class AccountCounts(TypedDict):
    """Accounts: all, active, churned; active ARR and active accounts per segment."""

    total: int
    active: int
    churned: int
    active_arr: float
    active_by_segment: dict[str, int]


class ContactCounts(TypedDict):
    """Contacts, and how many opted out of e-mail."""

    total: int
    opted_out: int


class UsageCounts(TypedDict):
    """Daily usage rows and raw events, and the days they span (ISO dates)."""

    daily_rows: int
    raw_events: int
    first_day: str | None
    last_day: str | None


class TicketCounts(TypedDict):
    """Tickets, and how many are open."""

    total: int
    open: int


class InvoiceCounts(TypedDict):
    """Invoices, and how many are overdue."""

    total: int
    overdue: int


class NpsCounts(TypedDict):
    """NPS answers, NPS over all of them, and when the first and last came (ISO times)."""

    responses: int
    nps_all_time: float | None
    first: str | None
    last: str | None


class DataSummary(TypedDict):
    """What the database holds (``status``'s ``data``)."""

    accounts: AccountCounts
    contacts: ContactCounts
    usage: UsageCounts
    tickets: TicketCounts
    invoices: InvoiceCounts
    nps: NpsCounts


class ScoreSummary(TypedDict):
    """The newest scoring date (ISO), accounts per band on it, and how many are manual or
    stale."""

    as_of: str | None
    bands: dict[str, int]
    manual: int
    stale: int


class OpenHold(TypedDict):
    """An open pause hold: the scope, why, who (a person) or which rule, its kind, since."""

    scope: str
    reason: str
    by: str
    kind: str
    since: str


class AuditLine(TypedDict):
    """An audit entry in brief: when (ISO), who, what, on what."""

    at: str
    actor: str
    action: str
    subject: str | None


def data_summary(conn: Connection, *, today: date) -> DataSummary:
    """Counts per kind of data, the usage date range, and open/overdue items as of ``today``."""
    a = Account.__table__.c
    accounts = conn.execute(
        select(
            func.count(),
            func.count(a.churned_at),
            func.coalesce(func.sum(case((a.churned_at.is_(None), a.arr), else_=0)), 0),
        )
    ).one()
    by_segment = {
        segment or "(none)": n
        for segment, n in conn.execute(
            select(a.segment, func.count()).where(a.churned_at.is_(None)).group_by(a.segment)
        )
    }
    c = Contact.__table__.c
    contacts = conn.execute(
        select(func.count(), func.count().filter(c.email_opt_out.is_(True)))
    ).one()
    u = UsageDaily.__table__.c
    usage = conn.execute(select(func.count(), func.min(u.day), func.max(u.day))).one()
    events = conn.execute(select(func.count()).select_from(UsageEvent.__table__)).scalar_one()
    t = Ticket.__table__.c
    tickets = conn.execute(select(func.count(), func.count().filter(t.closed_at.is_(None)))).one()
    i = Invoice.__table__.c
    overdue = (i.paid_at.is_(None)) & (i.status != "void") & (i.due_at < today)
    invoices = conn.execute(select(func.count(), func.count().filter(overdue))).one()
    n = NpsResponse.__table__.c
    nps = conn.execute(
        select(
            func.count(),
            func.count().filter(n.score >= 9),
            func.count().filter(n.score <= 6),
            func.min(n.responded_at),
            func.max(n.responded_at),
        )
    ).one()
    nps_value = round(100 * (nps[1] - nps[2]) / nps[0], 1) if nps[0] else None
    return {
        "accounts": {
            "total": accounts[0],
            "active": accounts[0] - accounts[1],
            "churned": accounts[1],
            "active_arr": float(accounts[2] or 0),
            "active_by_segment": by_segment,
        },
        "contacts": {"total": contacts[0], "opted_out": contacts[1]},
        "usage": {
            "daily_rows": usage[0],
            "raw_events": events,
            "first_day": usage[1].isoformat() if usage[1] else None,
            "last_day": usage[2].isoformat() if usage[2] else None,
        },
        "tickets": {"total": tickets[0], "open": tickets[1]},
        "invoices": {"total": invoices[0], "overdue": invoices[1]},
        "nps": {
            "responses": nps[0],
            "nps_all_time": nps_value,
            "first": nps[3].isoformat() if nps[3] else None,
            "last": nps[4].isoformat() if nps[4] else None,
        },
    }


def score_summary(conn: Connection) -> ScoreSummary:
    """Band distribution of the newest scoring date, with manual and stale counts."""
    h = HealthSnapshot.__table__.c
    latest = conn.execute(select(func.max(h.as_of))).scalar_one()
    if latest is None:
        return {"as_of": None, "bands": {}, "manual": 0, "stale": 0}
    bands = {"healthy": 0, "at_risk": 0, "critical": 0}
    manual = stale = 0
    for band, overridden, is_stale, n in conn.execute(
        select(h.band, h.override_id.is_not(None), h.stale, func.count())
        .where(h.as_of == latest)
        .group_by(h.band, h.override_id.is_not(None), h.stale)
    ):
        bands[band] = bands.get(band, 0) + n
        manual += n if overridden else 0
        stale += n if is_stale else 0
    return {"as_of": latest.isoformat(), "bands": bands, "manual": manual, "stale": stale}


def pause_summary(conn: Connection) -> list[OpenHold]:
    """Every open pause hold: the scope, who (a person) or which rule holds it, since when, why."""
    p = PauseHold.__table__.c
    rows = conn.execute(
        select(p.scope, p.reason, p.held_by, p.kind, p.set_at)
        .where(p.lifted_at.is_(None))
        .order_by(p.scope, p.set_at, p.id)
    )
    holds: list[OpenHold] = [
        {"scope": s, "reason": r, "by": b, "kind": k, "since": at.isoformat()}
        for s, r, b, k, at in rows
    ]
    return holds


def last_audit(conn: Connection, limit: int = 5) -> list[AuditLine]:
    """The newest audit entries."""
    l_ = AuditLog.__table__.c
    rows = conn.execute(
        select(l_.at, l_.actor, l_.action, l_.subject).order_by(l_.id.desc()).limit(limit)
    )
    lines: list[AuditLine] = [
        {"at": at.isoformat(), "actor": actor, "action": action, "subject": subject}
        for at, actor, action, subject in rows
    ]
    return lines
