"""The relational schema (SQLAlchemy 2 declarative). Migrations in ``migrations/`` build it.

Identifiers are integers; the outside world's ids live in ``external_id`` columns (unique) and, for
accounts known to several systems, in ``account_sources``. Every timestamp is UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from successcrew.store.types import ErrorText, FloatList, JsonType, SecretFreeText, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL for tables that grow without bound; SQLite needs plain INTEGER for rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints the same way."""

    metadata = MetaData(naming_convention=NAMING)
    # Every model here maps one Table; SQLAlchemy types __table__ as the wider FromClause, which
    # has no insert()/delete() and is not accepted where a Table is expected.
    __table__: ClassVar[Table]
    type_annotation_map = {dict[str, Any]: JsonType, list[Any]: JsonType, datetime: UTCDateTime}


class Account(Base):
    """A customer company."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    segment: Mapped[str | None] = mapped_column(String(100))
    plan: Mapped[str | None] = mapped_column(String(100))
    arr: Mapped[float | None] = mapped_column(Numeric(14, 2))
    owner_email: Mapped[str | None] = mapped_column(String(320))
    started_at: Mapped[date | None] = mapped_column(Date)
    churned_at: Mapped[date | None] = mapped_column(Date)
    renewal_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (
        Index("ix_accounts_segment", "segment"),
        Index("ix_accounts_churned_at", "churned_at"),
        # The dashboard: a CSM's book, the owner and plan filters, the renewal window.
        Index("ix_accounts_owner_email", "owner_email"),
        Index("ix_accounts_plan", "plan"),
        Index("ix_accounts_renewal_date", "renewal_date"),
    )


class AccountSource(Base):
    """The id an account has in an outside system (hubspot, salesforce, intercom, ...)."""

    __tablename__ = "account_sources"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(50))
    source_id: Mapped[str] = mapped_column(String(200))
    synced_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_account_sources_source_id"),
        UniqueConstraint("account_id", "source", name="uq_account_sources_account_source"),
    )


class Contact(Base):
    """A person at a customer; consent flags decide what they may be sent."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[str | None] = mapped_column(String(100))
    email_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    unsubscribed_at: Mapped[datetime | None]
    survey_consent: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (
        Index("ix_contacts_account_id", "account_id"),
        Index("ix_contacts_email", "email"),
    )


class UsageEvent(Base):
    """One raw usage event. ``event_key`` is a digest of the natural key: re-imports are no-ops."""

    __tablename__ = "usage_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    metric: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    occurred_at: Mapped[datetime]
    day: Mapped[date] = mapped_column(Date)
    __table_args__ = (
        # The roll-up reads one day at a time; scoring never reads raw events.
        Index("ix_usage_events_day_account", "day", "account_id"),
    )


class UsageDaily(Base):
    """Daily total per account and metric: imported directly or rolled up from raw events.

    Kept lean for the daily roll-up, which appends a day's rows: only the primary key, day first,
    so a day's rows are one key range at the end of the index. No foreign key to accounts and no
    account-leading index: either cost one random index access per new row. Every row comes from
    validated raw events (which do reference accounts) or a validated daily-total import. Rows
    of an account deleted later stay behind (no cascade); scoring joins accounts and never sees
    them, only the row count in ``successcrew status`` does.
    """

    __tablename__ = "usage_daily"
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (PrimaryKeyConstraint("day", "account_id", "metric"),)


class UsageFirstActivity(Base):
    """The first day each account had a positive value of each metric.

    Tells "no data" (never used the metric by the scoring date) from "quiet lately" (used it
    before the window scoring reads) without an index over each account's whole history. Kept up
    by ``store.usage.settle_usage`` from the days the roll-up marked as pending.
    """

    __tablename__ = "usage_first_activity"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    first_day: Mapped[date] = mapped_column(Date)


class UsageWeekly(Base):
    """Weekly totals (Monday to Sunday) per account and metric, summed from ``usage_daily``.

    Scoring reads a whole week inside its windows as one row instead of seven. A week is built
    when a scoring run first needs it (``usage_weekly_built`` says which are) and rebuilt when
    one of its days changes (the roll-up marks the day in ``usage_pending_days``).
    """

    __tablename__ = "usage_weekly"
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    #: The week's last day with a positive value (NULL when there was none).
    last_day: Mapped[date | None] = mapped_column(Date)


