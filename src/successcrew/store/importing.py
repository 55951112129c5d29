"""Set-based writing of validated import rows: a staging table, checks in SQL, then upserts.

Rows are loaded into a temporary staging table (COPY on PostgreSQL), checked there for unknown
references and duplicate keys, and merged into the real tables with ``INSERT ... SELECT ... ON
CONFLICT`` that touches only rows whose values changed. Everything happens in the caller's
transaction, so a rejected file writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Float,
    Integer,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    Text,
    and_,
    case,
    exists,
    func,
    literal,
    select,
    true,
    tuple_,
)

from successcrew.store.dialect import bulk_load, upsert
from successcrew.store.models import (
    Account,
    Contact,
    Invoice,
    NpsResponse,
    Ticket,
    UsageDaily,
    UsageEvent,
)
from successcrew.store.types import UTCDateTime
from successcrew.store.usage import mark_pending, rollup, serialise_usage_writes

ACCOUNTS = Account.__table__
CONTACTS = Contact.__table__

_STAGE_COLUMNS: dict[str, list[tuple[str, Any]]] = {
    "accounts": [
        ("external_id", String(200)),
        ("name", String(300)),
        ("segment", String(100)),
        ("plan", String(100)),
        ("arr", Numeric(14, 2)),
        ("owner_email", String(320)),
        ("started_at", Date),
        ("churned_at", Date),
        ("renewal_date", Date),
    ],
    "contacts": [
        ("external_id", String(200)),
        ("account_external_id", String(200)),
        ("email", String(320)),
        ("name", String(300)),
        ("role", String(100)),
        ("email_opt_out", Boolean),
    ],
    "usage": [
        ("event_key", String(40)),
        ("account_external_id", String(200)),
        ("contact_external_id", String(200)),
        ("metric", String(100)),
        ("value", Float),
        ("day", Date),
        ("occurred_at", UTCDateTime),
    ],
    "tickets": [
        ("external_id", String(200)),
        ("account_external_id", String(200)),
        ("opened_at", UTCDateTime),
        ("closed_at", UTCDateTime),
        ("priority", String(10)),
        ("csat", Integer),
    ],
    "invoices": [
        ("external_id", String(200)),
        ("account_external_id", String(200)),
        ("amount", Numeric(14, 2)),
        ("due_at", Date),
        ("issued_at", Date),
        ("paid_at", Date),
        ("status", String(10)),
    ],
    "nps": [
        ("natural_key", String(40)),
        ("external_id", String(200)),
        ("account_external_id", String(200)),
        ("contact_email", String(320)),
        ("score", Integer),
        ("comment", Text),
        ("channel", String(50)),
        ("responded_at", UTCDateTime),
    ],
}


def stage_columns(kind: str) -> list[str]:
    """The staged columns of ``kind`` in load order (after ``line``)."""
    return [name for name, _ in _STAGE_COLUMNS[kind]]


@dataclass(frozen=True)
class Problem:
    """A row problem found in SQL: ``line N, field F: message``."""

    line: int
    field: str
    message: str


@dataclass(frozen=True)
class MergeCounts:
    """How many staged rows were new, changed an existing row, or changed nothing."""

    inserted: int
    updated: int
    unchanged: int


class Staging:
    """A temporary table holding one import file's validated rows, with the file line of each."""

    def __init__(self, conn: Connection, kind: str) -> None:
        self.conn = conn
        self.kind = kind
        self.columns = stage_columns(kind)
        self.table = Table(
            f"stage_{kind}",
            MetaData(),
            Column("line", Integer, nullable=False),
            *(Column(name, type_) for name, type_ in _STAGE_COLUMNS[kind]),
            prefixes=["TEMPORARY"],
        )
        self.table.drop(conn, checkfirst=True)
        self.table.create(conn)
        self.rows = 0

    def load(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append (line, *columns) tuples."""
        self.rows += bulk_load(self.conn, self.table, ["line", *self.columns], rows)

    def analyze(self) -> None:
        """Give the planner row counts: autovacuum never sees temporary tables."""
        self.conn.exec_driver_sql(f"ANALYZE {self.table.name}")

    def drop(self) -> None:
        """Remove the staging table (pooled connections outlive the import)."""
        self.table.drop(self.conn)

    # -- checks -------------------------------------------------------------------------------

    def unknown_references(self, limit: int) -> tuple[list[Problem], int]:
        """Rows naming an account (or contact) that is not in the database."""
        s = self.table.c
        checks: list[tuple[str, Any, Any]] = []
        if "account_external_id" in s:
            checks.append(("account_external_id", ACCOUNTS, ACCOUNTS.c.external_id))
        if "contact_external_id" in s:
            checks.append(("contact_external_id", CONTACTS, CONTACTS.c.external_id))
        problems: list[Problem] = []
        total = 0
        for column, target, target_key in checks:
            missing = (
                select(s.line, s[column])
                .where(s[column].is_not(None))
                .where(~exists().where(target_key == s[column]))
            )
            total += self.conn.execute(
                select(func.count()).select_from(missing.subquery())
            ).scalar_one()
            noun = "account" if target is ACCOUNTS else "contact"
            for line, value in self.conn.execute(missing.order_by(s.line).limit(limit)):
                problems.append(
                    Problem(line, column, f"unknown {noun} {value!r} (import {noun}s first)")
                )
        return problems, total

    def duplicates(self, limit: int) -> tuple[list[Problem], int]:
        """Rows whose key repeats an earlier row of the same file."""
        s = self.table.c
        key, field = _duplicate_key(self.kind, self.table)
        first = func.min(s.line).over(partition_by=key).label("first_line")
        ranked = select(s.line, first, field.label("field")).subquery()
        dupes = select(ranked.c.line, ranked.c.first_line, ranked.c.field).where(
            ranked.c.line != ranked.c.first_line
        )
        total = self.conn.execute(select(func.count()).select_from(dupes.subquery())).scalar_one()
        problems = [
            Problem(line, name, f"repeats the row on line {first_line}")
            for line, first_line, name in self.conn.execute(
                dupes.order_by(ranked.c.line).limit(limit)
            )
        ]
        return problems, total

    # -- merge --------------------------------------------------------------------------------

    def merge(self, *, now: datetime, present: set[str]) -> dict[str, Any]:
        """Upsert the staged rows into their tables; returns counts (and rolled-up pairs)."""
        merger = _MERGERS[self.kind]
        return merger(self, now, present)


def _duplicate_key(kind: str, stage: Table) -> tuple[list[Any], Any]:
    """The columns identifying a row of ``kind``, and the field a duplicate is reported on."""
    s = stage.c
    if kind == "usage":
        # Events repeat by natural key (event_key); daily totals (no event_key) by account,
        # metric and day. Window partitions treat NULLs as equal, so one partition list serves both.
        field = case((s.occurred_at.is_(None), "day"), else_="occurred_at")
        return [s.event_key, s.account_external_id, s.metric, s.day], field
    if kind == "nps":
        return [s.natural_key], literal("responded_at")
    return [s.external_id], literal("external_id")


def _count_and_upsert(
    conn: Connection,
    target: Table,
    source: Select,
    *,
    key: Sequence[str],
    updatable: Sequence[str],
    stamp: dict[str, Any] | None = None,
) -> MergeCounts:
    """Count new/changed/unchanged rows of ``source`` against ``target``, then upsert them."""
    src = source.subquery()
    key_match = and_(*(target.c[k] == src.c[k] for k in key))
    total = conn.execute(select(func.count()).select_from(src)).scalar_one()
    existing = conn.execute(
        select(func.count()).select_from(src).where(exists().where(key_match))
    ).scalar_one()
    if updatable:
        changed = conn.execute(
            select(func.count())
            .select_from(src)
            .where(
                exists().where(
                    key_match,
                    tuple_(*(target.c[c] for c in updatable)).is_distinct_from(
                        tuple_(*(src.c[c] for c in updatable))
                    ),
                )
            )
        ).scalar_one()
    else:
        changed = 0
    names = [c.name for c in source.selected_columns]
    stmt = upsert(conn, target).from_select(names, source.where(true()))
    if updatable:
        set_ = {c: stmt.excluded[c] for c in updatable}
        set_.update(stamp or {})
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_=set_,
            where=tuple_(*(target.c[c] for c in updatable)).is_distinct_from(
                tuple_(*(stmt.excluded[c] for c in updatable))
            ),
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    conn.execute(stmt)
    return MergeCounts(inserted=total - existing, updated=changed, unchanged=existing - changed)


def _optional(present: set[str], candidates: Sequence[str]) -> list[str]:
    # A column the file does not carry at all leaves stored values alone.
    return [c for c in candidates if c in present]


def _with_account(stage: Table, *columns: Any) -> tuple[Select, Any]:
    """``SELECT columns FROM stage JOIN accounts`` (a join, not a correlated subquery per row)."""
    account = ACCOUNTS.alias("account")
    query = select(*columns, account.c.id.label("account_id")).join_from(
        stage, account, account.c.external_id == stage.c.account_external_id
    )
    return query, account


def _merge_accounts(st: Staging, now: datetime, present: set[str]) -> dict[str, Any]:
    s = st.table.c
    source = select(
        s.external_id,
        s.name,
        s.segment,
        s.plan,
        s.arr,
        s.owner_email,
        s.started_at,
        s.churned_at,
        s.renewal_date,
        literal(now, UTCDateTime).label("created_at"),
        literal(now, UTCDateTime).label("updated_at"),
    )
    updatable = [
        "name",
        *_optional(
            present,
            ["segment", "plan", "arr", "owner_email", "started_at", "churned_at", "renewal_date"],
        ),
    ]
    counts = _count_and_upsert(
        st.conn,
        ACCOUNTS,
        source,
        key=["external_id"],
        updatable=updatable,
        stamp={"updated_at": literal(now, UTCDateTime)},
    )
    return {"counts": counts}


def _merge_contacts(st: Staging, now: datetime, present: set[str]) -> dict[str, Any]:
    s = st.table.c
    source, _ = _with_account(
        st.table,
        s.external_id,
        s.email,
        s.name,
        s.role,
        func.coalesce(s.email_opt_out, False).label("email_opt_out"),
        literal(True).label("survey_consent"),
        literal(now, UTCDateTime).label("created_at"),
        literal(now, UTCDateTime).label("updated_at"),
    )
    updatable = ["account_id", "email", *_optional(present, ["name", "role", "email_opt_out"])]
    counts = _count_and_upsert(
        st.conn,
        CONTACTS,
        source,
        key=["external_id"],
        updatable=updatable,
        stamp={"updated_at": literal(now, UTCDateTime)},
    )
    return {"counts": counts}


def _staged_days(st: Staging, *, events: bool) -> Select:
    """The distinct (day, account id) pairs of the staged raw events or of the daily totals."""
    s = st.table.c
    pairs, account = _with_account(st.table, s.day)
    kind = s.occurred_at.is_not(None) if events else s.occurred_at.is_(None)
    return pairs.with_only_columns(s.day, account.c.id).where(kind).distinct()


def _merge_usage(st: Staging, now: datetime, present: set[str]) -> dict[str, Any]:
    s = st.table.c
    conn = st.conn
    # Daily totals written here and by the roll-up below: one writer at a time (see rollup).
    serialise_usage_writes(conn)
    daily_source, _ = _with_account(
        st.table, s.metric, s.day, s.value, literal(0).label("event_count")
    )
    daily_source = daily_source.where(s.occurred_at.is_(None))
    daily = _count_and_upsert(
        conn,
        UsageDaily.__table__,
        daily_source,
        key=["account_id", "metric", "day"],
        updatable=["value"],
    )
    if daily.inserted or daily.updated:
        mark_pending(conn, pairs=_staged_days(st, events=False))
    contact = CONTACTS.alias("contact")
    event_source, _ = _with_account(
        st.table,
        s.event_key,
        contact.c.id.label("contact_id"),
        s.metric,
        s.value,
        s.occurred_at,
        s.day,
    )
    event_source = event_source.outerjoin(
        contact, contact.c.external_id == s.contact_external_id
    ).where(s.occurred_at.is_not(None))
    events = _count_and_upsert(
        conn, UsageEvent.__table__, event_source, key=["event_key"], updatable=["value"]
    )
    if events.inserted or events.updated:
        rollup(conn, pairs=_staged_days(st, events=True))
    counts = MergeCounts(
        inserted=daily.inserted + events.inserted,
        updated=daily.updated + events.updated,
        unchanged=daily.unchanged + events.unchanged,
    )
    return {"counts": counts}


def _merge_tickets(st: Staging, now: datetime, present: set[str]) -> dict[str, Any]:
    s = st.table.c
    source, _ = _with_account(
        st.table,
        s.external_id,
        s.opened_at,
        s.closed_at,
        func.coalesce(s.priority, "normal").label("priority"),
        s.csat,
    )
    updatable = ["account_id", "opened_at", *_optional(present, ["closed_at", "priority", "csat"])]
    counts = _count_and_upsert(
        st.conn, Ticket.__table__, source, key=["external_id"], updatable=updatable
    )
    return {"counts": counts}


def _merge_invoices(st: Staging, now: datetime, present: set[str]) -> dict[str, Any]:
    s = st.table.c
    source, _ = _with_account(
        st.table,
        s.external_id,
        s.amount,
        s.due_at,
        s.issued_at,
        s.paid_at,
        s.status,
    )
    updatable = [
        "account_id",
        "amount",
        "due_at",
        "status",
        *_optional(present, ["issued_at", "paid_at"]),
    ]
    counts = _count_and_upsert(
        st.conn, Invoice.__table__, source, key=["external_id"], updatable=updatable
    )
    return {"counts": counts}


def _merge_nps(st: Staging, now: datetime, present: set[str]) -> dict[str, Any]:
    s = st.table.c
    account = ACCOUNTS.alias("account")
    contact_id = (
        select(func.min(CONTACTS.c.id))
        .where(CONTACTS.c.email == s.contact_email, CONTACTS.c.account_id == account.c.id)
        .scalar_subquery()
    )
    source = select(
        s.natural_key,
        s.external_id,
        account.c.id.label("account_id"),
        contact_id.label("contact_id"),
        s.contact_email,
        s.score,
        s.comment,
        s.channel,
        s.responded_at,
    ).join_from(st.table, account, account.c.external_id == s.account_external_id)
    updatable = ["score", "contact_id", *_optional(present, ["comment", "channel"])]
    counts = _count_and_upsert(
        st.conn, NpsResponse.__table__, source, key=["natural_key"], updatable=updatable
    )
    return {"counts": counts}


_MERGERS = {
    "accounts": _merge_accounts,
    "contacts": _merge_contacts,
    "usage": _merge_usage,
    "tickets": _merge_tickets,
    "invoices": _merge_invoices,
    "nps": _merge_nps,
}
