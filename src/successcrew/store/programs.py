"""Running retention programs against the database: exits, enrolment, steps, evaluation, pause.

Every function takes ``now`` and works on sets: one query per program, rule or step, never one
per account. Decisions that need no database (arm, throttling, pause rule, statistics) live in
``successcrew.domain``. Every external effect is an outbox row, enqueued in the caller's
transaction with an idempotency key, so a re-run sends nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select

from successcrew.domain.abtest import Arm, Comparison, compare
from successcrew.domain.programs import (
    HOLDOUT,
    EmailCandidate,
    assign_arm,
    negative_feedback_pct,
    should_auto_pause,
    throttle,
)
from successcrew.integrations.outbox import enqueue_many
from successcrew.playbooks import (
    AccountChurned,
    BandEntered,
    Playbook,
    ProgramSettings,
    TriggerFired,
    template_context,
)
from successcrew.store import audit
from successcrew.store.dialect import insert_ignore
from successcrew.store.models import (
    Account,
    AccountSource,
    CampaignFeedback,
    Contact,
    HealthSnapshot,
    NpsResponse,
    ProgramAssignment,
    ProgramEmail,
    ProgramEnrolment,
    ProgramStepRun,
    TriggerEvent,
)
from successcrew.store.pauses import is_paused, set_paused

ACTOR = "programs"
NEGATIVE_KINDS = ("negative_reply", "unsubscribe", "spam_complaint")
FEEDBACK_KINDS = ("reply", *NEGATIVE_KINDS)
#: IN-lists are chunked so a large portfolio never exceeds a driver's parameter limit.
CHUNK = 2000


def pause_scope(program: str) -> str:
    """The pause flag of one program's campaign (set by auto-pause or by a person)."""
    return f"campaign:{program}"


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def latest_snapshots(today: date) -> Any:
    """Subquery: each account's latest health snapshot on or before ``today``.

    ``ROW_NUMBER()`` over each account's history, newest first: one pass over the snapshots,
    whatever the planner believes about them. (A join of the snapshots to their per-account
    ``max(as_of)`` ran as a nested loop over the ``(as_of, band)`` index when the statistics
    predated the day's scoring: 100,000 accounts times the accounts in the band.)
    """
    newest_first = func.row_number().over(
        partition_by=HealthSnapshot.account_id, order_by=HealthSnapshot.as_of.desc()
    )
    history = (
        select(
            HealthSnapshot.account_id,
            HealthSnapshot.as_of,
            HealthSnapshot.band,
            HealthSnapshot.score,
            newest_first.label("position"),
        )
        .where(HealthSnapshot.as_of <= today)
        .subquery("history")
    )
    return (
        select(history.c.account_id, history.c.as_of, history.c.band, history.c.score)
        .where(history.c.position == 1)
        .subquery("current_health")
    )


def _customer_on(today: date) -> Any:
    return or_(Account.churned_at.is_(None), Account.churned_at > today)


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
        if result.rowcount:
            counts[reason] = result.rowcount
    return counts


# --- enrolment -------------------------------------------------------------------------------