class UsageWeeklyBuilt(Base):
    """A week whose totals in ``usage_weekly`` are complete and current."""

    __tablename__ = "usage_weekly_built"
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)


class UsagePendingDay(Base):
    """A day whose daily totals changed since the tables derived from them last took them in.

    The roll-up only marks the day (one row per day, not per account); the next scoring run
    settles the marked days on or before its date in one pass: first activity brought up to
    date, weekly totals of the day's week rebuilt. That keeps the per-account upkeep out of the
    daily roll-up.
    """

    __tablename__ = "usage_pending_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class Ticket(Base):
    """A support ticket."""

    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    csat: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        Index("ix_tickets_account_opened", "account_id", "opened_at"),
        # The ticket feed's newest day (data freshness): one probe instead of a scan.
        Index("ix_tickets_opened_at", "opened_at"),
        CheckConstraint("priority IN ('low','normal','high','urgent')", name="priority"),
        CheckConstraint("csat IS NULL OR (csat BETWEEN 1 AND 5)", name="csat"),
    )


class Invoice(Base):
    """An invoice; overdue ones feed the billing component of the health score."""

    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    amount: Mapped[float] = mapped_column(Numeric(14, 2))
    due_at: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[date | None] = mapped_column(Date)
    paid_at: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    __table_args__ = (
        Index("ix_invoices_account_due", "account_id", "due_at"),
        # The invoice feed's newest day (data freshness): one probe each instead of a scan.
        Index("ix_invoices_issued_at", "issued_at"),
        Index("ix_invoices_paid_at", "paid_at"),
        CheckConstraint("status IN ('paid','open','overdue','void')", name="status"),
    )


class NpsResponse(Base):
    """An NPS answer. ``natural_key`` identifies rows imported without an external id."""

    __tablename__ = "nps_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    natural_key: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(50))
    responded_at: Mapped[datetime]
    sentiment: Mapped[float | None] = mapped_column(Float)
    categories: Mapped[list[Any] | None]
    categories_manual: Mapped[list[Any] | None]
    #: Who read ``categories`` and ``sentiment`` last: NULL (the lexicon, not yet seen by a
    #: model), ``lexicon`` (a model looked and was not sure) or the model's name.
    read_by: Mapped[str | None] = mapped_column(String(200))
    read_confidence: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (
        Index("ix_nps_responses_account_responded", "account_id", "responded_at"),
        Index("ix_nps_responses_responded_at", "responded_at"),
        CheckConstraint("score BETWEEN 0 AND 10", name="score"),
    )


class HealthModelLayout(Base):
    """The components of one resolved health model, stored once and shared by its snapshots.

    ``components`` lists, in order, each component's name and what explanations need to word it
    (kind, label, metric, window_days, lookback_days). A snapshot keeps only the numbers, four per
    component in this order; the digest of the list is the key, so an edited label makes a new
    layout and old snapshots keep theirs.
    """

    __tablename__ = "health_model_layouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    model_version: Mapped[str] = mapped_column(String(50))
    components: Mapped[list[Any]]
    created_at: Mapped[datetime]


#: The numbers a snapshot keeps per component, in this order.
COMPONENT_FIELDS = ("raw", "normalised", "weight", "contribution")


