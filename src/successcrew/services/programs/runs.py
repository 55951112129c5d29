"""Running retention programs against the database: exits, enrolment, steps, evaluation, pause.

Every function takes ``now`` and works on sets: one query per program, rule or step, never one
per account. Decisions that need no database (arm, throttling, pause rule, statistics) live in
``successcrew.domain``. Every external effect is an outbox row, enqueued in the caller's
transaction with an idempotency key, so a re-run sends nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from successcrew.definitions.playbooks import (
    AccountChurned,
    BandEntered,
    Playbook,
    ProgramSettings,
    TriggerFired,
)
from successcrew.domain.program_rules import (
    assign_arm,
)
from successcrew.services.programs.results import check_auto_pause
from successcrew.services.programs.steps import StepOutcome, run_due_steps
from successcrew.store import audit
from successcrew.store.dialect import insert_ignore, rowcount
from successcrew.store.models import (
    Account,
    CampaignFeedback,
    Contact,
    HealthSnapshot,
    ProgramAssignment,
    ProgramEnrolment,
    TriggerEvent,
)
from successcrew.store.program_queries import (
    chunks,
    customer_on,
    latest_snapshots,
)

ACTOR = "programs"


# --- exits -----------------------------------------------------------------------------------


def apply_exits(session: Session, book: Playbook, *, now: datetime) -> dict[str, int]:
    """End active enrolments whose exit rule holds; returns how many left, by reason."""
    E = ProgramEnrolment
    today = now.date()
    active = and_(E.program == book.id, E.status == "active")
    conditions: dict[str, Any] = {}
    for rule in book.spec.exit:
        if rule == "recovered":
            cur = latest_snapshots(today)
            conditions[rule] = E.account_id.in_(
                select(cur.c.account_id).where(cur.c.band == "healthy")
            )
        elif rule == "replied":
            conditions[rule] = exists().where(
                CampaignFeedback.program == E.program,
                CampaignFeedback.account_id == E.account_id,
                CampaignFeedback.kind.in_(("reply", "negative_reply")),
                CampaignFeedback.occurred_at >= E.enrolled_at,
                CampaignFeedback.occurred_at <= now,
            )
        elif rule == "unsubscribed":
            conditions[rule] = or_(
                exists().where(
                    CampaignFeedback.program == E.program,
                    CampaignFeedback.account_id == E.account_id,
                    CampaignFeedback.kind.in_(("unsubscribe", "spam_complaint")),
                    CampaignFeedback.occurred_at >= E.enrolled_at,
                    CampaignFeedback.occurred_at <= now,
                ),
                exists().where(
                    Contact.account_id == E.account_id,
                    Contact.unsubscribed_at >= E.enrolled_at,
                    Contact.unsubscribed_at <= now,
                ),
            )
        elif rule == "churned":
            conditions[rule] = E.account_id.in_(
                select(Account.id).where(
                    Account.churned_at.is_not(None), Account.churned_at <= today
                )
            )
    counts: dict[str, int] = {}
    for reason, condition in conditions.items():
        result = session.execute(
            update(E)
            .where(active, condition)
            .values(status="exited", exit_reason=reason, ended_at=now)
            .execution_options(synchronize_session=False)
        )
        if changed := rowcount(result):
            counts[reason] = changed
    return counts


# --- enrolment -------------------------------------------------------------------------------


def _entry_candidates(book: Playbook, *, now: datetime) -> list[tuple[str, Select]]:
    """(rule name, query of account_id + entry-key part) for each entry rule."""
    today = now.date()
    queries: list[tuple[str, Select]] = []
    for rule in book.spec.entry:
        if isinstance(rule, BandEntered):
            # One pass over the snapshot history, grouped by account (linear, no self-join):
            # ``part`` is the last snapshot in another band; the streak started after it, and
            # that date (or none) names the episode, so one stay in the band enrols once however
            # many runs see it. (account_id, as_of) is unique, so the latest snapshot is in the
            # band exactly when no other-band snapshot is as recent as it.
            other = func.max(case((HealthSnapshot.band != rule.band, HealthSnapshot.as_of)))
            # Only on a fresh latest score: a carried-forward (stale) one enrols nobody.
            last_stale = func.max(case((HealthSnapshot.stale.is_(True), HealthSnapshot.as_of)))
            latest = func.max(HealthSnapshot.as_of)
            in_band = (
                select(HealthSnapshot.account_id, other.label("part"))
                .where(HealthSnapshot.as_of <= today)
                .group_by(HealthSnapshot.account_id)
                .having(
                    or_(other.is_(None), other < latest),
                    or_(last_stale.is_(None), last_stale < latest),
                )
                .subquery("in_band")
            )
            queries.append(
                (
                    "band_entered",
                    select(in_band.c.account_id, in_band.c.part)
                    .join(Account, Account.id == in_band.c.account_id)
                    .where(customer_on(today)),
                )
            )
        elif isinstance(rule, TriggerFired):
            queries.append(
                (
                    "trigger_fired",
                    select(TriggerEvent.account_id, TriggerEvent.id.label("part"))
                    .join(Account, Account.id == TriggerEvent.account_id)
                    .where(
                        TriggerEvent.code == rule.code,
                        TriggerEvent.fired_at <= now,
                        TriggerEvent.fired_at > now - timedelta(days=rule.within_days),
                        customer_on(today),
                    ),
                )
            )
        elif isinstance(rule, AccountChurned):
            queries.append(
                (
                    "account_churned",
                    select(Account.id.label("account_id"), Account.churned_at.label("part")).where(
                        Account.churned_at.is_not(None),
                        Account.churned_at <= today,
                        Account.churned_at > today - timedelta(days=rule.within_days),
                    ),
                )
            )
    return queries


def _entry_key(rule: str, part: Any, book: Playbook) -> str:
    if rule == "band_entered":
        band = next(r.band for r in book.spec.entry if isinstance(r, BandEntered))
        return f"band:{band}:{part.isoformat() if part else 'first'}"
    if rule == "trigger_fired":
        return f"trigger:{part}"
    return f"churned:{part.isoformat() if hasattr(part, 'isoformat') else part}"


def enrol(session: Session, book: Playbook, *, now: datetime) -> dict[str, int]:
    """Enrol every account an entry rule admits and that is not in the program already.

    Arms are assigned on first sight (hash of program and account) and stored, so an account
    stays in its arm for good. Returns new enrolments by arm.
    """
    E = ProgramEnrolment
    candidates: dict[int, tuple[str, str]] = {}
    for rule, query in _entry_candidates(book, now=now):
        sub = query.subquery()
        # NOT EXISTS (an anti-join), not NOT IN: PostgreSQL runs NOT IN (subquery) as a subplan
        # per row once the active set outgrows work_mem. account_id is NOT NULL, so the two agree.
        in_program = exists().where(
            E.program == book.id, E.status == "active", E.account_id == sub.c.account_id
        )
        rows = session.execute(select(sub.c.account_id, sub.c.part).where(~in_program))
        for account_id, part in rows:
            # The first rule that admits an account names its entry.
            candidates.setdefault(int(account_id), (rule, _entry_key(rule, part, book)))
    return enrol_accounts(session, book, candidates, now=now)


def enrol_accounts(
    session: Session, book: Playbook, candidates: Mapping[int, tuple[str, str]], *, now: datetime
) -> dict[str, int]:
    """Enrol accounts given as ``{account_id: (entry rule, entry key)}`` (the entry rules above,
    or an approved proposal): the same arm assignment, the same rows, the same idempotency."""
    if not candidates:
        return {}
    E = ProgramEnrolment
    assigned = dict(
        session.execute(
            select(ProgramAssignment.account_id, ProgramAssignment.variant).where(
                ProgramAssignment.program == book.id
            )
        ).all()
    )
    arms = book.arms()
    new_assignments = [
        {
            "program": book.id,
            "account_id": account_id,
            "variant": assign_arm(
                book.id, account_id, holdout_pct=book.spec.holdout_pct, variants=arms
            ),
            "assigned_at": now,
        }
        for account_id in candidates
        if account_id not in assigned
    ]
    conn = session.connection()
    for chunk in chunks(new_assignments):
        session.execute(insert_ignore(conn, ProgramAssignment.__table__), list(chunk))
    assigned.update({row["account_id"]: row["variant"] for row in new_assignments})

    rows = [
        {
            "program": book.id,
            "account_id": account_id,
            "variant": assigned[account_id],
            "entry_rule": rule,
            "entry_key": key,
            "status": "active",
            "next_step": 0,
            "enrolled_at": now,
        }
        for account_id, (rule, key) in candidates.items()
    ]
    counts: dict[str, int] = defaultdict(int)
    for chunk in chunks(rows):
        # An episode already enrolled (and since exited) keeps its key: it does not re-enrol.
        result = session.execute(
            insert_ignore(conn, E.__table__).returning(E.__table__.c.variant), list(chunk)
        )
        for (variant,) in result:
            counts[variant] += 1
    return dict(counts)


# --- steps -----------------------------------------------------------------------------------


# --- feedback and auto-pause -----------------------------------------------------------------


# --- evaluation ------------------------------------------------------------------------------


# --- one run ---------------------------------------------------------------------------------


@dataclass
class ProgramRun:
    """What ``run_programs`` did."""

    exits: dict[str, dict[str, int]] = field(default_factory=dict)
    enrolled: dict[str, dict[str, int]] = field(default_factory=dict)
    steps: StepOutcome = field(default_factory=StepOutcome)
    auto_paused: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "exits": self.exits,
            "enrolled": self.enrolled,
            "steps": asdict(self.steps),
            "auto_paused": self.auto_paused,
        }

    def preview(self, caps: dict[str, int]) -> dict[str, Any]:
        """What the run would queue, in the shape every dry run prints: messages by program,
        step and channel, a sample of recipients and subjects, what the lateness rule would skip
        and the caps would defer, and who would enter or leave a program."""
        queued = [
            {"program": program, "step": step, "channel": channel, "count": n}
            for program, steps in self.steps.queued.items()
            for step, channels in steps.items()
            for channel, n in channels.items()
        ]
        return {
            "queued": queued,
            "total": sum(q["count"] for q in queued),
            "samples": self.steps.samples,
            "skipped_overdue": self.steps.overdue,
            "deferred": self.steps.deferred,
            "caps": caps,
            "paused": [f"{p}: paused, its steps wait" for p in self.steps.paused_programs]
            + [f"{p['program']} would pause itself: {p['reason']}" for p in self.auto_paused],
            "enrolled": self.enrolled,
            "exits": self.exits,
        }


def run_programs(
    session: Session,
    books: Sequence[Playbook],
    *,
    settings: ProgramSettings,
    threshold_pct: float,
    base_url: str,
    now: datetime,
    sample: int = 0,
    link_secret: str | None = None,
) -> ProgramRun:
    """Exits first (so a recovered account is not emailed), then enrolment, the auto-pause
    check, and the due steps. Idempotent for a given ``now``: a second run does nothing new.
    ``sample`` keeps that many queued messages per program and step (for a dry run, which runs
    this in a transaction it rolls back: ``store.db.rolled_back``)."""
    run = ProgramRun()
    for book in books:
        if not book.spec.enabled:
            continue
        exits = apply_exits(session, book, now=now)
        if exits:
            run.exits[book.id] = exits
    for book in books:
        if not book.spec.enabled:
            continue
        enrolled = enrol(session, book, now=now)
        if enrolled:
            run.enrolled[book.id] = enrolled
    # Judge the feedback before sending more: a program that crossed the line since the last
    # run pauses now, and its due steps wait instead of adding to the harm.
    run.auto_paused = check_auto_pause(
        session, books, settings=settings, threshold_pct=threshold_pct, now=now
    )
    run.steps = run_due_steps(
        session,
        books,
        settings=settings,
        base_url=base_url,
        now=now,
        sample=sample,
        link_secret=link_secret,
    )
    if run.exits or run.enrolled or run.steps.steps:
        audit.record(
            session,
            at=now,
            actor=ACTOR,
            action="programs.run",
            subject=",".join(b.id for b in books),
            detail={
                "exits": run.exits,
                "enrolled": run.enrolled,
                "steps": run.steps.steps,
                "emails_queued": run.steps.emails_queued,
                "emails_throttled": run.steps.emails_throttled,
                "skipped_overdue": run.steps.overdue,
                "deferred": run.steps.deferred,
            },
        )
    return run


def load_programs(session: Session, *, actor: str, now: datetime) -> dict[str, Any]:
    """Load and validate the playbooks and program settings, and record what is in force."""
    from successcrew.definitions.playbooks import load_playbooks, load_program_settings

    books = load_playbooks()
    load_program_settings()
    summary = {
        book.id: {
            "name": book.spec.name,
            "enabled": book.spec.enabled,
            "arms": [name for name, _ in book.arms()],
            "holdout_pct": book.spec.holdout_pct,
        }
        for book in books
    }
    audit.record(
        session,
        at=now,
        actor=actor,
        action="setup.playbooks",
        subject="playbooks",
        detail=summary,
    )
    return {"playbooks": summary}