def _entry_candidates(book: Playbook, *, now: datetime) -> list[tuple[str, Select[Any]]]:
    """(rule name, query of account_id + entry-key part) for each entry rule."""
    today = now.date()
    queries: list[tuple[str, Select[Any]]] = []
    for rule in book.spec.entry:
        if isinstance(rule, BandEntered):
            # One pass over the snapshot history, grouped by account (linear, no self-join):
            # ``part`` is the last snapshot in another band; the streak started after it, and
            # that date (or none) names the episode, so one stay in the band enrols once however
            # many runs see it. (account_id, as_of) is unique, so the latest snapshot is in the
            # band exactly when no other-band snapshot is as recent as it.
            other = func.max(case((HealthSnapshot.band != rule.band, HealthSnapshot.as_of)))
            in_band = (
                select(HealthSnapshot.account_id, other.label("part"))
                .where(HealthSnapshot.as_of <= today)
                .group_by(HealthSnapshot.account_id)
                .having(or_(other.is_(None), other < func.max(HealthSnapshot.as_of)))
                .subquery("in_band")
            )
            queries.append(
                (
                    "band_entered",
                    select(in_band.c.account_id, in_band.c.part)
                    .join(Account, Account.id == in_band.c.account_id)
                    .where(_customer_on(today)),
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
                        _customer_on(today),
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
    if not candidates:
        return {}

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
    for chunk in _chunks(new_assignments):
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
    for chunk in _chunks(rows):
        # An episode already enrolled (and since exited) keeps its key: it does not re-enrol.
        result = session.execute(
            insert_ignore(conn, E.__table__).returning(E.__table__.c.variant), list(chunk)
        )
        for (variant,) in result:
            counts[variant] += 1
    return dict(counts)


# --- steps -----------------------------------------------------------------------------------


@dataclass
class StepOutcome:
    """What one run of steps did."""

    steps: int = 0
    emails_queued: int = 0
    emails_throttled: int = 0
    emails_opted_out: int = 0
    messages: int = 0
    skipped: int = 0
    completed: int = 0
    paused_programs: list[str] = field(default_factory=list)


def _account_context(session: Session, account_ids: Sequence[int], today: date) -> dict[int, Any]:
    # Each account's latest snapshot by one probe of the unique (account_id, as_of) index, newest
    # first: a chunk costs its own accounts, never a pass over everyone's history (with stale
    # statistics a chunk-filtered window ran as a scan of the whole (as_of, band) index).
    older = aliased(HealthSnapshot)
    latest_id = (
        select(older.id)
        .where(older.account_id == Account.id, older.as_of <= today)
        .order_by(older.as_of.desc())
        .limit(1)
        .scalar_subquery()
    )
    snap = HealthSnapshot
    ctx: dict[int, Any] = {}
    for chunk in _chunks(list(account_ids)):
        rows = session.execute(
            select(Account, snap.score, snap.band, snap.as_of)
            .outerjoin(snap, snap.id == latest_id)
            .where(Account.id.in_(chunk))
        )
        for account, score, band, as_of in rows:
            ctx[account.id] = (
                {
                    "id": account.id,
                    "name": account.name,
                    "external_id": account.external_id,
                    "segment": account.segment,
                    "plan": account.plan,
                    "arr": float(account.arr) if account.arr is not None else None,
                    "owner_email": account.owner_email,
                    "started_at": account.started_at.isoformat() if account.started_at else None,
                    "renewal_date": (
                        account.renewal_date.isoformat() if account.renewal_date else None
                    ),
                    "churned_at": account.churned_at.isoformat() if account.churned_at else None,
                },
                {
                    "score": round(score, 1) if score is not None else None,
                    "band": band,
                    "as_of": as_of.isoformat() if as_of else None,
                },
            )
    return ctx


def _contacts(session: Session, account_ids: Sequence[int]) -> dict[int, list[Any]]:
    by_account: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(list(account_ids)):
        # The last queued email of this chunk's contacts only, not of every contact per chunk.
        last_email = (
            select(ProgramEmail.contact_id, func.max(ProgramEmail.created_at).label("last_at"))
            .where(
                ProgramEmail.status == "queued",
                ProgramEmail.contact_id.in_(
                    select(Contact.id).where(Contact.account_id.in_(chunk))
                ),
            )
            .group_by(ProgramEmail.contact_id)
            .subquery()
        )
        rows = session.execute(
            select(
                Contact.id,
                Contact.account_id,
                Contact.email,
                Contact.name,
                Contact.role,
                or_(Contact.email_opt_out.is_(True), Contact.unsubscribed_at.is_not(None)).label(
                    "opted_out"
                ),
                last_email.c.last_at,
            )
            .outerjoin(last_email, last_email.c.contact_id == Contact.id)
            .where(Contact.account_id.in_(chunk))
            .order_by(Contact.account_id, Contact.id)
        )
        for row in rows:
            by_account[row.account_id].append(row)
    return by_account


def _crm_ids(session: Session, account_ids: Sequence[int], provider: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in _chunks(list(account_ids)):
        found.update(
            session.execute(
                select(AccountSource.account_id, AccountSource.source_id).where(
                    AccountSource.source == provider, AccountSource.account_id.in_(chunk)
                )
            ).all()
        )
    return found


def unsubscribe_url(base_url: str, program: str, contact_id: int) -> str:
    """Where an email's unsubscribe link points (served by the web pages)."""
    return f"{base_url.rstrip('/')}/unsubscribe?program={program}&contact={contact_id}"


def _run_step(
    session: Session,
    book: Playbook,
    variant: str,
    step_index: int,
    enrolments: Sequence[Any],
    *,
    settings: ProgramSettings,
    base_url: str,
    now: datetime,
    sent_in_run: set[int],
    out: StepOutcome,
) -> None:
    """Run step ``step_index`` for a batch of enrolments of one arm; records everything."""
    arm_steps = book.steps_for(variant if variant != HOLDOUT else book.arms()[0][0])
    step = arm_steps[step_index]
    render_variant = variant if variant != HOLDOUT else book.arms()[0][0]
    account_ids = [e.account_id for e in enrolments]
    ctx = _account_context(session, account_ids, now.date())
    messages: list[dict[str, Any]] = []
    step_rows: list[dict[str, Any]] = []
    email_rows: list[dict[str, Any]] = []

    def base(e: Any) -> dict[str, Any]:
        account, health = ctx[e.account_id]
        return template_context(account=account, health=health, program=book.spec, variant=variant)

    def render(field_name: str, context: dict[str, Any]) -> str:
        return book.render(render_variant, step_index, field_name, context)

    if variant == HOLDOUT:
        # The holdout keeps the same clock as the treated arms, but nothing is sent.
        for e in enrolments:
            step_rows.append(_step_row(e, step_index, step, "holdout", {"sent": 0}, now))
    elif step.kind == "email":
        contacts = _contacts(session, account_ids)
        candidates = [
            EmailCandidate(
                key=(e.id, step_index, c.id),
                contact_id=c.id,
                opted_out=bool(c.opted_out),
                last_program_email_at=c.last_at,
            )
            for e in enrolments
            for c in contacts.get(e.account_id, [])
        ]
        decisions = throttle(
            candidates, now=now, min_gap_days=settings.throttle_days, sent_in_run=sent_in_run
        )
        for e in enrolments:
            tally: dict[str, int] = defaultdict(int)
            for c in contacts.get(e.account_id, []):
                status = decisions[(e.id, step_index, c.id)]
                tally[status] += 1
                key = f"program:{book.id}:{e.id}:{step_index}:{c.id}"
                email_rows.append(
                    {
                        "program": book.id,
                        "enrolment_id": e.id,
                        "step_index": step_index,
                        "contact_id": c.id,
                        "status": status,
                        "outbox_key": key if status == "queued" else None,
                        "created_at": now,
                    }
                )
                if status != "queued":
                    continue
                context = base(e) | {}
                context["contact"] = {"name": c.name, "email": c.email, "role": c.role}
                context["unsubscribe_url"] = unsubscribe_url(base_url, book.id, c.id)
                messages.append(
                    {
                        "key": key,
                        "channel": "email",
                        "account_id": e.account_id,
                        "payload": {
                            "kind": "campaign",
                            "program": book.id,
                            "variant": variant,
                            "step": step.id,
                            "contact_id": c.id,
                            "to": c.email,
                            "to_name": c.name,
                            "subject": render("subject", context).strip(),
                            "text": render("body", context),
                            "categories": [f"program:{book.id}", f"variant:{variant}"],
                        },
                    }
                )
            out.emails_queued += tally["queued"]
            out.emails_throttled += tally["throttled"]
            out.emails_opted_out += tally["opted_out"]
            status = "done" if tally["queued"] else "skipped"
            if status == "skipped":
                out.skipped += 1
            step_rows.append(_step_row(e, step_index, step, status, dict(tally), now))
    elif step.kind == "call_script":
        for e in enrolments:
            account, _health = ctx[e.account_id]
            owner = account["owner_email"]
            if not owner:
                out.skipped += 1
                step_rows.append(
                    _step_row(e, step_index, step, "skipped", {"reason": "no owner"}, now)
                )
                continue
            context = base(e)
            key = f"program:{book.id}:{e.id}:{step_index}"
            messages.append(
                {
                    "key": key,
                    "channel": "email",
                    "account_id": e.account_id,
                    "payload": {
                        # Internal mail to our own owner: not a campaign, not throttled.
                        "kind": "internal",
                        "program": book.id,
                        "step": step.id,
                        "to": owner,
                        "subject": render("subject", context).strip(),
                        "text": render("body", context),
                    },
                }
            )
            step_rows.append(_step_row(e, step_index, step, "done", {"outbox_key": key}, now))
    elif step.kind == "crm_task":
        crm_ids = _crm_ids(session, account_ids, step.provider)
        for e in enrolments:
            account, _health = ctx[e.account_id]
            if e.account_id not in crm_ids:
                out.skipped += 1
                step_rows.append(
                    _step_row(
                        e, step_index, step, "skipped", {"reason": f"no {step.provider} id"}, now
                    )
                )
                continue
            context = base(e)
            key = f"program:{book.id}:{e.id}:{step_index}"
            messages.append(
                {
                    "key": key,
                    "channel": "crm_task",
                    "account_id": e.account_id,
                    "payload": {
                        "provider": step.provider,
                        "account_source_id": crm_ids[e.account_id],
                        "subject": render("subject", context).strip(),
                        "body": render("body", context),
                        "due_date": (now.date() + timedelta(days=step.due_in_days)).isoformat(),
                        "owner_email": account["owner_email"],
                        "pause_scope": pause_scope(book.id),
                    },
                }
            )
            step_rows.append(_step_row(e, step_index, step, "done", {"outbox_key": key}, now))
    else:  # slack
        for e in enrolments:
            context = base(e)
            key = f"program:{book.id}:{e.id}:{step_index}"
            payload: dict[str, Any] = {
                "title": render("title", context).strip(),
                "summary": render("body", context).strip() or None,
                "pause_scope": pause_scope(book.id),
            }
            if step.channel:
                payload["channel"] = step.channel
            messages.append(
                {"key": key, "channel": "slack", "account_id": e.account_id, "payload": payload}
            )
            step_rows.append(_step_row(e, step_index, step, "done", {"outbox_key": key}, now))

    out.messages += enqueue_many(session, messages, now=now)
    conn = session.connection()
    for chunk in _chunks(email_rows):
        session.execute(insert_ignore(conn, ProgramEmail.__table__), list(chunk))
    for chunk in _chunks(step_rows):
        session.execute(insert_ignore(conn, ProgramStepRun.__table__), list(chunk))
    out.steps += len(step_rows)

    ids = [e.id for e in enrolments]
    last = step_index + 1 >= len(arm_steps)
    values: dict[str, Any] = {"next_step": step_index + 1}
    if last:
        values |= {"status": "completed", "ended_at": now}
        out.completed += len(ids)
    for chunk in _chunks(ids):
        session.execute(
            update(ProgramEnrolment)
            .where(ProgramEnrolment.id.in_(chunk), ProgramEnrolment.next_step == step_index)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _step_row(
    e: Any, index: int, step: Any, status: str, detail: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "enrolment_id": e.id,
        "step_index": index,
        "step_id": step.id,
        "kind": step.kind,
        "status": status,
        "ran_at": now,
        "detail": detail,
    }


def run_due_steps(
    session: Session,
    books: Sequence[Playbook],
    *,
    settings: ProgramSettings,
    base_url: str,
    now: datetime,
) -> StepOutcome:
    """Run every step that is due (``delay_days`` after enrolment), program by program.

    A paused program (``campaigns``, ``automation`` or its own ``campaign:<id>``) runs nothing
    and keeps its place: the steps run when it is resumed. Throttling is shared by all programs
    in the run, in playbook order.
    """
    out = StepOutcome()
    sent_in_run: set[int] = set()
    E = ProgramEnrolment
    for book in books:
        if not book.spec.enabled:
            continue
        if is_paused(session, "campaigns", pause_scope(book.id)) is not None:
            out.paused_programs.append(book.id)
            continue
        arms = [name for name, _ in book.arms()] + [HOLDOUT]
        for variant in arms:
            steps = book.steps_for(variant if variant != HOLDOUT else book.arms()[0][0])
            for index, step in enumerate(steps):
                due = session.execute(
                    select(E.id, E.account_id)
                    .where(
                        E.program == book.id,
                        E.variant == variant,
                        E.status == "active",
                        E.next_step == index,
                        E.enrolled_at <= now - timedelta(days=step.delay_days),
                    )
                    .order_by(E.id)
                ).all()
                if due:
                    _run_step(
                        session,
                        book,
                        variant,
                        index,
                        due,
                        settings=settings,
                        base_url=base_url,
                        now=now,
                        sent_in_run=sent_in_run,
                        out=out,
                    )
    return out


# --- feedback and auto-pause -----------------------------------------------------------------


def record_campaign_feedback(
    session: Session,
    *,
    program: str,
    contact_id: int,
    kind: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a reaction to a program email. Unsubscribes and spam complaints opt the contact
    out of all program email at once (the dispatcher checks it again at send time)."""
    if kind not in FEEDBACK_KINDS:
        raise ValueError(f"unknown feedback kind {kind!r}; expected one of {FEEDBACK_KINDS}")
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise ValueError(f"no contact with id {contact_id}")
    session.execute(
        insert(CampaignFeedback).values(
            program=program,
            account_id=contact.account_id,
            contact_id=contact_id,
            kind=kind,
            occurred_at=now,
            detail=detail,
        )
    )
    if kind in ("unsubscribe", "spam_complaint") and contact.unsubscribed_at is None:
        contact.unsubscribed_at = now
        contact.updated_at = now
    session.flush()


@dataclass(frozen=True)
class FeedbackRate:
    """Negative feedback of one program over the rolling window."""

    program: str
    sent: int
    negative: int
    window_days: int

    @property
    def pct(self) -> float | None:
        """Negative share in percent (None when nothing was sent)."""
        return negative_feedback_pct(self.negative, self.sent)


def feedback_rate(
    session: Session, program: str, *, window_days: int, now: datetime
) -> FeedbackRate:
    """Emails queued and negative reactions (unsubscribes, spam complaints, negative replies,
    detractor answers from contacts the program emailed before they answered) in the window."""
    since = now - timedelta(days=window_days)
    sent = session.scalar(
        select(func.count())
        .select_from(ProgramEmail)
        .where(
            ProgramEmail.program == program,
            ProgramEmail.status == "queued",
            ProgramEmail.created_at > since,
            ProgramEmail.created_at <= now,
        )
    )
    events = session.scalar(
        select(func.count())
        .select_from(CampaignFeedback)
        .where(
            CampaignFeedback.program == program,
            CampaignFeedback.kind.in_(NEGATIVE_KINDS),
            CampaignFeedback.occurred_at > since,
            CampaignFeedback.occurred_at <= now,
        )
    )
    detractors = session.scalar(
        select(func.count())
        .select_from(NpsResponse)
        .where(
            NpsResponse.score <= 6,
            NpsResponse.responded_at > since,
            NpsResponse.responded_at <= now,
            exists().where(
                ProgramEmail.contact_id == NpsResponse.contact_id,
                ProgramEmail.program == program,
                ProgramEmail.status == "queued",
                ProgramEmail.created_at > since,
                ProgramEmail.created_at <= NpsResponse.responded_at,
            ),
        )
    )
    return FeedbackRate(
        program, int(sent or 0), int(events or 0) + int(detractors or 0), window_days
    )


def check_auto_pause(
    session: Session,
    books: Sequence[Playbook],
    *,
    settings: ProgramSettings,
    threshold_pct: float,
    now: datetime,
) -> list[dict[str, Any]]:
    """Pause each program whose negative feedback is above the threshold; returns the pauses.

    The pause is a flag (``campaign:<id>``) with the reason in the audit log, and the team hears
    about it in Slack through the outbox.
    """
    paused = []
    for book in books:
        rate = feedback_rate(session, book.id, window_days=settings.auto_pause.window_days, now=now)
        if not should_auto_pause(
            rate.negative,
            rate.sent,
            threshold_pct=threshold_pct,
            min_sent=settings.auto_pause.min_emails,
        ):
            continue
        reason = (
            f"negative feedback {rate.pct:.1f} % ({rate.negative} of {rate.sent} emails in "
            f"{rate.window_days} days) is above {threshold_pct:g} % "
            "(thresholds.yaml rollback.campaign_negative_feedback_pct)"
        )
        scope = pause_scope(book.id)
        if not set_paused(session, scope, paused=True, reason=reason, actor="auto-pause", now=now):
            continue
        enqueue_many(
            session,
            [
                {
                    "key": f"auto-pause:{book.id}:{now.isoformat()}",
                    "channel": "slack",
                    "payload": {
                        "title": f"Campaign paused: {book.spec.name}",
                        "summary": reason
                        + ". Review the feedback, then `successcrew programs resume "
                        + f"{book.id} --reason ...`.",
                        "fields": {
                            "program": book.id,
                            "negative": rate.negative,
                            "sent": rate.sent,
                        },
                    },
                }
            ],
            now=now,
        )
        paused.append({"program": book.id, "scope": scope, "reason": reason})
    return paused


# --- evaluation ------------------------------------------------------------------------------


@dataclass
class ProgramEvaluation:
    """A program's A/B results: one comparison per variant against the holdout."""

    program: str
    outcome: str
    outcome_days: int
    arms: dict[str, Arm]
    comparisons: list[Comparison]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "program": self.program,
            "outcome": self.outcome,
            "outcome_days": self.outcome_days,
            "arms": {name: asdict(arm) | {"rate": arm.rate} for name, arm in self.arms.items()},
            "comparisons": [c.as_dict() for c in self.comparisons],
        }


def evaluate(session: Session, book: Playbook, *, now: datetime) -> ProgramEvaluation:
    """Outcome counts per arm over matured enrolments (at least ``outcome.days`` old)."""
    E = ProgramEnrolment
    days = book.spec.outcome.days
    rows = session.execute(
        select(E.account_id, E.variant, E.enrolled_at, Account.churned_at)
        .join(Account, Account.id == E.account_id)
        .where(E.program == book.id, E.enrolled_at <= now - timedelta(days=days))
    ).all()
    success: list[tuple[str, bool]] = []
    if book.spec.outcome.kind == "retained":
        for _account, variant, enrolled_at, churned_at in rows:
            horizon = enrolled_at.date() + timedelta(days=days)
            success.append((variant, churned_at is None or churned_at > horizon))
    elif rows:
        # Healthy snapshots of these accounts over the span the outcome windows cover.
        first = min(r.enrolled_at for r in rows).date()
        last = max(r.enrolled_at for r in rows).date() + timedelta(days=days)
        healthy: dict[int, list[date]] = defaultdict(list)
        ids = sorted({r.account_id for r in rows})
        for chunk in _chunks(ids):
            for account_id, as_of in session.execute(
                select(HealthSnapshot.account_id, HealthSnapshot.as_of).where(
                    HealthSnapshot.account_id.in_(chunk),
                    HealthSnapshot.band == "healthy",
                    HealthSnapshot.as_of >= first,
                    HealthSnapshot.as_of <= last,
                )
            ):
                healthy[account_id].append(as_of)
        for account_id, variant, enrolled_at, _churned in rows:
            start = enrolled_at.date()
            end = start + timedelta(days=days)
            success.append((variant, any(start <= d <= end for d in healthy[account_id])))
    counts: dict[str, list[int]] = {name: [0, 0] for name, _ in book.arms()}
    counts.setdefault(HOLDOUT, [0, 0])
    for variant, ok in success:
        pair = counts.setdefault(variant, [0, 0])
        pair[0] += 1
        pair[1] += int(ok)
    arms = {name: Arm(name, n, x) for name, (n, x) in counts.items()}
    comparisons = [
        compare(arm, arms[HOLDOUT], min_sample=book.spec.min_sample)
        for name, arm in arms.items()
        if name != HOLDOUT
    ]
    return ProgramEvaluation(
        program=book.id,
        outcome=book.spec.outcome.kind,
        outcome_days=days,
        arms=arms,
        comparisons=comparisons,
    )


def enrolment_summary(session: Session) -> dict[str, dict[str, Any]]:
    """Enrolments by program, arm and status, and exits by reason (for ``programs``)."""
    E = ProgramEnrolment
    summary: dict[str, dict[str, Any]] = {}
    for program, variant, status, reason, n in session.execute(
        select(E.program, E.variant, E.status, E.exit_reason, func.count()).group_by(
            E.program, E.variant, E.status, E.exit_reason
        )
    ):
        entry = summary.setdefault(
            program, {"total": 0, "by_status": {}, "by_variant": {}, "exit_reasons": {}}
        )
        entry["total"] += n
        entry["by_status"][status] = entry["by_status"].get(status, 0) + n
        entry["by_variant"][variant] = entry["by_variant"].get(variant, 0) + n
        if reason:
            entry["exit_reasons"][reason] = entry["exit_reasons"].get(reason, 0) + n
    return summary


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


def run_programs(
    session: Session,
    books: Sequence[Playbook],
    *,
    settings: ProgramSettings,
    threshold_pct: float,
    base_url: str,
    now: datetime,
) -> ProgramRun:
    """Exits first (so a recovered account is not emailed), then enrolment, the auto-pause
    check, and the due steps. Idempotent for a given ``now``: a second run does nothing new."""
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
    run.steps = run_due_steps(session, books, settings=settings, base_url=base_url, now=now)
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
            },
        )
    return run