class HealthSnapshot(Base):
    """A health score for one account as of one date, with its components and model version.

    Per component the raw value, the normalised value (0-1), the effective weight and the
    contribution in points sit in ``component_values`` in the order of the snapshot's layout;
    ``components`` puts them back together with the layout's names and labels. Snapshots written
    before layouts existed (layout_id NULL) kept the whole document in the ``components`` column.
    """

    __tablename__ = "health_snapshots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    as_of: Mapped[date] = mapped_column(Date)
    score: Mapped[float] = mapped_column(Float)
    computed_score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(20))
    # No foreign key: one check per row cost a fifth of writing 100,000 snapshots. The scoring
    # run stores the layout in the same transaction before any snapshot names it, and layouts
    # are never deleted.
    layout_id: Mapped[int | None] = mapped_column(Integer)
    component_values: Mapped[list[Any] | None] = mapped_column(FloatList)
    legacy_components: Mapped[dict[str, Any] | None] = mapped_column("components", JsonType)
    legacy_missing: Mapped[list[Any] | None] = mapped_column("missing_components", JsonType)
    model_version: Mapped[str] = mapped_column(String(50))
    override_id: Mapped[int | None] = mapped_column(ForeignKey("score_overrides.id"))
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    # Components left out because their input was stale on as_of, comma-separated in layout
    # order (NULL: none). Text, not JSON: the drop rule compares it between dates, and
    # PostgreSQL's json type has no equality.
    stale_key: Mapped[str | None] = mapped_column("stale_components", Text)
    created_at: Mapped[datetime]
    layout: Mapped[HealthModelLayout | None] = relationship(
        lazy="selectin",
        primaryjoin="foreign(HealthSnapshot.layout_id) == HealthModelLayout.id",
    )
    __table_args__ = (
        UniqueConstraint("account_id", "as_of", name="uq_health_snapshots_account_as_of"),
        Index("ix_health_snapshots_as_of_band", "as_of", "band"),
        # The dashboard: the lowest (or highest) scores of a date without reading the date,
        # and, on PostgreSQL, a whole date's scores from the index alone (covering).
        Index(
            "ix_health_snapshots_as_of_score",
            "as_of",
            "score",
            postgresql_include=["account_id", "band", "model_version", "override_id"],
        ),
    )

    @property
    def components(self) -> dict[str, dict[str, Any]]:
        """Per component name: kind, label, metric, window and the four numbers."""
        if self.layout is None:
            return dict(self.legacy_components or {})
        values = list(self.component_values or [])
        out: dict[str, dict[str, Any]] = {}
        for i, meta in enumerate(self.layout.components):
            numbers = values[len(COMPONENT_FIELDS) * i : len(COMPONENT_FIELDS) * (i + 1)]
            doc = {k: v for k, v in meta.items() if k != "name"}
            doc.update(zip(COMPONENT_FIELDS, numbers, strict=False))
            out[meta["name"]] = doc
        return out

    @property
    def stale_components(self) -> list[str]:
        """Components left out because their input was stale on as_of (not the account's)."""
        return self.stale_key.split(",") if self.stale_key else []

    @property
    def missing_components(self) -> list[str]:
        """Components without data for this account (left out, the rest renormalised); the
        components of a stale input are listed in ``stale_components`` instead."""
        if self.layout is None:
            return list(self.legacy_missing or [])
        stale = set(self.stale_components)
        return [
            name
            for name, c in self.components.items()
            if c.get("normalised") is None and name not in stale
        ]


class ScoreOverride(Base):
    """A manual score set by a customer-success lead; automation never overwrites it silently."""

    __tablename__ = "score_overrides"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(SecretFreeText)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    __table_args__ = (
        Index("ix_score_overrides_account", "account_id", "created_at"),
        CheckConstraint("score BETWEEN 0 AND 100", name="score"),
    )


class TriggerDefinition(Base):
    """A trigger as synced from ``triggers/*.yaml``; evaluation reads it from here."""

    __tablename__ = "trigger_definitions"
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    scope: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str] = mapped_column(String(100))
    comparator: Mapped[str] = mapped_column(String(5))
    threshold: Mapped[str] = mapped_column(String(200))
    window_days: Mapped[int | None] = mapped_column(Integer)
    cooldown_hours: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    actions: Mapped[list[Any]]
    definition: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class TriggerEvent(Base):
    """One episode of a trigger's condition being true (per account where account-scoped)."""

    __tablename__ = "trigger_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("trigger_definitions.code"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    definition_version: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[dict[str, Any]]
    fired_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    __table_args__ = (
        Index("ix_trigger_events_code_subject_status", "code", "subject", "status"),
        Index("ix_trigger_events_fired_at", "fired_at"),
        # The account page's timeline.
        Index("ix_trigger_events_account_fired", "account_id", "fired_at"),
    )


