"""What retention programs achieved: campaign feedback (replies, unsubscribes, spam complaints),
the negative-feedback rate and the auto-pause it triggers, A/B results against the holdout, and
the enrolment summary."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, insert, select, union_all, update
from sqlalchemy.orm import Session

from successcrew import numbers
from successcrew.definitions.playbooks import (
    Playbook,
    ProgramSettings,
)
from successcrew.domain.abtest import Arm, Comparison, compare, treatment_reached
from successcrew.domain.program_rules import (
    AUTO_PAUSE,
    HOLDOUT,
    negative_feedback_pct,
    pause_scope,
    should_auto_pause,
)
from successcrew.store.models import (
    Account,
    CampaignFeedback,
    Contact,
    HealthSnapshot,
    NpsResponse,
    OutboxMessage,
    ProgramEmail,
    ProgramEnrolment,
    ProgramStepRun,
)
from successcrew.store.outbox import enqueue_many
from successcrew.store.pauses import hold
from successcrew.store.program_queries import chunks

NEGATIVE_KINDS = ("negative_reply", "unsubscribe", "spam_complaint")


FEEDBACK_KINDS = ("reply", *NEGATIVE_KINDS)


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
    if session.get(Contact, contact_id) is None:
        raise ValueError(f"no contact with id {contact_id}")
    record_campaign_feedback_many(
        session,
        [{"program": program, "contact_id": contact_id, "kind": kind, "detail": detail}],
        now=now,
    )


def record_campaign_feedback_many(
    session: Session, reactions: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """Record many reactions (``program``, ``contact_id``, ``kind``, optional ``occurred_at``
    and ``detail``) in three statements, as a webhook batch brings them; reactions of unknown
    contacts are dropped. Unsubscribes and spam complaints opt the contacts out. Returns how
    many were recorded."""
    if not reactions:
        return 0
    for r in reactions:
        if r["kind"] not in FEEDBACK_KINDS:
            raise ValueError(
                f"unknown feedback kind {r['kind']!r}; expected one of {FEEDBACK_KINDS}"
            )
    ids = sorted({int(r["contact_id"]) for r in reactions})
    accounts = dict(
        session.execute(select(Contact.id, Contact.account_id).where(Contact.id.in_(ids))).all()
    )
    rows = [
        {
            "program": r["program"],
            "account_id": accounts[int(r["contact_id"])],
            "contact_id": int(r["contact_id"]),
            "kind": r["kind"],
            "occurred_at": r.get("occurred_at") or now,
            "detail": r.get("detail"),
        }
        for r in reactions
        if int(r["contact_id"]) in accounts
    ]
    if rows:
        session.execute(insert(CampaignFeedback), rows)
    leaving = sorted(
        {r["contact_id"] for r in rows if r["kind"] in ("unsubscribe", "spam_complaint")}
    )
    if leaving:
        session.execute(
            update(Contact)
            .where(Contact.id.in_(leaving), Contact.unsubscribed_at.is_(None))
            .values(unsubscribed_at=now, updated_at=now)
            .execution_options(synchronize_session="fetch")
        )
    session.flush()
    return len(rows)


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
            f"negative feedback {numbers.percent(rate.pct)} ({rate.negative:,} of {rate.sent:,} "
            f"emails in "
            f"{rate.window_days} days) is above {threshold_pct:g} % "
            "(thresholds.yaml rollback.campaign_negative_feedback_pct)"
        )
        scope = pause_scope(book.id)
        if not hold(session, scope, by=AUTO_PAUSE, kind="rule", reason=reason, now=now):
            continue
        enqueue_many(
            session,
            [
                {
                    "key": f"auto-pause:{book.id}:{now.isoformat()}",
                    "channel": "slack",
                    "payload": {
                        "title": (
                            f"Campaign paused: {book.spec.name}, negative feedback "
                            f"{numbers.percent(rate.pct)}"
                        ),
                        "summary": reason
                        + ". Review the feedback, then `successcrew programs resume "
                        + f"{book.id} --rule {AUTO_PAUSE} --reason ...`.",
                        "fields": {
                            "Program": book.id,
                            "Negative": numbers.count(rate.negative),
                            "Sent": numbers.count(rate.sent),
                        },
                    },
                }
            ],
            now=now,
        )
        paused.append({"program": book.id, "scope": scope, "reason": reason})
    return paused


@dataclass
class ProgramEvaluation:
    """A program's A/B results: one comparison per variant against the holdout, counting only
    the enrolments the program reached, and what became of the rest."""

    program: str
    outcome: str
    outcome_days: int
    arms: dict[str, Arm]
    comparisons: list[Comparison]
    #: Treated-arm enrolments so far (matured or not): enrolled, reached, never reached.
    enrolled: int = 0
    reached: int = 0
    #: Reached enrolments that exited because the account recovered to Healthy.
    recovered_after_treatment: int = 0
    #: The program's outbox messages by state (delivered, held, waiting, dead) and the most
    #: common reason messages are held, which says why enrolments were not reached.
    messages: dict[str, int] = field(default_factory=dict)
    held_reason: str | None = None

    @property
    def not_reached(self) -> int:
        """Treated-arm enrolments none of whose messages has reached a provider."""
        return self.enrolled - self.reached

    @property
    def treatment_delivered(self) -> bool:
        """False when the program enrolled accounts but delivered nothing to any of them."""
        return self.reached > 0 or self.enrolled == 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "program": self.program,
            "outcome": self.outcome,
            "outcome_days": self.outcome_days,
            "treatment_delivered": self.treatment_delivered,
            "enrolled": self.enrolled,
            "reached": self.reached,
            "not_reached": self.not_reached,
            "recovered_after_treatment": self.recovered_after_treatment,
            "messages": self.messages,
            "held_reason": self.held_reason,
            "arms": {name: asdict(arm) | {"rate": arm.rate} for name, arm in self.arms.items()},
            "comparisons": [c.as_dict() for c in self.comparisons],
        }


def _first_delivery(now: datetime) -> tuple[Any, Any]:
    """Correlated subqueries: when the enrolment's first program e-mail, and its first other
    step message (call script, CRM task, Slack), was delivered by ``now`` (NULL when never)."""
    E, Out = ProgramEnrolment, OutboxMessage
    delivered = (Out.status == "delivered", Out.delivered_at <= now)
    by_email = (
        select(func.min(Out.delivered_at))
        .select_from(ProgramEmail)
        .join(Out, Out.idempotency_key == ProgramEmail.outbox_key)
        .where(ProgramEmail.enrolment_id == E.id, *delivered)
        .correlate(E)
        .scalar_subquery()
    )
    by_step = (
        select(func.min(Out.delivered_at))
        .select_from(ProgramStepRun)
        .join(Out, Out.idempotency_key == ProgramStepRun.detail["outbox_key"].as_string())
        .where(ProgramStepRun.enrolment_id == E.id, *delivered)
        .correlate(E)
        .scalar_subquery()
    )
    return by_email, by_step


def _message_states(
    session: Session, program: str, now: datetime
) -> tuple[dict[str, int], str | None]:
    """The program's outbox messages by state, and the most common reason for a held one."""
    E, Out = ProgramEnrolment, OutboxMessage
    keys = union_all(
        select(ProgramEmail.outbox_key.label("key")).where(
            ProgramEmail.program == program, ProgramEmail.outbox_key.is_not(None)
        ),
        select(ProgramStepRun.detail["outbox_key"].as_string().label("key"))
        .join(E, E.id == ProgramStepRun.enrolment_id)
        .where(E.program == program),
    ).subquery()
    reason = case((Out.status == "held", Out.last_error), else_=None)
    states: dict[str, int] = {"delivered": 0, "held": 0, "waiting": 0, "dead": 0}
    held: Counter[str] = Counter()
    for status, why, n in session.execute(
        select(Out.status, reason, func.count())
        .join(keys, keys.c.key == Out.idempotency_key)
        .where(Out.created_at <= now)
        .group_by(Out.status, reason)
    ):
        # pending and sending are on their way: neither delivered nor given up.
        name = status if status in states else "waiting"
        states[name] += n
        if status == "held" and why:
            held[why] += n
    return states, (held.most_common(1)[0][0] if held else None)