class OutboxMessage(Base):
    """An external effect waiting to happen, exactly once where the provider lets us check."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(ErrorText)
    delivered_at: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(300))
    #: Where a Slack message went (channel id): with its ts, what ``chat.update`` needs later.
    provider_channel: Mapped[str | None] = mapped_column(String(100))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    trigger_event_id: Mapped[int | None] = mapped_column(ForeignKey("trigger_events.id"))
    created_at: Mapped[datetime]
    __table_args__ = (
        # The dispatcher's claim query: due rows by status and time.
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        CheckConstraint("status IN ('pending','sending','delivered','dead','held')", name="status"),
    )


class Escalation(Base):
    """A decision or notice for the chairman, with its lifecycle."""

    __tablename__ = "escalations"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    trigger_event_id: Mapped[int | None] = mapped_column(ForeignKey("trigger_events.id"))
    title: Mapped[str] = mapped_column(String(300))
    context: Mapped[dict[str, Any]]
    proposed_action: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    #: How the decision came in: cli, slack (a button), web.
    decided_via: Mapped[str | None] = mapped_column(String(20))
    decision_note: Mapped[str | None] = mapped_column(SecretFreeText)
    carried_out_at: Mapped[datetime | None]
    __table_args__ = (
        Index("ix_escalations_status", "status", "created_at"),
        Index("ix_escalations_account", "account_id", "created_at"),
    )


class CrewRun(Base):
    """One ``successcrew run`` tick."""

    __tablename__ = "crew_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    simulated_now: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="running")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[dict[str, Any] | None]


class TaskRun(Base):
    """One task inside a crew run."""

    __tablename__ = "task_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_run_id: Mapped[int] = mapped_column(ForeignKey("crew_runs.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(100))
    agent: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(ErrorText)
    result: Mapped[dict[str, Any] | None]
    __table_args__ = (Index("ix_task_runs_task_started", "task", "started_at"),)


class SetupProgress(Base):
    """Durable state of one step of the 30-day setup flow."""

    __tablename__ = "setup_progress"
    step_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    substage: Mapped[str] = mapped_column(String(20))
    day_offset: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(ErrorText)
    next_attempt_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class ComponentCheck(Base):
    """One system-health check of one component (for RETENTION-004 and uptime)."""

    __tablename__ = "component_checks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    component: Mapped[str] = mapped_column(String(50))
    checked_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(ErrorText)
    detail: Mapped[dict[str, Any] | None]
    __table_args__ = (Index("ix_component_checks_component_at", "component", "checked_at"),)


class PauseHold(Base):
    """One hold on a scope: who (a person) or which rule set it, why, and when it was lifted.

    A scope is paused while any hold on it is not lifted. Each holder has at most one open hold
    per scope, so a person pausing a scope a rule already paused adds a second hold, and lifting
    one leaves the other. Lifted holds stay as the record (a rollback rule reads when its own hold
    was last lifted, to honour a person's resume until newer evidence arrives).
    """

    __tablename__ = "pause_holds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(50))
    held_by: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(SecretFreeText)
    set_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(200))
    lift_reason: Mapped[str | None] = mapped_column(SecretFreeText)
    __table_args__ = (
        Index(
            "uq_pause_holds_open",
            "scope",
            "kind",
            "held_by",
            unique=True,
            sqlite_where=text("lifted_at IS NULL"),
            postgresql_where=text("lifted_at IS NULL"),
        ),
        CheckConstraint("kind IN ('person','rule')", name="kind"),
    )


class AuditLog(Base):
    """Append-only record of every action; database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict[str, Any] | None]
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        # The account page reads the entries about one account (subject = its external id).
        Index("ix_audit_log_subject_at", "subject", "at"),
    )


class AccountNote(Base):
    """A note a CSM adds on the account page (shown in its timeline, always as text)."""

    __tablename__ = "account_notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(SecretFreeText)
    created_at: Mapped[datetime]
    __table_args__ = (Index("ix_account_notes_account_created", "account_id", "created_at"),)


# --- Retention programs and NPS surveys (issue 6) -------------------------------------------


class ProgramAssignment(Base):
    """The arm (variant or ``holdout``) an account is in for one program, fixed at first sight.

    Assignment is a hash of program and account, so it is stable anyway; storing it keeps it
    stable even when a lead later edits the holdout share or the variants.
    """

    __tablename__ = "program_assignments"
    program: Mapped[str] = mapped_column(String(50), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    variant: Mapped[str] = mapped_column(String(50))
    assigned_at: Mapped[datetime]


class ProgramEnrolment(Base):
    """One account's pass through one program; ``entry_key`` makes enrolment idempotent."""

    __tablename__ = "program_enrolments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    program: Mapped[str] = mapped_column(String(50))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    variant: Mapped[str] = mapped_column(String(50))
    entry_rule: Mapped[str] = mapped_column(String(50))
    entry_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="active")
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    enrolled_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    exit_reason: Mapped[str | None] = mapped_column(String(50))
    __table_args__ = (
        UniqueConstraint("program", "account_id", "entry_key", name="uq_program_enrolments_entry"),
        Index("ix_program_enrolments_program_status", "program", "status"),
        Index("ix_program_enrolments_account", "account_id"),
        CheckConstraint("status IN ('active','completed','exited')", name="status"),
    )


class ProgramStepRun(Base):
    """A step of an enrolment that ran (or was skipped), with what it did."""

    __tablename__ = "program_step_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("program_enrolments.id", ondelete="CASCADE")
    )
    step_index: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    ran_at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None]
    __table_args__ = (
        UniqueConstraint("enrolment_id", "step_index", name="uq_program_step_runs_step"),
    )


class ProgramEmail(Base):
    """One program email to one contact (queued) or why it was not sent (throttled, opted out).

    Throttling reads the latest ``queued`` row per contact, across all programs.
    """

    __tablename__ = "program_emails"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    program: Mapped[str] = mapped_column(String(50))
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("program_enrolments.id", ondelete="CASCADE")
    )
    step_index: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    outbox_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint(
            "enrolment_id", "step_index", "contact_id", name="uq_program_emails_recipient"
        ),
        Index("ix_program_emails_contact_created", "contact_id", "created_at"),
        Index("ix_program_emails_program_created", "program", "created_at"),
        CheckConstraint("status IN ('queued','throttled','opted_out')", name="status"),
    )


class CampaignFeedback(Base):
    """A reaction to a program email: reply, negative reply, unsubscribe, spam complaint."""

    __tablename__ = "campaign_feedback"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    program: Mapped[str] = mapped_column(String(50))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None]
    __table_args__ = (
        Index("ix_campaign_feedback_program_at", "program", "occurred_at"),
        CheckConstraint(
            "kind IN ('reply','negative_reply','unsubscribe','spam_complaint')", name="kind"
        ),
    )


class SurveyInvitation(Base):
    """An NPS, exit or feedback survey sent to a contact; its token may be used once."""

    __tablename__ = "survey_invitations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("nps_responses.id", ondelete="SET NULL")
    )
    __table_args__ = (
        Index("ix_survey_invitations_contact_created", "contact_id", "created_at"),
        CheckConstraint("kind IN ('nps','exit','feedback')", name="kind"),
        CheckConstraint("channel IN ('email','in_app')", name="channel"),
    )


class InboundReceipt(Base):
    """An inbound event already taken in (SendGrid ``sg_event_id``, a Mandrill event, a Segment
    ``messageId``): a provider's retry or a replay finds its id here and changes nothing."""

    __tablename__ = "inbound_receipts"
    source: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]
    __table_args__ = (PrimaryKeyConstraint("source", "event_id"),)


class EmailEvent(Base):
    """What a provider reported about one message we sent: delivered, open, click, bounce..."""

    __tablename__ = "email_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30))
    #: The outbox idempotency key the message was sent under (custom_args / metadata).
    outbox_key: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    program: Mapped[str | None] = mapped_column(String(50))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None]
    __table_args__ = (
        Index("ix_email_events_outbox_key", "outbox_key"),
        Index("ix_email_events_program_kind", "program", "kind", "occurred_at"),
        Index("ix_email_events_account_occurred", "account_id", "occurred_at"),
    )


class EmailSuppression(Base):
    """An address no e-mail goes to any more (a hard bounce); ``email`` is lower-cased."""

    __tablename__ = "email_suppressions"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(30))
    provider: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None]