def evaluate(session: Session, book: Playbook, *, now: datetime) -> ProgramEvaluation:
    """Outcome counts per arm over matured enrolments (at least ``outcome.days`` old).

    A treated arm counts only the enrolments the program reached (``treatment_reached``); the
    holdout, which is sent nothing by design, counts all of its matured enrolments.
    """
    E = ProgramEnrolment
    days = book.spec.outcome.days
    by_email, by_step = _first_delivery(now)
    rows = session.execute(
        select(
            E.account_id,
            E.variant,
            E.enrolled_at,
            E.exit_reason,
            Account.churned_at,
            by_email.label("first_email"),
            by_step.label("first_step"),
        )
        .join(Account, Account.id == E.account_id)
        .where(E.program == book.id, E.enrolled_at <= now)
    ).all()
    matured_before = now - timedelta(days=days)
    matured = []
    not_reached: Counter[str] = Counter()
    enrolled = reached = recovered = 0
    for r in rows:
        firsts = [t for t in (r.first_email, r.first_step) if t is not None]
        first = min(firsts) if firsts else None
        if r.variant != HOLDOUT:
            enrolled += 1
            reached += first is not None
            recovered += first is not None and r.exit_reason == "recovered"
        if r.enrolled_at > matured_before:
            continue
        if r.variant == HOLDOUT or treatment_reached(first, r.enrolled_at, days):
            matured.append(r)
        else:
            not_reached[r.variant] += 1
    success: list[tuple[str, bool]] = []
    if book.spec.outcome.kind == "retained":
        for r in matured:
            horizon = r.enrolled_at.date() + timedelta(days=days)
            success.append((r.variant, r.churned_at is None or r.churned_at > horizon))
    elif matured:
        # Healthy snapshots of these accounts over the span the outcome windows cover.
        first_day = min(r.enrolled_at for r in matured).date()
        last_day = max(r.enrolled_at for r in matured).date() + timedelta(days=days)
        healthy: dict[int, list[date]] = defaultdict(list)
        ids = sorted({r.account_id for r in matured})
        for chunk in chunks(ids):
            for account_id, as_of in session.execute(
                select(HealthSnapshot.account_id, HealthSnapshot.as_of).where(
                    HealthSnapshot.account_id.in_(chunk),
                    HealthSnapshot.band == "healthy",
                    HealthSnapshot.as_of >= first_day,
                    HealthSnapshot.as_of <= last_day,
                )
            ):
                healthy[account_id].append(as_of)
        for r in matured:
            start = r.enrolled_at.date()
            end = start + timedelta(days=days)
            success.append((r.variant, any(start <= d <= end for d in healthy[r.account_id])))
    counts: dict[str, list[int]] = {name: [0, 0] for name, _ in book.arms()}
    counts.setdefault(HOLDOUT, [0, 0])
    for variant in not_reached:
        counts.setdefault(variant, [0, 0])
    for variant, ok in success:
        pair = counts.setdefault(variant, [0, 0])
        pair[0] += 1
        pair[1] += int(ok)
    arms = {name: Arm(name, n, x, not_reached[name]) for name, (n, x) in counts.items()}
    comparisons = [
        compare(arm, arms[HOLDOUT], min_sample=book.spec.min_sample)
        for name, arm in arms.items()
        if name != HOLDOUT
    ]
    messages, held_reason = _message_states(session, book.id, now)
    return ProgramEvaluation(
        program=book.id,
        outcome=book.spec.outcome.kind,
        outcome_days=days,
        arms=arms,
        comparisons=comparisons,
        enrolled=enrolled,
        reached=reached,
        recovered_after_treatment=recovered,
        messages=messages,
        held_reason=held_reason,
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