class ProductUser(Base):
    """A product user (Segment ``userId``) and the account a ``group`` call put them in."""

    __tablename__ = "product_users"
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    updated_at: Mapped[datetime]


# --- The optional model (the llm extra) --------------------------------------------------------


class ActionProposal(Base):
    """Something a model proposed (a crew-mode action or an e-mail draft), waiting for a person.

    ``status``: ``drafting`` (an e-mail the model has yet to write), ``pending`` (waiting for
    approval), ``approved`` (carried out: its outbox rows are queued), ``declined``, ``blocked``
    (failed the allow-list or a guardrail; kept as the record), ``noted`` (the model proposed to do
    nothing). ``messages`` are the outbox rows approval queues, fixed when the proposal is stored.
    """

    __tablename__ = "action_proposals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(50))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    crew_run_id: Mapped[int | None] = mapped_column(ForeignKey("crew_runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(200))
    proposal: Mapped[dict[str, Any]]
    messages: Mapped[list[Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_action_proposals_status", "status", "created_at"),
        CheckConstraint(
            "status IN ('drafting','pending','approved','declined','blocked','noted')",
            name="status",
        ),
    )


class ModelOutput(Base):
    """A validated model output, by sha256 of model, prompt version and inputs (the cache)."""

    __tablename__ = "model_outputs"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(50))
    output: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class ModelUsage(Base):
    """What one run (or one command) spent on the model: calls, tokens, cache hits, fallbacks."""

    __tablename__ = "model_usage"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    crew_run_id: Mapped[int | None] = mapped_column(ForeignKey("crew_runs.id", ondelete="SET NULL"))
    command: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    calls: Mapped[int] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    cache_hits: Mapped[int] = mapped_column(Integer)
    fallbacks: Mapped[int] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None]
    recorded_at: Mapped[datetime]
    __table_args__ = (Index("ix_model_usage_recorded_at", "recorded_at"),)


# --- The dashboard (issue 15) ------------------------------------------------------------------


class User(Base):
    """A person who signs in to the dashboard, with one role (``domain/roles.py``).

    ``password_hash`` (Argon2) is set for local sign-in; people who sign in through a reverse
    proxy or OIDC have a row (their role) and no password. ``email`` is stored lower-case.
    """

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (
        CheckConstraint("role IN ('viewer','csm','lead','chairman','admin')", name="role"),
    )


class DashboardSession(Base):
    """A dashboard sign-in. The cookie names it by a random id (``sid``); only its SHA-256 is
    stored, so reading this table gives no way in. Signing out, disabling the user or changing
    their password revokes it, and every request checks it: a copied cookie ends with it."""

    __tablename__ = "dashboard_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: ``password`` or ``oidc`` (a proxy's header makes no session).
    method: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: Why it ended early: ``signed_out``, ``disabled``, ``password_changed``.
    revoked_why: Mapped[str | None] = mapped_column(String(30))
    __table_args__ = (Index("ix_dashboard_sessions_user", "user_id"),)


class LoginFailure(Base):
    """One failed (or still being checked) password sign-in, counted per e-mail and per client
    address over the last minute by every ``serve`` worker alike. ``key_hash`` is a SHA-256 of
    the e-mail or the address: what someone typed into the e-mail box is not kept."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: ``email`` or ``client``.
    scope: Mapped[str] = mapped_column(String(10))
    key_hash: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime]
    __table_args__ = (
        Index("ix_login_failures_key", "scope", "key_hash", "failed_at"),
        Index("ix_login_failures_failed_at", "failed_at"),
    )


class Task(Base):
    """Work for a person: what a trigger, a playbook step or a decided escalation asks the
    account's owner to do, with the reason, a due date and its state (open, snoozed, done).

    ``key`` is the idempotency key of the work that created it (one task per trigger event,
    step or escalation); ``crm_outbox_key`` names the outbox row that copies it to the CRM
    where one is configured.
    """

    __tablename__ = "tasks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    owner_email: Mapped[str | None] = mapped_column(String(320))
    title: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(50))
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default="open")
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    crm_outbox_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(320))
    __table_args__ = (
        Index("ix_tasks_owner_status", "owner_email", "status", "due_on"),
        CheckConstraint("status IN ('open','snoozed','done')", name="status"),
    )
